import Foundation
import LiveGateCore
import LiveGateStock
import LiveGateWebSocket
import Testing

@testable import LiveGate

/// A gateway on 127.0.0.1:0 with the demo room, a fresh data directory, and token helpers.
final class RoomFixture {
    /// The fixture SKUs' policy: no safety line, no lead time.
    static let quietPolicy = SkuPolicy(safetyMinimum: 0, restockLeadTime: 0)
    let gateway: Gateway
    let dataDir: String
    let authority: TokenAuthority
    var port: Int { gateway.server.port }

    init(_ adjust: (inout Configuration) -> Void = { _ in }) throws {
        dataDir = NSTemporaryDirectory() + "livegate-room-\(UUID().uuidString)"
        var configuration = Self.configuration(dataDir: dataDir)
        adjust(&configuration)
        authority = TokenAuthority(secret: configuration.tokenSecret)
        gateway = try Gateway(configuration: configuration)
        try gateway.start()
    }

    /// The fixture's configuration: 127.0.0.1:0, two loops, rooms `demo` and `side`.
    static func configuration(dataDir: String) -> Configuration {
        var configuration = Configuration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.ioThreads = 2
        configuration.logLevel = .warning
        configuration.shutdownGraceSeconds = 1
        configuration.dataDir = dataDir
        configuration.tokenSecret = "test-secret-0123456789"
        configuration.skus = [
            // No safety line and no lead time: these small stocks raise no threshold or emergency level by
            // themselves (the default safety minimum of 20 would), so the tests see only what they cause.
            SkuSpec(id: "hoodie", name: "Hoodie", onHand: 10, substitute: "cap", policy: RoomFixture.quietPolicy),
            SkuSpec(id: "cap", name: "Cap", onHand: 100, substitute: nil, policy: RoomFixture.quietPolicy),
            SkuSpec(id: "other", name: "Elsewhere", onHand: 5, substitute: nil, policy: RoomFixture.quietPolicy),
        ]
        configuration.rooms = [
            RoomSpec(id: "demo", title: "Demo", skus: ["hoodie", "cap"], featured: "hoodie"),
            RoomSpec(id: "side", title: "Side", skus: ["other"], featured: nil),
        ]
        return configuration
    }

    deinit {
        gateway.shutdown()
        try? FileManager.default.removeItem(atPath: dataDir)
    }

    func token(_ role: Role, room: String = "demo", sub: String = "t", channel: String? = nil, expiresIn: Int64 = 3600) -> String {
        authority.mint(TokenClaims(subject: sub, room: room, role: role,
                                   expiresAt: Int64(Date().timeIntervalSince1970) + expiresIn, channel: channel))
    }

    /// Connects to /ws as `role` and returns the client and its snapshot.
    func join(_ role: Role, room: String = "demo", sub: String = "t", channel: String? = nil) throws -> (TestClient, [String: Any]) {
        let client = try TestClient(port: port)
        #expect(client.upgrade(path: "/ws?token=\(token(role, room: room, sub: sub, channel: channel))") == 101)
        let snapshot = try #require(client.readJSON())
        #expect(snapshot["type"] as? String == "snapshot")
        return (client, snapshot)
    }
}

extension TestClient {
    /// Reads the next text frame as a JSON object.
    func readJSON() -> [String: Any]? {
        guard let frame = readFrame(), frame.opcode == 1 else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(frame.payload))) as? [String: Any]
    }

    /// Reads frames until one of `type` arrives.
    func read(type: String, limit: Int = 20) -> [String: Any]? {
        for _ in 0..<limit {
            guard let message = readJSON() else { return nil }
            if message["type"] as? String == type { return message }
        }
        return nil
    }

    func sendJSON(_ object: [String: Any]) {
        let data = try! JSONSerialization.data(withJSONObject: object)
        sendFrame(.text, Array(data))
    }
}

/// A second gateway on a port the first one holds is refused at start, not let in to share it.
struct PortInUseTests {
    @Test func aSecondGatewayOnTheSamePortIsRefused() throws {
        let first = try RoomFixture()
        do {
            _ = try RoomFixture { $0.port = first.port }
            Issue.record("a second gateway started on port \(first.port)")
        } catch {
            #expect("\(error)".contains("in use by another process"), "\(error)")
        }
        // The first one still serves.
        let http = try TestClient(port: first.port)
        http.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(http.readResponse()?.status == 200)
    }
}

@Suite(.serialized)
struct RoomTests {
    @Test func anOrderReachesEveryRoleInItsShape() throws {
        let room = try RoomFixture()
        let (host, hostSnapshot) = try room.join(.host)
        let (op, _) = try room.join(.operator)
        let (viewer, _) = try room.join(.viewer)
        let (connector, _) = try room.join(.connector, channel: "taobao")
        let skus = try #require(hostSnapshot["skus"] as? [[String: Any]])
        #expect(skus.map { $0["sku"] as? String } == ["hoodie", "cap"])
        #expect(skus.first?["sellable"] as? Int == 10)
        #expect(hostSnapshot["featured"] as? String == "hoodie")

        connector.sendJSON(["type": "order", "id": "o1", "orderId": "A-1", "sku": "hoodie", "qty": 3, "state": "placed"])
        let result = try #require(connector.read(type: "result"))
        #expect(result["id"] as? String == "o1")
        #expect(result["outcome"] as? String == "reserved")
        #expect(result["ok"] as? Bool == true)
        for client in [host, op, viewer, connector] {
            let stock = try #require(client.read(type: "stock"))
            #expect(stock["sku"] as? String == "hoodie")
            #expect(stock["sellable"] as? Int == 7)
            #expect(stock["sold"] as? Int == 0)
            #expect((stock["seq"] as? Int ?? 0) > 0)
            #expect((stock["rev"] as? Int ?? 0) > 0)
            if client === viewer {
                // Viewers see what an overlay may show, not the operation's figures.
                #expect(Set(stock.keys) == ["type", "room", "seq", "rev", "sku", "sellable", "sold", "paused", "level"])
            } else {
                #expect(stock["reserved"] as? Int == 3)
                #expect(stock["onHand"] as? Int == 10)
            }
        }
        // The same split in the snapshots and over HTTP: a viewer's token reads the viewers' figures.
        let (lateViewer, viewerSnapshot) = try room.join(.viewer)
        defer { withExtendedLifetime(lateViewer) {} }
        let viewerSku = try #require((viewerSnapshot["skus"] as? [[String: Any]])?.first)
        #expect(Set(viewerSku.keys) == ["sku", "name", "sellable", "sold", "paused", "level"])
        #expect(viewerSku["sellable"] as? Int == 7)
        for (role, hasReserved) in [(Role.viewer, false), (.operator, true)] {
            let http = try TestClient(port: room.port)
            http.send("GET /v1/rooms/demo/stock HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(room.token(role))\r\n\r\n")
            let body = try #require(http.readResponse()).body
            let snapshot = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            let first = try #require((snapshot["skus"] as? [[String: Any]])?.first)
            #expect((first["reserved"] as? Int == 3) == hasReserved, "\(role): \(first)")
            #expect(first["sellable"] as? Int == 7)
        }
    }

    @Test func duplicatesChangeStockOnceAndOversellIsRefused() throws {
        let room = try RoomFixture()
        let (connector, _) = try room.join(.connector, channel: "douyin")
        for _ in 0..<3 {
            connector.sendJSON(["type": "order", "orderId": "D-1", "sku": "hoodie", "qty": 4, "state": "paid"])
        }
        var outcomes: [String] = []
        var duplicates = 0
        var lastSellable = -1
        while outcomes.count < 3, let message = connector.readJSON() {
            if message["type"] as? String == "result" {
                outcomes.append(message["outcome"] as? String ?? "")
                if message["duplicate"] as? Bool == true { duplicates += 1 }
            } else if message["type"] as? String == "stock" {
                lastSellable = message["sellable"] as? Int ?? -1
            }
        }
        #expect(outcomes == ["sold", "sold", "sold"])
        #expect(duplicates == 2)
        connector.sendJSON(["type": "order", "id": "big", "orderId": "D-2", "sku": "hoodie", "qty": 7, "state": "placed"])
        let refused = try #require(connector.read(type: "result"))
        #expect(refused["outcome"] as? String == "insufficient")
        #expect(refused["ok"] as? Bool == false)
        let http = try TestClient(port: room.port)
        http.send("GET /v1/rooms/demo/stock HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(room.token(.viewer))\r\n\r\n")
        let response = try #require(http.readResponse())
        #expect(response.status == 200)
        let snapshot = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
        let hoodie = try #require((snapshot["skus"] as? [[String: Any]])?.first)
        #expect(hoodie["sellable"] as? Int == 6)
        #expect(hoodie["sold"] as? Int == 4)
        _ = lastSellable
    }

    /// Orders that arrive together (one TCP write) are written together: the loop wakes the core's
    /// writer once after reading them, not at the first (which, on one CPU, wrote it alone).
    @Test func ordersReadInOneTurnShareADurableBatch() throws {
        let room = try RoomFixture()
        let (connector, _) = try room.join(.connector, channel: "douyin")
        var batchCounts: [Int] = []
        for round in 0..<4 {
            var bytes: [UInt8] = []
            for index in 0..<24 {
                let json = #"{"type":"order","id":"r\#(round)-\#(index)","orderId":"B-\#(round)-\#(index)","sku":"cap","qty":1,"state":"paid"}"#
                bytes += WebSocketFrameEncoder.encode(opcode: .text, payload: Array(json.utf8), isFinal: true, maskKey: 0x0102_0304)
            }
            let before = room.gateway.core.statistics
            connector.send(bytes)
            var results = 0
            while results < 24, let message = connector.readJSON() {
                if message["type"] as? String == "result" {
                    #expect(message["outcome"] as? String == "sold")
                    results += 1
                }
            }
            #expect(results == 24)
            // The release thread counts a batch after answering it: wait for the 24 records.
            var after = room.gateway.core.statistics
            for _ in 0..<100 where after.records - before.records < 24 {
                usleep(10_000)
                after = room.gateway.core.statistics
            }
            let batches = after.batches - before.batches
            batchCounts.append(batches)
        }
        // One batch a round; the core's once-a-second tick may add one of its own.
        #expect(batchCounts.reduce(0, +) <= batchCounts.count + 1, "batches per round of 24 orders: \(batchCounts)")
    }

    @Test func rolesAreEnforcedAndBadInputGetsANamedError() throws {
        let room = try RoomFixture()
        let (viewer, _) = try room.join(.viewer)
        viewer.sendJSON(["type": "restock", "id": "r1", "sku": "hoodie", "qty": 5])
        let forbidden = try #require(viewer.read(type: "error"))
        #expect(forbidden["code"] as? String == "forbidden")
        #expect(forbidden["id"] as? String == "r1")
        viewer.sendFrame(.text, Array("{not json".utf8))
        let notJSON = viewer.read(type: "error")
        #expect(notJSON?["code"] as? String == "badMessage")
        #expect(notJSON?["message"] as? String == "invalid JSON at byte 1: expected a string key")
        viewer.sendJSON(["type": "warp"])
        #expect(viewer.read(type: "error")?["field"] as? String == "type")

        let (connector, _) = try room.join(.connector, channel: "taobao")
        connector.sendJSON(["type": "order", "orderId": "X", "channel": "kuaishou", "sku": "hoodie", "qty": 1, "state": "placed"])
        #expect(connector.read(type: "error")?["field"] as? String == "channel")
        connector.sendJSON(["type": "order", "orderId": "X", "sku": "hoodie", "qty": 0, "state": "placed"])
        #expect(connector.read(type: "error")?["field"] as? String == "qty")
        connector.sendJSON(["type": "order", "orderId": "X", "sku": "other", "qty": 1, "state": "placed"])
        #expect(connector.read(type: "error")?["field"] as? String == "sku")
        connector.sendJSON(["type": "order", "orderId": "X", "sku": "hoodie", "qty": 1, "state": "shipped"])
        #expect(connector.read(type: "error")?["field"] as? String == "state")
        // JSON nested deeper than 32 levels is refused where the parser meets the 33rd bracket.
        connector.sendFrame(.text, Array((String(repeating: "[", count: 600) + String(repeating: "]", count: 600)).utf8))
        let tooDeep = connector.read(type: "error")
        #expect(tooDeep?["code"] as? String == "badMessage")
        #expect(tooDeep?["message"] as? String == "invalid JSON at byte 32: nested deeper than 32 levels")
        // The connection survived all of that.
        connector.sendJSON(["type": "ping", "id": 7])
        #expect(connector.read(type: "pong")?["id"] as? String == "7")

        // Nothing changed: the operator's view is still the initial stock.
        let (_, snapshot) = try room.join(.operator)
        let hoodie = try #require((snapshot["skus"] as? [[String: Any]])?.first)
        #expect(hoodie["sellable"] as? Int == 10)
    }

    @Test func ordersOverHTTPAreAnsweredAfterTheyAreDurable() throws {
        let room = try RoomFixture()
        let (viewer, _) = try room.join(.viewer)
        let http = try TestClient(port: room.port)
        let token = room.token(.connector, channel: "kuaishou")
        func post(_ json: String, token: String? = nil) -> (status: Int, headers: [String: String], body: String)? {
            let auth = token.map { "Authorization: Bearer \($0)\r\n" } ?? ""
            http.send("POST /v1/orders HTTP/1.1\r\nHost: x\r\n\(auth)Content-Type: application/json\r\n"
                + "Content-Length: \(json.utf8.count)\r\n\r\n\(json)")
            return http.readResponse()
        }
        let batch = #"[{"orderId":"K1","sku":"hoodie","qty":2,"state":"placed"},{"orderId":"K2","sku":"hoodie","qty":1,"state":"paid"},{"orderId":"K1","sku":"hoodie","qty":2,"state":"placed"}]"#
        let answer = try #require(post(batch, token: token))
        #expect(answer.status == 200)
        let results = try #require((try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])?["results"] as? [[String: Any]])
        #expect(results.map { $0["outcome"] as? String } == ["reserved", "sold", "reserved"])
        #expect(results.map { $0["duplicate"] as? Bool } == [false, false, true])
        #expect(results.allSatisfy { $0["channel"] as? String == "kuaishou" })
        // The viewer sees the result (one stock message per SKU per durable batch, so the two
        // orders may arrive as one change); the duplicate changed nothing.
        var sellable = 10
        while sellable > 7, let stock = viewer.read(type: "stock") { sellable = stock["sellable"] as? Int ?? -1 }
        #expect(sellable == 7)
        // Keep-alive: the same socket takes the next request, including errors.
        let bad = try #require(post(#"{"orderId":"K3","sku":"hoodie","qty":"two","state":"placed"}"#, token: token))
        #expect(bad.status == 400)
        #expect(bad.body.contains(#""field":"qty""#))
        #expect(post(#"{"orderId":"K3"}"#)?.status == 401)
        #expect(post(#"{"orderId":"K3"}"#, token: room.token(.viewer))?.status == 403)
        let notJSON = try #require(post("not json", token: token))
        #expect(notJSON.status == 400)
        #expect(notJSON.body.contains("invalid JSON at byte 1: unexpected byte 'o'"))
        let duplicate = try #require(post(#"{"orderId":"K4","sku":"hoodie","qty":1,"qty":5,"state":"placed"}"#, token: token))
        #expect(duplicate.status == 400)
        #expect(duplicate.body.contains("invalid JSON at byte 39: duplicate key 'qty'"))
        http.send("GET /v1/orders HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(http.readResponse()?.status == 405)
        // A client that asks before sending its body (Expect: 100-continue) is told to go on.
        let order = #"{"orderId":"K9","sku":"cap","qty":1,"state":"placed"}"#
        http.send("POST /v1/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\nExpect: 100-continue\r\n"
            + "Content-Length: \(order.utf8.count)\r\n\r\n")
        #expect(http.readResponse()?.status == 100)
        http.send(order)
        #expect(http.readResponse()?.status == 200)
    }

    @Test func metricsAreServedToLoopbackAsPrometheusText() throws {
        let room = try RoomFixture()
        let (connector, _) = try room.join(.connector, channel: "taobao")
        let (viewer, _) = try room.join(.viewer)
        defer { withExtendedLifetime(viewer) {} }
        connector.sendJSON(["type": "order", "orderId": "M1", "sku": "hoodie", "qty": 1, "state": "placed"])
        #expect(connector.read(type: "result")?["outcome"] as? String == "reserved")
        #expect(connector.read(type: "stock") != nil)
        #expect(viewer.read(type: "stock") != nil)
        let http = try TestClient(port: room.port)
        // The delivery latency is recorded just after the flush: poll briefly for it.
        var response: (status: Int, headers: [String: String], body: String) = (0, [:], "")
        for _ in 0..<40 {
            http.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            response = try #require(http.readResponse())
            if response.body.contains(#"livegate_order_delivery_seconds_count{role="viewer"} 1"#)
                && response.body.contains(#"livegate_order_delivery_seconds_count{role="connector"} 1"#)
            {
                break
            }
            usleep(25_000)
        }
        #expect(response.status == 200)
        #expect(response.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let sample = try Regex(#"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? [-+]?([0-9.]+([eE][-+]?[0-9]+)?|Inf)$"#)
        let comment = try Regex(#"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$"#)
        for line in response.body.split(separator: "\n") {
            #expect(line.wholeMatch(of: sample) != nil || line.wholeMatch(of: comment) != nil, "\(line)")
        }
        #expect(response.body.contains(#"livegate_orders_total{outcome="reserved"} 1"#))
        #expect(response.body.contains(#"livegate_room_connections{role="viewer"} 1"#))
        #expect(response.body.contains("livegate_core_available 1"))
        #expect(response.body.contains(#"livegate_alerts_total{level="threshold"}"#))
        #expect(response.body.contains("livegate_core_sync_seconds_total"))
        // The order above reached the connector's and the viewer's streams: one observation each.
        #expect(response.body.contains(#"livegate_order_delivery_seconds_count{role="viewer"} 1"#))
        #expect(response.body.contains(#"livegate_order_delivery_seconds_count{role="connector"} 1"#))
    }

    @Test func tokensNeverAppearInLogs() throws {
        let lines = LogCapture()
        Log.setSink { lines.append($0) }
        let previous = Log.level
        Log.level = .debug
        defer {
            Log.setSink(nil)
            Log.level = previous
        }
        let room = try RoomFixture { $0.logLevel = .debug }
        Log.level = .debug
        let token = room.token(.viewer)
        let (viewer, _) = try room.join(.viewer)
        viewer.sendJSON(["type": "danmaku", "text": "hi"])
        _ = viewer.read(type: "danmaku")
        let http = try TestClient(port: room.port)
        http.send("GET /v1/rooms/demo/stock?token=\(token) HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(http.readResponse()?.status == 200)
        http.send("GET /v1/rooms/demo/stock HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n\r\n")
        #expect(http.readResponse()?.status == 200)
        let forged = String(token.dropLast(3)) + "abc"
        let bad = try TestClient(port: room.port)
        #expect(bad.upgrade(path: "/ws?token=\(forged)") == 101)
        _ = bad.readFrame()
        let logged = lines.all
        #expect(logged.contains { $0.contains("<redacted>") })
        // One logfmt line per event, with its level and fields.
        #expect(logged.allSatisfy { $0.hasPrefix("ts=") && $0.contains(" level=") && $0.hasSuffix("\n") })
        #expect(logged.contains { $0.contains("event=join") && $0.contains("role=viewer") && $0.contains("room=demo") })
        #expect(logged.contains { $0.contains("event=ws_refused") })
        let signature = String(token.split(separator: ".")[2])
        #expect(!logged.contains { $0.contains(signature) || $0.contains(String(forged.split(separator: ".")[2])) })
    }

    @Test func seriesAreServedToOperators() throws {
        let room = try RoomFixture()
        let (connector, _) = try room.join(.connector, channel: "taobao")
        connector.sendJSON(["type": "order", "orderId": "S1", "sku": "hoodie", "qty": 3, "state": "paid"])
        #expect(connector.read(type: "result")?["outcome"] as? String == "sold")
        #expect(connector.read(type: "stock") != nil)  // results go out just before the room's messages
        let http = try TestClient(port: room.port)
        http.send("GET /v1/rooms/demo/series?sku=hoodie&since=0&token=\(room.token(.operator)) HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = try #require(http.readResponse())
        #expect(response.status == 200)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
        #expect(body["bucketSec"] as? Int == 10)
        let points = try #require(body["points"] as? [[String: Any]])
        #expect(points.last?["sellable"] as? Int == 7)
        #expect(points.last?["sold"] as? Int == 3)
        http.send("GET /v1/rooms/demo/series?sku=hoodie&token=\(room.token(.viewer)) HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(http.readResponse()?.status == 403)
        http.send("GET /v1/rooms/demo/series?sku=nope&token=\(room.token(.operator)) HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(http.readResponse()?.status == 404)
    }

    @Test func seriesKeepsTheNewestBuckets() {
        var series = Series(bucketSeconds: 10, capacity: 3)
        for (index, time) in [100, 105, 110, 120, 130, 140].enumerated() {
            series.record(time: Int64(time), sellable: Int64(100 - index), sold: Int64(index), ratePerMin: nil)
        }
        #expect(series.points(since: 0).map(\.time) == [120, 130, 140])
        #expect(series.points(since: 130).map(\.sellable) == [96, 95])
        series.record(time: 145, sellable: 1, sold: 99, ratePerMin: 2)
        #expect(series.points(since: 140).map(\.sellable) == [1])
    }

    @Test func badTokensAreClosedWith1008() throws {
        let room = try RoomFixture()
        for token in ["garbage", room.token(.viewer, expiresIn: -10), room.token(.viewer, room: "nope"),
                      TokenAuthority(secret: "another-secret-0123456789").mint(
                          TokenClaims(subject: "x", room: "demo", role: .viewer, expiresAt: Int64(Date().timeIntervalSince1970) + 60))]
        {
            let client = try TestClient(port: room.port)
            #expect(client.upgrade(path: "/ws?token=\(token)") == 101)
            let close = try #require(client.readFrame())
            #expect(close.opcode == 8)
            #expect(closeCode(close.payload) == 1008)
        }
        let missing = try TestClient(port: room.port)
        missing.send("GET /v1/rooms/demo/stock HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(missing.readResponse()?.status == 401)
        missing.send("GET /v1/rooms/side/stock?token=\(room.token(.viewer)) HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(missing.readResponse()?.status == 403)
    }

    @Test func operatorCommandsAndChatReachTheRoom() throws {
        let room = try RoomFixture()
        let (op, _) = try room.join(.operator, sub: "olly")
        let (viewer, _) = try room.join(.viewer, sub: "vivi")
        let (host, _) = try room.join(.host)
        op.sendJSON(["type": "restock", "id": "r", "sku": "hoodie", "qty": 5])
        #expect(op.read(type: "result")?["outcome"] as? String == "ok")
        #expect(viewer.read(type: "stock")?["sellable"] as? Int == 15)
        op.sendJSON(["type": "hold", "id": "h", "sku": "hoodie", "qty": 2])
        #expect(op.read(type: "result")?["ok"] as? Bool == true)
        #expect(host.read(type: "stock")?["held"] as? Int == 0)  // the restock
        #expect(host.read(type: "stock")?["held"] as? Int == 2)
        op.sendJSON(["type": "pause", "id": "p", "sku": "cap"])
        #expect(op.read(type: "result")?["ok"] as? Bool == true)
        let (connector, _) = try room.join(.connector, channel: "taobao")
        connector.sendJSON(["type": "order", "orderId": "P", "sku": "cap", "qty": 1, "state": "placed"])
        #expect(connector.read(type: "result")?["outcome"] as? String == "paused")

        viewer.sendJSON(["type": "danmaku", "text": "还有货吗?"])
        let relayed = try #require(host.read(type: "danmaku"))
        #expect(relayed["text"] as? String == "还有货吗?")
        #expect(relayed["from"] as? String == "vivi")
        #expect(relayed["system"] as? Bool == false)
        op.sendJSON(["type": "feature", "id": "f", "sku": "cap"])
        #expect(viewer.read(type: "featured")?["sku"] as? String == "cap")
        op.sendJSON(["type": "announce", "id": "a", "text": "Restock in 5 minutes"])
        let announcement = try #require(viewer.read(type: "danmaku"))
        #expect(announcement["system"] as? Bool == true)
    }

    @Test func aLateSubscriberStartsFromTheCurrentState() throws {
        let room = try RoomFixture()
        let (connector, _) = try room.join(.connector, channel: "taobao")
        connector.sendJSON(["type": "order", "orderId": "L", "sku": "hoodie", "qty": 2, "state": "paid"])
        #expect(connector.read(type: "result")?["outcome"] as? String == "sold")
        #expect(connector.read(type: "stock")?["sellable"] as? Int == 8)  // the room has the change now
        let (late, snapshot) = try room.join(.viewer)
        let hoodie = try #require((snapshot["skus"] as? [[String: Any]])?.first)
        #expect(hoodie["sellable"] as? Int == 8)
        let startSeq = snapshot["seq"] as? Int ?? -1
        connector.sendJSON(["type": "order", "orderId": "M", "sku": "hoodie", "qty": 1, "state": "paid"])
        let next = try #require(late.read(type: "stock"))
        #expect(next["sellable"] as? Int == 7)
        #expect(next["seq"] as? Int == startSeq + 1)
    }

    @Test func roomsAndSkusCreatedLiveSurviveARestart() throws {
        let kept = NSTemporaryDirectory() + "livegate-live-rooms-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: kept) }
        do {
            let room = try RoomFixture { $0.dataDir = kept }
            let (op, _) = try room.join(.operator)
            let (viewer, _) = try room.join(.viewer)
            op.sendJSON(["type": "addSku", "id": "a", "sku": "scarf", "name": "Scarf", "onHand": 30, "substitute": "cap"])
            #expect(op.read(type: "result")?["ok"] as? Bool == true)
            let stock = try #require(viewer.read(type: "stock"))
            #expect(stock["sku"] as? String == "scarf")
            #expect(stock["sellable"] as? Int == 30)
            op.sendJSON(["type": "addSku", "id": "b", "sku": "scarf", "onHand": 1])
            #expect(op.read(type: "result")?["outcome"] as? String == "skuExists")
            op.sendJSON(["type": "createRoom", "id": "c", "room": "night", "title": "Night", "skus": ["scarf"]])
            #expect(op.read(type: "result")?["ok"] as? Bool == true)
            op.sendJSON(["type": "createRoom", "id": "d", "room": "night", "skus": []])
            #expect(op.read(type: "error")?["field"] as? String == "room")
            let (_, night) = try room.join(.viewer, room: "night")
            #expect((night["skus"] as? [[String: Any]])?.first?["sku"] as? String == "scarf")
        }
        let room = try RoomFixture { $0.dataDir = kept }
        let (_, night) = try room.join(.viewer, room: "night")
        #expect((night["skus"] as? [[String: Any]])?.first?["sellable"] as? Int == 30)
        #expect((night["skus"] as? [[String: Any]])?.first?["name"] as? String == "Scarf")
        let (_, demo) = try room.join(.viewer)
        #expect((demo["skus"] as? [[String: Any]])?.map { $0["sku"] as? String } == ["hoodie", "cap", "scarf"])
    }

    @Test func stateSurvivesARestart() throws {
        let dataDir: String
        do {
            let room = try RoomFixture()
            dataDir = room.dataDir + "-kept"
            _ = dataDir
        }
        let kept = NSTemporaryDirectory() + "livegate-restart-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: kept) }
        do {
            let room = try RoomFixture { $0.dataDir = kept }
            let (connector, _) = try room.join(.connector, channel: "taobao")
            connector.sendJSON(["type": "order", "orderId": "R", "sku": "hoodie", "qty": 4, "state": "paid"])
            #expect(connector.read(type: "result")?["outcome"] as? String == "sold")
        }
        let room = try RoomFixture { $0.dataDir = kept }
        let (connector, snapshot) = try room.join(.connector, channel: "taobao")
        #expect((snapshot["skus"] as? [[String: Any]])?.first?["sold"] as? Int == 4)
        connector.sendJSON(["type": "order", "orderId": "R", "sku": "hoodie", "qty": 4, "state": "paid"])
        let again = try #require(connector.read(type: "result"))
        #expect(again["duplicate"] as? Bool == true)
    }
}

/// Collects log lines (the in-memory log backend).
final class LogCapture: @unchecked Sendable {
    // @unchecked: `lines` is guarded by `lock`.
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) {
        lock.lock()
        lines.append(line)
        lock.unlock()
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }
}
