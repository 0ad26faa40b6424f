import Foundation
import LiveGateAlerts
import LiveGateCore
import LiveGateStock
import Testing

@testable import LiveGate

@Suite(.serialized)
struct AlertFlowTests {
    static func smallRoom() throws -> RoomFixture {
        try RoomFixture { configuration in
            var policy = SkuPolicy()
            policy.safetyMinimum = 5
            policy.emergencyLine = 1
            policy.restockLeadTime = 60 * 1_000_000_000
            policy.cooldown = 0
            policy.substitute = "cap"
            configuration.skus[0] = SkuSpec(id: "hoodie", name: "Hoodie", onHand: 10, substitute: "cap", policy: policy)
        }
    }

    @Test func aThresholdReachesEveryRoleInItsShapeAndARestockWithdrawsIt() throws {
        let room = try Self.smallRoom()
        let (op, _) = try room.join(.operator)
        let (host, _) = try room.join(.host)
        let (viewer, _) = try room.join(.viewer)
        let (connector, _) = try room.join(.connector, channel: "douyin")
        connector.sendJSON(["type": "order", "orderId": "A", "sku": "hoodie", "qty": 6, "state": "paid"])
        #expect(connector.read(type: "result")?["outcome"] as? String == "sold")

        let alert = try #require(op.read(type: "alert"))
        #expect(alert["sku"] as? String == "hoodie")
        #expect(["threshold", "emergency"].contains(alert["level"] as? String))
        #expect(alert["previousLevel"] as? String == "normal")
        #expect(alert["sellable"] as? Int == 4)
        #expect(alert["safetyLine"] as? Int ?? 0 >= 5)
        #expect(alert["suggestedAction"] != nil)

        // The rate goes to the room's staff (the host's stock message comes just before its hint).
        let hostStock = try #require(host.read(type: "stock"))
        #expect(hostStock["ratePerMin"] as? Double ?? 0 > 0 || hostStock["ratePerMin"] as? Int ?? 0 > 0)
        let hint = try #require(host.read(type: "hint"))
        #expect(hint["canSell"] as? Int == 4)
        #expect(!(hint["text"] as? String ?? "").isEmpty)

        // Stock messages carry the engine's level to viewers too, but not the rate.
        let stock = try #require(viewer.read(type: "stock"))
        #expect(["threshold", "emergency"].contains(stock["level"] as? String))
        #expect(stock["ratePerMin"] == nil)
        let banner = try #require(viewer.read(type: "banner"))
        #expect(banner["withdrawn"] as? Bool == false)
        let bannerText = try #require(banner["text"] as? String)
        #expect(bannerText.contains("4"))  // honest: the figure is the real one
        let injected = try #require(viewer.read(type: "danmaku"))
        #expect(injected["system"] as? Bool == true)

        // A viewer's stock question gets the templated answer with the live figure.
        viewer.sendJSON(["type": "danmaku", "text": "还有货吗"])
        var reply: [String: Any]?
        while let message = viewer.read(type: "danmaku") {
            if message["system"] as? Bool == true { reply = message; break }
        }
        let replyText = reply?["text"] as? String ?? ""
        #expect(replyText.contains("4"), "\(replyText)")

        // Sold out, then a restock lifts it and withdraws the banner.
        connector.sendJSON(["type": "order", "orderId": "B", "sku": "hoodie", "qty": 4, "state": "paid"])
        #expect(connector.read(type: "result")?["outcome"] as? String == "sold")
        var soldOut: [String: Any]?
        while let message = op.read(type: "alert") {
            if message["level"] as? String == "soldout" { soldOut = message; break }
        }
        #expect(soldOut?["substitute"] as? String == "cap")
        op.sendJSON(["type": "restock", "id": "r", "sku": "hoodie", "qty": 50])
        var lifted: [String: Any]?
        while let message = op.readJSON() {
            if message["type"] as? String == "alert", message["level"] as? String != "soldout" { lifted = message; break }
        }
        #expect(lifted?["previousLevel"] as? String == "soldout")
        var withdrawn = false
        while let message = viewer.read(type: "banner") {
            if message["withdrawn"] as? Bool == true { withdrawn = true; break }
        }
        #expect(withdrawn)
    }

    /// A room whose hoodie raises a trend alert on a few dozen sales in a second (unless launched): no warm-up,
    /// so the surge test scores from the first ten units.
    static func trendyRoom() throws -> RoomFixture {
        try RoomFixture { configuration in
            configuration.alerts.trendWarmUp = 0
            var policy = SkuPolicy()
            policy.safetyMinimum = 0
            policy.emergencyLine = 0
            policy.trendMinimumVolume = 2
            policy.restockLeadTime = 1_000_000_000
            policy.cooldown = 0
            configuration.skus[0] = SkuSpec(id: "hoodie", name: "Hoodie", onHand: 1000, policy: policy)
        }
    }

    /// Sells `count` hoodies one by one and reports whether a trend alert reached the operator.
    static func spikeRaisesTrend(_ room: RoomFixture, op: TestClient, connector: TestClient, count: Int) -> Bool {
        for index in 0..<count {
            connector.sendJSON(["type": "order", "orderId": "S\(index)", "sku": "hoodie", "qty": 1, "state": "paid"])
            _ = connector.read(type: "result")
        }
        op.sendJSON(["type": "ping", "id": "end"])
        var trend = false
        while let message = op.readJSON() {
            if message["type"] as? String == "alert", message["level"] as? String == "trend" { trend = true }
            if message["type"] as? String == "pong" { break }
        }
        return trend
    }

    @Test func withoutALaunchTheSameSpikeRaisesATrendAlert() throws {
        let room = try Self.trendyRoom()
        let (op, _) = try room.join(.operator)
        let (connector, _) = try room.join(.connector, channel: "taobao")
        #expect(Self.spikeRaisesTrend(room, op: op, connector: connector, count: 40))
    }

    @Test func launchCountsDownAndOpensSalesAtZeroWithoutATrendAlert() throws {
        let room = try Self.trendyRoom()
        let (op, _) = try room.join(.operator)
        let (viewer, _) = try room.join(.viewer)
        let (connector, _) = try room.join(.connector, channel: "taobao")
        op.sendJSON(["type": "launch", "id": "l0", "sku": "hoodie", "countdown": 1])
        #expect(op.read(type: "error")?["field"] as? String == "sku")  // not paused
        op.sendJSON(["type": "pause", "id": "p", "sku": "hoodie"])
        #expect(op.read(type: "result")?["ok"] as? Bool == true)
        connector.sendJSON(["type": "order", "orderId": "early", "sku": "hoodie", "qty": 1, "state": "placed"])
        #expect(connector.read(type: "result")?["outcome"] as? String == "paused")
        op.sendJSON(["type": "launch", "id": "l1", "sku": "hoodie", "countdown": 2])
        var countdown: [Int] = []
        while countdown.last != 0, let message = viewer.read(type: "launch") {
            countdown.append(message["in"] as? Int ?? -1)
        }
        #expect(countdown == [2, 1, 0])
        var launched: [String: Any]?
        while let message = op.readJSON() {
            if message["type"] as? String == "result", message["id"] as? String == "l1" { launched = message; break }
        }
        #expect(launched?["ok"] as? Bool == true)
        // The same spike as in the test above, right after the launch: no trend alert.
        #expect(!Self.spikeRaisesTrend(room, op: op, connector: connector, count: 40))
    }

    /// Commands from one connection apply in the order sent, without waiting for each result:
    /// a `launch` right behind its `pause`, two `policy` changes back to back (the second used
    /// to start from the policy before the first and undo it).
    @Test func commandsFromOneConnectionApplyInTheOrderSent() throws {
        let room = try Self.smallRoom()
        let (op, _) = try room.join(.operator)
        op.sendJSON(["type": "pause", "id": "p", "sku": "hoodie"])
        op.sendJSON(["type": "launch", "id": "l", "sku": "hoodie", "countdown": 0])
        op.sendJSON(["type": "policy", "id": "a", "sku": "hoodie", "safetyMinimum": 7])
        op.sendJSON(["type": "policy", "id": "b", "sku": "hoodie", "watchMark": 3])
        op.sendJSON(["type": "ping", "id": "last"])
        var results: [String: [String: Any]] = [:]
        var order: [String] = []
        while let message = op.readJSON() {
            let type = message["type"] as? String
            if type == "result" || type == "error" || type == "pong", let id = message["id"] as? String {
                results[id] = message
                order.append(id)
            }
            if results.count == 5 { break }
        }
        #expect(results["p"]?["ok"] as? Bool == true)
        #expect(results["l"]?["ok"] as? Bool == true, "\(results["l"] ?? [:])")
        #expect(results["a"]?["ok"] as? Bool == true && results["b"]?["ok"] as? Bool == true)
        let policy = room.gateway.rooms.registry.policy(of: "hoodie")
        #expect(policy?.safetyMinimum == 7 && policy?.watchMark == 3)
        // Answers come back in the order the commands were sent.
        #expect(order.firstIndex(of: "a")! < order.firstIndex(of: "b")!)
        #expect(order.firstIndex(of: "b")! < order.firstIndex(of: "last")!)
    }

    @Test func switchToTheSubstituteAndUndo() throws {
        let room = try Self.smallRoom()
        let (op, _) = try room.join(.operator)
        let (host, _) = try room.join(.host)
        let (viewer, _) = try room.join(.viewer)
        let (connector, _) = try room.join(.connector, channel: "taobao")
        op.sendJSON(["type": "switch", "id": "s", "sku": "hoodie"])
        #expect(op.read(type: "result")?["ok"] as? Bool == true)
        for client in [op, host, viewer, connector] {
            #expect(client.read(type: "featured")?["sku"] as? String == "cap")
        }
        let hint = try #require(host.read(type: "hint"))
        #expect(hint["sku"] as? String == "cap")
        #expect((hint["text"] as? String ?? "").contains("100"))
        #expect(viewer.read(type: "banner")?["sku"] as? String == "cap")
        op.sendJSON(["type": "undo", "id": "u"])
        #expect(op.read(type: "result")?["ok"] as? Bool == true)
        #expect(viewer.read(type: "featured")?["sku"] as? String == "hoodie")
        #expect(viewer.read(type: "banner")?["withdrawn"] as? Bool == true)
        op.sendJSON(["type": "undo", "id": "u2"])
        #expect(op.read(type: "error")?["message"] as? String == "nothing to undo: no switch in this room")
        op.sendJSON(["type": "switch", "id": "s2", "sku": "cap"])
        #expect(op.read(type: "error")?["field"] as? String == "sku")  // the cap has no substitute
    }

    /// A switch banner is the switching room's: another room that sells the same SKU never shows
    /// it, neither live nor in its snapshot.
    @Test func aSwitchBannerStaysInItsRoom() throws {
        let room = try RoomFixture { configuration in
            var policy = SkuPolicy()
            policy.substitute = "cap"
            configuration.skus[0] = SkuSpec(id: "hoodie", name: "Hoodie", onHand: 10, substitute: "cap", policy: policy)
            // No level of its own at these figures: the banners the cap gets are the switch's.
            var quiet = RoomFixture.quietPolicy
            quiet.emergencyLine = 0
            configuration.skus[1] = SkuSpec(id: "cap", name: "Cap", onHand: 50, substitute: nil, policy: quiet)
            configuration.rooms.append(RoomSpec(id: "third", title: "Third", skus: ["cap"], featured: "cap"))
        }
        let (op, _) = try room.join(.operator)
        let (viewer, _) = try room.join(.viewer)
        let (elsewhere, _) = try room.join(.viewer, room: "third")
        let (connector, _) = try room.join(.connector, channel: "taobao")
        op.sendJSON(["type": "switch", "id": "s", "sku": "hoodie"])
        #expect(op.read(type: "result")?["ok"] as? Bool == true)
        #expect(viewer.read(type: "banner")?["left"] as? Int == 50)
        usleep(600_000)  // past the throttle: the first sale's figure goes out at once
        // One sale, alone in its batch: the demo room's banner follows it; the third room, which
        // also sells the cap, gets the stock change and never the demo room's switch banner.
        connector.sendJSON(["type": "order", "orderId": "SB-1", "sku": "cap", "qty": 1, "state": "paid"])
        #expect(connector.read(type: "result")?["ok"] as? Bool == true)
        let followed = try #require(viewer.read(type: "banner"))
        #expect(followed["left"] as? Int == 49)
        #expect((followed["text"] as? String ?? "").contains("现货49"))
        // A marker after the sale's messages: everything the third room got for the sale comes before it.
        let (thirdOperator, _) = try room.join(.operator, room: "third")
        thirdOperator.sendJSON(["type": "announce", "text": "marker-after-sale"])
        var bannerTexts: [String] = []
        var sawStock = false
        for _ in 0..<50 {
            guard let message = elsewhere.readJSON() else { break }
            if message["type"] as? String == "banner" { bannerTexts.append(message["text"] as? String ?? "") }
            if message["type"] as? String == "stock", message["sellable"] as? Int == 49 { sawStock = true }
            if (message["text"] as? String) == "marker-after-sale" { break }
        }
        #expect(sawStock)
        #expect(!bannerTexts.contains { $0.contains("现货") }, "\(bannerTexts)")
        let (late, lateSnapshot) = try room.join(.viewer, room: "third")
        _ = late
        let lateTexts = (lateSnapshot["banners"] as? [[String: Any]] ?? []).map { $0["text"] as? String ?? "" }
        #expect(!lateTexts.contains { $0.contains("现货") }, "\(lateTexts)")
    }

    @Test func aSwitchIsJournaledAndSurvivesARestartAndSoDoesItsUndo() throws {
        let kept = NSTemporaryDirectory() + "livegate-switch-restart-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: kept) }
        func makeRoom(snapshotEvery: Int) throws -> RoomFixture {
            try RoomFixture { configuration in
                configuration.dataDir = kept
                configuration.snapshotEvery = snapshotEvery
                var policy = SkuPolicy()
                policy.substitute = "cap"
                configuration.skus[0] = SkuSpec(id: "hoodie", name: "Hoodie", onHand: 10, substitute: "cap", policy: policy)
            }
        }
        var switchRev: Int?
        do {
            let room = try makeRoom(snapshotEvery: 1_000)
            let (op, _) = try room.join(.operator)
            op.sendJSON(["type": "switch", "id": "s", "sku": "hoodie"])
            let result = try #require(op.read(type: "result"))
            #expect(result["ok"] as? Bool == true)
            switchRev = result["rev"] as? Int
        }
        #expect(switchRev != nil)
        // Recovered from the journal: every role starts on the substitute.
        do {
            let room = try makeRoom(snapshotEvery: 1)
            for role in [Role.viewer, .host, .operator] {
                let (_, snapshot) = try room.join(role)
                #expect(snapshot["featured"] as? String == "cap", "\(role)")
            }
            let (op, _) = try room.join(.operator)
            let (viewer, _) = try room.join(.viewer)
            op.sendJSON(["type": "undo", "id": "u"])
            let undone = try #require(op.read(type: "result"))
            #expect(undone["ok"] as? Bool == true)
            #expect((undone["rev"] as? Int ?? 0) > (switchRev ?? .max))
            #expect(viewer.read(type: "featured")?["sku"] as? String == "hoodie")
        }
        // Recovered from a snapshot (one is taken after every command here): the undo held.
        let room = try makeRoom(snapshotEvery: 1_000)
        let (viewer, snapshot) = try room.join(.viewer)
        #expect(snapshot["featured"] as? String == "hoodie")
        let (op, _) = try room.join(.operator)
        op.sendJSON(["type": "undo", "id": "u2"])
        #expect(op.read(type: "error")?["message"] as? String == "nothing to undo: no switch in this room")
        withExtendedLifetime(viewer) {}
    }

    @Test func policyChangesAreJournaledAndChecked() throws {
        let room = try Self.smallRoom()
        let (op, _) = try room.join(.operator)
        // `restockLeadTimeSec` is the deprecated name of `restockLeadTimeSeconds`, still accepted.
        op.sendJSON(["type": "policy", "id": "p1", "sku": "hoodie", "safetyMinimum": 8, "restockLeadTimeSec": 7200])
        let accepted = try #require(op.read(type: "result"))
        #expect(accepted["ok"] as? Bool == true)
        #expect(room.gateway.rooms.registry.policy(of: "hoodie")?.safetyMinimum == 8)
        op.sendJSON(["type": "policy", "id": "p2", "sku": "hoodie", "trendFactor": 0.5])
        #expect(op.read(type: "error")?["code"] as? String == "badField")
        // Numbers far out of range are refused, not converted (a Double beyond Int64 would trap).
        op.sendJSON(["type": "policy", "id": "p4", "sku": "hoodie", "cooldownSeconds": 1e10])
        #expect(op.read(type: "error")?["field"] as? String == "cooldownSeconds")
        op.sendJSON(["type": "policy", "id": "p5", "sku": "hoodie", "safetyMinimum": 1e19])
        #expect(op.read(type: "error")?["field"] as? String == "safetyMinimum")
        op.sendJSON(["type": "policy", "id": "p3", "sku": "hoodie", "bogus": 1])
        #expect(op.read(type: "error")?["field"] as? String == "bogus")
        op.sendJSON(["type": "ack", "id": "a1", "alert": "hoodie-1-1"])
        #expect(op.read(type: "ack")?["by"] as? String == "t")
    }

    @Test func alertStateSurvivesARestartWithoutRefiring() throws {
        let kept = NSTemporaryDirectory() + "livegate-alert-restart-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: kept) }
        func makeRoom() throws -> RoomFixture {
            try RoomFixture { configuration in
                configuration.dataDir = kept
                configuration.snapshotEvery = 100
                var policy = SkuPolicy()
                policy.safetyMinimum = 5
                policy.cooldown = 0
                configuration.skus[0] = SkuSpec(id: "hoodie", name: "Hoodie", onHand: 10, policy: policy)
            }
        }
        do {
            let room = try makeRoom()
            let (op, _) = try room.join(.operator)
            let (connector, _) = try room.join(.connector, channel: "douyin")
            connector.sendJSON(["type": "order", "orderId": "A", "sku": "hoodie", "qty": 6, "state": "paid"])
            #expect(connector.read(type: "result")?["ok"] as? Bool == true)
            #expect(op.read(type: "alert") != nil)
        }
        let room = try makeRoom()
        let (op, snapshot) = try room.join(.operator)
        let hoodie = try #require((snapshot["skus"] as? [[String: Any]])?.first)
        #expect(["threshold", "emergency"].contains(hoodie["level"] as? String))
        // No alert is raised again for the same level after the restart.
        op.sendJSON(["type": "ping", "id": "x"])
        var sawAlert = false
        while let message = op.readJSON() {
            if message["type"] as? String == "alert" { sawAlert = true }
            if message["type"] as? String == "pong" { break }
        }
        #expect(!sawAlert)
    }
}
