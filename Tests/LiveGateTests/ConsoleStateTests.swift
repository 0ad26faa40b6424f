import Foundation
import LiveGateCore
import LiveGateWebSocket
import Testing

@testable import LiveGate
@testable import LiveGateAlerts

/// What a console gets from the server rather than from what it happened to see: open alerts and
/// their history on join, who is connected (and who was refused), the SKU policies.
@Suite(.serialized)
struct ConsoleStateTests {
    static func event(_ sku: String, _ level: AlertLevel, from previous: AlertLevel, at seconds: Int64) -> AlertEvent {
        let metrics = SkuMetrics(
            skuIndex: 0, sku: sku, time: seconds * 1_000_000_000, level: level, sellable: 0, reserved: 0, sold: 0, canSell: 0,
            mayFreeUp: 0, mayFreeUpWithinSeconds: 0, recentRatePerMinute: 0, previousRatePerMinute: 0, ratePerMinute: 0,
            accelerationPerMinute: 0, timeToStockOutSeconds: nil, safetyLine: 0, suggestedRestockQuantity: 0)
        return AlertEvent(
            skuIndex: 0, sku: sku, level: level, previousLevel: previous, transition: level > previous ? .raised : .lowered,
            reason: .soldOut, time: seconds * 1_000_000_000, metrics: metrics, action: .none, substitute: nil, banner: .unchanged,
            danmaku: nil, hostHint: "")
    }

    static func alert(_ id: String, _ event: AlertEvent, rooms: [String] = ["r"]) -> RoomRegistry.BatchChanges.Alert {
        .init(id: id, event: event, name: event.sku.uppercased(), rooms: rooms)
    }

    @Test func theAlertLogKeepsOpenAlertsAndTheLastHundred() {
        let log = AlertLog(capacity: 100)
        log.record([Self.alert("a1", Self.event("a", .trend, from: .normal, at: 100))])
        log.record([Self.alert("a2", Self.event("a", .soldout, from: .trend, at: 160)), Self.alert("b1", Self.event("b", .threshold, from: .normal, at: 170))])
        var (open, recent) = log.contents(room: "r", skus: ["a", "b"])
        #expect(open.map(\.id) == ["a2", "b1"])
        // Open since the SKU left normal, not since its latest level.
        let openSince: Int64? = open.first?.openSince
        #expect(openSince == Int64(100_000))  // ms
        #expect(recent.map(\.id) == ["a1", "a2", "b1"])
        log.acknowledge(room: "r", id: "a2", by: "olly")
        log.record([Self.alert("b2", Self.event("b", .normal, from: .threshold, at: 200))])
        (open, recent) = log.contents(room: "r", skus: ["a", "b"])
        #expect(open.map(\.id) == ["a2"])
        #expect(open.first?.acknowledgedBy == "olly")
        #expect(recent.first { $0.id == "a2" }?.acknowledgedBy == "olly")
        // Bounded: the oldest go first.
        for index in 0..<250 {
            log.record([Self.alert("c\(index)", Self.event("c", index % 2 == 0 ? .trend : .normal, from: .normal, at: 300 + Int64(index)))])
        }
        (open, recent) = log.contents(room: "r", skus: ["a", "b", "c"])
        #expect(recent.count == 100)
        #expect(recent.first?.id == "c150")
        #expect(recent.last?.id == "c249")
        #expect(open.map(\.id) == ["a2"])  // c249 lowered c to normal
        #expect(log.contents(room: "other", skus: ["a"]).recent.isEmpty)
    }

    @Test func presenceIsPublishedAtMostOncePerInterval() {
        let presence = Presence(interval: 1000)
        guard case .now(let first) = presence.change(room: "r", role: .host, page: .host, by: 1, now: 5000) else {
            Issue.record("the first change is published at once")
            return
        }
        #expect(first.roles[Role.allCases.firstIndex(of: .host)!] == 1)
        #expect(first.pages[Int(PageKind.host.rawValue)] == 1)
        #expect(presence.change(room: "r", role: .viewer, page: .overlay, by: 1, now: 5300) == .after(700))
        #expect(presence.change(room: "r", role: .viewer, page: nil, by: 1, now: 5400) == .none)
        let refusal = Presence.Refusal(reason: "token expired", at: 42, subject: "obs", page: .overlay)
        #expect(presence.refused(room: "r", role: .viewer, refusal, now: 5500) == .none)
        let due = presence.takeScheduled(room: "r", now: 6000)
        #expect(due.roles[Role.allCases.firstIndex(of: .viewer)!] == 2)
        #expect(due.pages[Int(PageKind.overlay.rawValue)] == 1)
        #expect(due.refused[Role.allCases.firstIndex(of: .viewer)!] == refusal)
        #expect(presence.change(room: "r", role: .host, page: .host, by: -1, now: 6100) == .after(900))
        // Another room has its own clock; counts never go below zero.
        guard case .now(let other) = presence.change(room: "s", role: .host, page: nil, by: -1, now: 6100) else {
            Issue.record("another room's first change is published at once")
            return
        }
        #expect(other.roles.allSatisfy { $0 == 0 })
    }

    /// Reads messages until one of `type` arrives, skipping others.
    static func next(_ client: TestClient, _ type: String) -> [String: Any]? { client.read(type: type, limit: 40) }

    @Test func aLateConsoleGetsOpenAlertsAndHistory() throws {
        let room = try RoomFixture()
        let (early, _) = try room.join(.operator, sub: "olly")
        // Hold everything: sold out (an alert), then acknowledge it.
        early.sendJSON(["type": "hold", "id": "h", "sku": "hoodie", "qty": 10])
        #expect(Self.next(early, "result")?["ok"] as? Bool == true)
        let alert = try #require(Self.next(early, "alert"))
        #expect(alert["level"] as? String == "soldout")
        let id = try #require(alert["id"] as? String)
        early.sendJSON(["type": "ack", "id": "k", "alert": id])
        #expect(Self.next(early, "ack")?["by"] as? String == "olly")

        let late = try TestClient(port: room.port)
        #expect(late.upgrade(path: "/ws?token=\(room.token(.operator, sub: "late"))&page=console") == 101)
        #expect(late.readJSON()?["type"] as? String == "snapshot")
        let alerts = try #require(late.readJSON())
        #expect(alerts["type"] as? String == "alerts")
        let open = try #require(alerts["open"] as? [[String: Any]])
        #expect(open.count == 1)
        #expect(open.first?["sku"] as? String == "hoodie")
        #expect(open.first?["level"] as? String == "soldout")
        #expect(open.first?["id"] as? String == id)
        #expect(open.first?["ackedBy"] as? String == "olly")
        #expect((open.first?["openSince"] as? Int ?? 0) > 1_600_000_000_000)
        #expect((open.first?["why"] as? String)?.isEmpty == false)
        let recent = try #require(alerts["recent"] as? [[String: Any]])
        #expect(recent.last?["id"] as? String == id)
        #expect(recent.last?["level"] as? String == "soldout")
        #expect(late.readJSON()?["type"] as? String == "presence")
        let policies = try #require(late.readJSON())
        #expect(policies["type"] as? String == "policies")
        #expect((policies["skus"] as? [[String: Any]])?.map { $0["sku"] as? String } == ["hoodie", "cap"])
        #expect((policies["fields"] as? [[String: Any]])?.count == SkuPolicy.fields.count)

        // A restock lifts the level: the SKU's alert is no longer open; the history keeps both.
        early.sendJSON(["type": "release", "id": "r", "sku": "hoodie", "qty": 10])
        #expect(Self.next(early, "result")?["ok"] as? Bool == true)
        #expect(Self.next(early, "alert")?["previousLevel"] as? String == "soldout")
        let third = try TestClient(port: room.port)
        #expect(third.upgrade(path: "/ws?token=\(room.token(.operator))") == 101)
        _ = third.readJSON()
        let after = try #require(third.readJSON())
        #expect((after["open"] as? [[String: Any]])?.isEmpty == true)
        #expect((after["recent"] as? [[String: Any]])?.count == 2)

        // Other roles get no console messages.
        let (host, _) = try room.join(.host)
        host.sendJSON(["type": "ping", "id": "p"])
        #expect(host.readJSON()?["type"] as? String == "pong")
    }

    @Test func consolesSeeWhoIsConnectedAndWhoWasRefused() throws {
        let room = try RoomFixture()
        let (op, _) = try room.join(.operator)
        let host = try TestClient(port: room.port)
        #expect(host.upgrade(path: "/ws?token=\(room.token(.host))&page=host") == 101)
        var hostSeen = false
        #expect(Self.next(op, "presence")?["seq"] == nil)  // the one on join is not numbered
        for _ in 0..<10 {
            guard let presence = Self.next(op, "presence") else { break }
            #expect(presence["seq"] is Int)
            if (presence["roles"] as? [String: Int])?["host"] == 1 && (presence["pages"] as? [String: Int])?["host"] == 1 {
                hostSeen = true
                break
            }
        }
        #expect(hostSeen)
        // An expired overlay token: refused with 1008, and the console learns it (within the throttle).
        let expired = try TestClient(port: room.port)
        #expect(expired.upgrade(path: "/ws?token=\(room.token(.viewer, sub: "obs-overlay", expiresIn: -60))&page=overlay") == 101)
        let closeFrame = try #require(expired.readFrame())
        #expect(closeCode(closeFrame.payload) == 1008)
        var refusal: [String: Any]?
        for _ in 0..<10 {
            guard let presence = Self.next(op, "presence") else { break }
            if let first = (presence["refused"] as? [[String: Any]])?.first { refusal = first; break }
        }
        #expect(refusal?["role"] as? String == "viewer")
        #expect(refusal?["page"] as? String == "overlay")
        #expect(refusal?["sub"] as? String == "obs-overlay")
        #expect(refusal?["reason"] as? String == "token expired")
        // A forged token says nothing trustworthy about its room: not recorded.
        let forged = TokenAuthority(secret: "another-secret-0123456789").mint(
            TokenClaims(subject: "x", room: "demo", role: .host, expiresAt: Int64(Date().timeIntervalSince1970) - 60))
        let bad = try TestClient(port: room.port)
        #expect(bad.upgrade(path: "/ws?token=\(forged)") == 101)
        _ = bad.readFrame()
        host.sendFrame(.close, [0x03, 0xE8])
        var hostGone = false
        for _ in 0..<10 {
            guard let presence = Self.next(op, "presence") else { break }
            let refused = presence["refused"] as? [[String: Any]] ?? []
            #expect(!refused.contains { $0["role"] as? String == "host" })
            if (presence["roles"] as? [String: Int])?["host"] == 0 { hostGone = true; break }
        }
        #expect(hostGone)
    }

    @Test func policyChangesReachTheConsoles() throws {
        let room = try RoomFixture()
        let (op, _) = try room.join(.operator)
        #expect(Self.next(op, "policies")?["seq"] == nil)  // on join
        op.sendJSON(["type": "policy", "id": "p", "sku": "cap", "safetyMinimum": 7, "substitute": "hoodie"])
        let policies = try #require(Self.next(op, "policies"))
        let entry = try #require((policies["skus"] as? [[String: Any]])?.first)
        #expect(entry["sku"] as? String == "cap")
        #expect(entry["substitute"] as? String == "hoodie")
        #expect((entry["values"] as? [String: Any])?["safetyMinimum"] as? Int == 7)
        op.sendJSON(["type": "policy", "id": "q", "sku": "cap", "trendFactor": 1])
        let error = try #require(Self.next(op, "error"))
        #expect(error["field"] as? String == "trendFactor")
        // The series carries the operator's actions for the chart.
        op.sendJSON(["type": "restock", "id": "r", "sku": "cap", "qty": 25])
        var restocked: [String: Any]?
        while let result = Self.next(op, "result") {
            if result["id"] as? String == "r" { restocked = result; break }
        }
        #expect(restocked?["ok"] as? Bool == true)
        let http = try TestClient(port: room.port)
        http.send("GET /v1/rooms/demo/series?sku=cap&since=0&token=\(room.token(.operator, sub: "olly")) HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = try #require(http.readResponse())
        let body = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
        let actions = try #require(body["actions"] as? [[String: Any]])
        #expect(actions.map { $0["action"] as? String } == ["policy changed", "restock +25"])
        #expect(actions.last?["by"] as? String == "t")
    }

    @Test func theArchiveReadsBackWhatItWrote() throws {
        var series = Series(bucketSeconds: 10, capacity: 3)
        for time in [100, 110, 120, 130] { series.record(time: Int64(time), sellable: Int64(200 - time), sold: Int64(time), ratePerMin: time == 130 ? 2.25 : nil) }
        series.mark(time: 125, level: "threshold")
        series.act(time: 126, action: "restock +5", by: "olly \"the\" op")
        let log = AlertLog(capacity: 100)
        log.record([Self.alert("a1", Self.event("a", .soldout, from: .normal, at: 100))])
        log.acknowledge(room: "r", id: "a1", by: "olly")
        let bytes = ConsoleArchive.encode(series: ["a": series], alerts: log.archive().rooms, savedAt: 1)
        let (readSeries, readAlerts) = try ConsoleArchive.decode(Data(bytes))
        #expect(readSeries["a"]?.orderedPoints == series.orderedPoints)
        #expect(readSeries["a"]?.orderedPoints.map(\.time) == [110, 120, 130])
        #expect(readSeries["a"]?.markers == series.markers)
        #expect(readSeries["a"]?.actions == series.actions)
        let restored = AlertLog(capacity: 100)
        restored.restore(readAlerts)
        #expect(restored.contents(room: "r", skus: ["a"]).open == log.contents(room: "r", skus: ["a"]).open)
        #expect(restored.contents(room: "r", skus: ["a"]).recent.map(\.acknowledgedBy) == ["olly"])
        // Damage is refused with where, never trusted.
        #expect(throws: ConsoleArchive.FormatError.self) { try ConsoleArchive.decode(Data(#"{"version":1,"series":[{"sku":"a","bucketSec":10,"points":[[1,2]],"markers":[],"actions":[]}],"alerts":[]}"#.utf8)) }
        #expect(throws: ConsoleArchive.FormatError.self) { try ConsoleArchive.decode(Data(#"{"version":1,"series":[],"alerts":[{"room":"r","open":[],"recent":[{"id":"x","sku":"a","level":"soldout","openSince":1,"ackedBy":null,"fields":"\"a\":1}],\"b\":{"}]}]}"#.utf8)) }
    }

    @Test func chartsAndAlertHistorySurviveARestart() throws {
        let kept = NSTemporaryDirectory() + "livegate-console-archive-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: kept) }
        var alertId = ""
        do {
            let room = try RoomFixture { $0.dataDir = kept }
            let (op, _) = try room.join(.operator, sub: "olly")
            op.sendJSON(["type": "restock", "id": "r", "sku": "hoodie", "qty": 5])
            op.sendJSON(["type": "hold", "id": "h", "sku": "hoodie", "qty": 15])
            let alert = try #require(Self.next(op, "alert"))
            alertId = try #require(alert["id"] as? String)
            op.sendJSON(["type": "ack", "id": "k", "alert": alertId])
            #expect(Self.next(op, "ack") != nil)
        }
        let room = try RoomFixture { $0.dataDir = kept }
        let late = try TestClient(port: room.port)
        #expect(late.upgrade(path: "/ws?token=\(room.token(.operator))") == 101)
        _ = late.readJSON()
        let alerts = try #require(late.readJSON())
        let open = try #require(alerts["open"] as? [[String: Any]])
        #expect(open.first?["id"] as? String == alertId)
        #expect(open.first?["ackedBy"] as? String == "olly")
        #expect(open.first?["level"] as? String == "soldout")
        #expect((alerts["recent"] as? [[String: Any]])?.last?["id"] as? String == alertId)
        let http = try TestClient(port: room.port)
        http.send("GET /v1/rooms/demo/series?sku=hoodie&since=0&token=\(room.token(.operator)) HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = try #require(http.readResponse())
        let body = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
        #expect((body["actions"] as? [[String: Any]])?.map { $0["action"] as? String } == ["restock +5", "hold 15"])
        #expect((body["alerts"] as? [[String: Any]])?.first?["level"] as? String == "soldout")
        #expect(((body["points"] as? [[String: Any]])?.count ?? 0) >= 1)
    }

    @Test func aDamagedArchiveIsReportedAndIgnored() throws {
        let kept = NSTemporaryDirectory() + "livegate-console-damaged-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: kept) }
        try FileManager.default.createDirectory(atPath: kept, withIntermediateDirectories: true)
        try Data("{\"version\":1,\"series\":[{\"sku\":".utf8).write(to: URL(fileURLWithPath: kept + "/console.json"))
        let room = try RoomFixture { $0.dataDir = kept }
        let late = try TestClient(port: room.port)
        #expect(late.upgrade(path: "/ws?token=\(room.token(.operator))") == 101)
        #expect(late.readJSON()?["type"] as? String == "snapshot")
        let alerts = try #require(late.readJSON())
        #expect((alerts["recent"] as? [[String: Any]])?.isEmpty == true)
    }
}
