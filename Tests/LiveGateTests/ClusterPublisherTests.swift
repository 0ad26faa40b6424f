import Foundation
import Synchronization
import LiveGateRedis
import LiveGateStock
import LiveGateTestSupport
import LiveGateWebSocket
import Testing

@testable import LiveGate

/// The core's half of the cluster against a real `redis-server`: every room stream message a
/// viewer gets is in the room stream's Redis Stream, byte for byte, in `seq` order, once; a Redis
/// outage loses nothing that the core published meanwhile.
@Suite(.serialized)
struct ClusterPublisherTests {
    /// The entries of a Redis stream: (id, m).
    static func entries(_ harness: ClientHarness, key: String) throws -> [(id: String, message: String)] {
        let reply = try #require(try harness.call(["XRANGE", key, "-", "+"])?.get())
        return (reply.elements ?? []).compactMap { entry in
            guard let fields = entry.elements, let id = fields.first?.string, let pairs = fields.last?.elements,
                  let index = pairs.firstIndex(where: { $0.string == "m" }), index + 1 < pairs.count,
                  let message = pairs[index + 1].string
            else { return nil }
            return (id, message)
        }
    }

    /// Waits (bounded) until `key` holds `count` entries.
    static func waitForEntries(_ harness: ClientHarness, key: String, count: Int, seconds: Double = 10) -> Int {
        let deadline = Date().addingTimeInterval(seconds)
        var length = 0
        while Date() < deadline {
            if case .success(.integer(let value))? = harness.call(["XLEN", key]) {
                length = Int(value)
                if length >= count { return length }
            }
            usleep(20_000)
        }
        return length
    }

    /// Reads the viewer's messages until a `stock` of `sku` with `sellable`; every message with a
    /// `seq`, as (seq, text).
    static func readUntil(_ viewer: TestClient, sku: String, sellable: Int) throws -> [(seq: Int, text: String)] {
        var seen: [(seq: Int, text: String)] = []
        for _ in 0..<500 {
            guard let frame = viewer.readFrame() else { break }
            let object = try #require(try JSONSerialization.jsonObject(with: Data(frame.payload)) as? [String: Any])
            if let seq = object["seq"] as? Int { seen.append((seq, String(decoding: frame.payload, as: UTF8.self))) }
            if object["type"] as? String == "stock", object["sku"] as? String == sku, object["sellable"] as? Int == sellable {
                return seen
            }
        }
        Issue.record("no stock of \(sku) at \(sellable) among \(seen.count) messages")
        return seen
    }

    @Test func roomStreamsGoToRedisInOrderByteForByte() throws {
        let redis = try RedisServer()
        let url = RedisURL(host: "127.0.0.1", port: redis.port)
        let room = try RoomFixture { configuration in
            var settings = ClusterSettings(redis: url)
            settings.prefix = "lgtest"
            configuration.cluster = settings
        }
        let reader = try ClientHarness(url: url)
        #expect(reader.waitUntilReady())
        let (viewer, snapshot) = try room.join(.viewer)
        let (connector, _) = try room.join(.connector, channel: "taobao")
        let epoch = try #require(snapshot["epoch"] as? String)
        let publisher = try #require(room.gateway.cluster)
        let key = publisher.key(room: "demo", audience: .viewer)
        #expect(key == "lgtest:\(epoch):demo:viewer")

        // 8 orders of 1 on a stock of 10 (no sold-out alert in the way): 8 stock messages to viewers.
        for index in 1...8 {
            connector.sendJSON(["type": "order", "orderId": "R-\(index)", "sku": "hoodie", "qty": 1, "state": "paid"])
        }
        let seen = try Self.readUntil(viewer, sku: "hoodie", sellable: 2)
        let lastSeq = try #require(seen.last?.seq)
        let firstSeen = try #require(seen.first?.seq)
        #expect(seen.map(\.seq) == Array(firstSeen...lastSeq), "the viewer sees every seq after its snapshot")
        #expect(Self.waitForEntries(reader, key: key, count: lastSeq) >= lastSeq)
        let stored = try Self.entries(reader, key: key)
        // Every message of the stream is there once, in seq order, with the ids the seqs.
        #expect(Array(stored.prefix(lastSeq).map(\.id)) == (1...lastSeq).map { "0-\($0)" })
        #expect(Set(stored.map(\.id)).count == stored.count)
        for message in seen {
            #expect(stored[message.seq - 1].message == message.text, "seq \(message.seq)")
        }
        #expect(try reader.call(["GET", "lgtest:epoch"])?.get().string == epoch)

        // The latest snapshot of the stream, with the seq it reflects: taken with the stream after
        // that seq, it gives what a viewer has now (a reader at another node starts from it).
        let snapshotKey = publisher.snapshotKey(room: "demo", audience: .viewer)
        #expect(snapshotKey == key + ":snapshot")
        let deadline = Date().addingTimeInterval(10)
        var found: [String: Any]?
        while Date() < deadline {
            if let text = try reader.call(["GET", snapshotKey])?.get().string,
               let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
               (object["seq"] as? Int ?? 0) >= lastSeq {
                found = object
                break
            }
            usleep(20_000)
        }
        let latest = try #require(found, "a snapshot at seq \(lastSeq) or later")
        #expect(latest["type"] as? String == "snapshot")
        #expect(latest["epoch"] as? String == epoch)
        let skus = try #require(latest["skus"] as? [[String: Any]])
        #expect(skus.first { $0["sku"] as? String == "hoodie" }?["sellable"] as? Int == 2)
        #expect(publisher.stats.snapshots.load(ordering: .relaxed) >= 1)
    }

    /// Redis stops while orders go on: the core keeps its messages, reconnects when Redis is
    /// back, and the stream has every one of them, contiguous, none twice.
    @Test func aRedisOutageLosesNothingPublishedMeanwhile() throws {
        let redis = try RedisServer()
        let url = RedisURL(host: "127.0.0.1", port: redis.port)
        let room = try RoomFixture { configuration in
            configuration.cluster = ClusterSettings(redis: url)
        }
        let (viewer, _) = try room.join(.viewer)
        let (connector, _) = try room.join(.connector, channel: "douyin")
        let publisher = try #require(room.gateway.cluster)
        let key = publisher.key(room: "demo", audience: .viewer)
        do {
            let reader = try ClientHarness(url: url)
            #expect(reader.waitUntilReady())
            connector.sendJSON(["type": "order", "orderId": "O-0", "sku": "cap", "qty": 1, "state": "paid"])
            #expect(viewer.read(type: "stock") != nil)
            #expect(Self.waitForEntries(reader, key: key, count: 1) >= 1)
        }
        redis.stop()
        for index in 1...30 {
            connector.sendJSON(["type": "order", "orderId": "O-\(index)", "sku": "cap", "qty": 1, "state": "paid"])
        }
        let during = try Self.readUntil(viewer, sku: "cap", sellable: 69)
        let lastSeq = try #require(during.last?.seq)
        let firstDuring = try #require(during.first?.seq)
        #expect(during.count >= 1, "viewers are served while Redis is away")
        usleep(300_000)
        try redis.start()  // empty: nothing was saved
        let reader = try ClientHarness(url: url)
        #expect(reader.waitUntilReady())
        let expected = lastSeq - firstDuring + 1
        #expect(Self.waitForEntries(reader, key: key, count: expected) >= expected)
        let stored = try Self.entries(reader, key: key)
        let ids = stored.map(\.id)
        // What was published while Redis was down is all there, in order, once, as viewers got it
        // (the restarted Redis is empty: what it held before is gone, which readers see as a gap).
        let fromOutage = stored.filter { Int($0.id.dropFirst(2)).map { $0 >= firstDuring } ?? false }
        #expect(fromOutage.map(\.id).prefix(expected) == ArraySlice((firstDuring...lastSeq).map { "0-\($0)" }))
        for message in during {
            #expect(fromOutage.first { $0.id == "0-\(message.seq)" }?.message == message.text, "seq \(message.seq)")
        }
        #expect(Set(ids).count == ids.count)
        // The restarted (empty) Redis gets the snapshot again, with the figures after the outage.
        let snapshotKey = publisher.snapshotKey(room: "demo", audience: .viewer)
        let deadline = Date().addingTimeInterval(10)
        var sellable: Int?
        while Date() < deadline {
            if let text = try reader.call(["GET", snapshotKey])?.get().string,
               let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
               let skus = object["skus"] as? [[String: Any]] {
                sellable = skus.first { $0["sku"] as? String == "cap" }?["sellable"] as? Int
                if sellable == 69 { break }
            }
            usleep(20_000)
        }
        #expect(sellable == 69)
        #expect(publisher.stats.reconnects.load(ordering: .relaxed) >= 1)
        #expect(publisher.stats.dropped.load(ordering: .relaxed) == 0)
        let http = try TestClient(port: room.port)
        http.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        let metrics = try #require(http.readResponse())
        #expect(metrics.body.contains("livegate_redis_ready 1"))
        #expect(metrics.body.contains("livegate_redis_published_total"))
    }
}

struct ClusterConfigurationTests {
    @Test func theClusterSectionIsReadAndCheckedByName() throws {
        let config = try Configuration.parse(Data(
            "{ cluster: { redis: 'redis://:pw@10.0.0.5:6390/2', prefix: 'room7', streamLength: 50000 } }".utf8))
        let cluster = try #require(config.cluster)
        #expect(cluster.redis == RedisURL(host: "10.0.0.5", port: 6390, password: "pw", database: 2))
        #expect(cluster.prefix == "room7")
        #expect(cluster.streamLength == 50_000)
        #expect(cluster.role == .core)
        #expect(try Configuration.parse(Data("{ port: 9000 }".utf8)).cluster == nil, "no cluster unless asked")

        let cases: [(String, String)] = [
            ("{ cluster: { } }", "redis"),
            ("{ cluster: { redis: 'http://x' } }", "cluster.redis"),
            ("{ cluster: { redis: 'redis://x', redisCAFile: '/etc/passwd' } }", "cluster.redisCAFile: set, but cluster.redis is redis://"),
            ("{ cluster: { redis: 'rediss://x', redisCAFile: '/nonexistent/ca.pem' } }", "cluster.redisCAFile: cannot read '/nonexistent/ca.pem'"),
            ("{ cluster: { redis: 'rediss://x', redisCAFile: '/tmp' } }", "cluster.redisCAFile: cannot read '/tmp': a directory"),
            ("{ cluster: { redis: 'rediss://x', redisCertFile: '/etc/passwd' } }", "cluster.redisKeyFile: missing"),
            ("{ cluster: { redis: 'rediss://x', redisKeyFile: '/etc/passwd' } }", "cluster.redisCertFile: missing"),
            ("{ cluster: { redis: 'rediss://x', redisCAFile: 5 } }", "cluster.redisCAFile: expected a string"),
            ("{ cluster: { redis: 'redis://x', role: 'relay' } }", "expected core or edge"),
            ("{ cluster: { redis: 'redis://x', prefix: 'a b' } }", "cluster.prefix"),
            ("{ streams: { historySize: 5000 }, cluster: { redis: 'redis://x', streamLength: 1000 } }", "at least streams.historySize"),
            ("{ cluster: { redis: 'redis://x', stream: 5 } }", "stream"),
        ]
        for (text, expected) in cases {
            do {
                _ = try Configuration.parse(Data(text.utf8))
                Issue.record("\(text) was accepted")
            } catch {
                #expect("\(error)".contains(expected), "\(text): \(error)")
            }
        }
    }
}

/// Redis refuses writes for a while (out of memory): nothing is counted as published that is
/// not in the stream, and once Redis takes writes again every message lands, in order, once.
@Suite(.serialized)
struct ClusterRefusalTests {
    @Test func refusedEntriesAreRetriedNotLost() throws {
        let redis = try RedisServer()
        let url = RedisURL(host: "127.0.0.1", port: redis.port)
        let room = try RoomFixture { $0.cluster = ClusterSettings(redis: url) }
        let admin = try ClientHarness(url: url)
        #expect(admin.waitUntilReady())
        let publisher = try #require(room.gateway.cluster)
        let key = publisher.key(room: "demo", audience: .viewer)
        let (viewer, _) = try room.join(.viewer)
        let (connector, _) = try room.join(.connector, channel: "kuaishou")
        connector.sendJSON(["type": "order", "orderId": "M-0", "sku": "cap", "qty": 1, "state": "paid"])
        _ = try ClusterPublisherTests.readUntil(viewer, sku: "cap", sellable: 99)
        #expect(ClusterPublisherTests.waitForEntries(admin, key: key, count: 1) >= 1)
        // Everything published so far is acknowledged before Redis starts refusing (a slow run,
        // e.g. under AddressSanitizer, may still have entries in flight here).
        let settled = Date().addingTimeInterval(10)
        while publisher.stats.queued.load(ordering: .relaxed) > 0 && Date() < settled { usleep(20_000) }
        usleep(200_000)
        let before = try ClusterPublisherTests.entries(admin, key: key).count

        #expect(try admin.call(["CONFIG", "SET", "maxmemory-policy", "noeviction"])?.get() == .simpleString("OK"))
        #expect(try admin.call(["CONFIG", "SET", "maxmemory", "1"])?.get() == .simpleString("OK"))
        for index in 1...10 {
            connector.sendJSON(["type": "order", "orderId": "M-\(index)", "sku": "cap", "qty": 1, "state": "paid"])
        }
        let during = try ClusterPublisherTests.readUntil(viewer, sku: "cap", sellable: 89)
        let deadline = Date().addingTimeInterval(5)
        while publisher.stats.refusals.load(ordering: .relaxed) == 0 && Date() < deadline { usleep(20_000) }
        #expect(publisher.stats.refusals.load(ordering: .relaxed) >= 1, "Redis refused the writes")
        #expect(try ClusterPublisherTests.entries(admin, key: key).count == before, "nothing landed")
        #expect(publisher.stats.queued.load(ordering: .relaxed) >= 1, "the refused entries are kept")

        #expect(try admin.call(["CONFIG", "SET", "maxmemory", "0"])?.get() == .simpleString("OK"))
        let lastSeq = try #require(during.last?.seq)
        #expect(ClusterPublisherTests.waitForEntries(admin, key: key, count: lastSeq) >= lastSeq)
        let ids = try ClusterPublisherTests.entries(admin, key: key).map(\.id)
        #expect(ids == (1...lastSeq).map { "0-\($0)" })
        #expect(publisher.stats.dropped.load(ordering: .relaxed) == 0)
    }
}

/// A core and an edge in one process, over a real `redis-server`: the edge's viewers get what the
/// core's viewers get, byte for byte, and resume works from either node with the core's epoch.
@Suite(.serialized)
struct EdgeTests {
    final class Edge {
        let gateway: EdgeGateway
        var port: Int { gateway.server.port }

        init(redis: RedisURL, prefix: String = "livegate", adjust: (inout ClusterSettings) -> Void = { _ in }) throws {
            var configuration = RoomFixture.configuration(dataDir: NSTemporaryDirectory() + "livegate-edge-unused")
            var settings = ClusterSettings(redis: redis)
            settings.role = .edge
            settings.prefix = prefix
            adjust(&settings)
            configuration.cluster = settings
            gateway = try EdgeGateway(configuration: configuration)
            try gateway.start()
        }

        deinit { gateway.shutdown() }

        /// Waits (bounded) until /readyz says ready.
        func waitUntilReady(seconds: Double = 10) throws -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                let http = try TestClient(port: port)
                http.send("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
                if http.readResponse()?.status == 200 { return true }
                usleep(50_000)
            }
            return false
        }
    }

    /// Messages with a seq after `after`, until a stock of `sku` at `sellable`.
    static func read(_ client: TestClient, after: Int, sku: String, sellable: Int) throws -> [(seq: Int, text: String)] {
        try ClusterPublisherTests.readUntil(client, sku: sku, sellable: sellable).filter { $0.seq > after }
    }

    @Test func anEdgeViewerGetsWhatACoreViewerGetsAndResumesAnywhere() throws {
        let redis = try RedisServer()
        let url = RedisURL(host: "127.0.0.1", port: redis.port)
        let core = try RoomFixture { $0.cluster = ClusterSettings(redis: url) }
        let edge = try Edge(redis: url)
        #expect(try edge.waitUntilReady(), "the edge follows the core")

        let token = core.token(.viewer, sub: "v1")
        let atEdge = try TestClient(port: edge.port)
        #expect(atEdge.upgrade(path: "/ws?token=\(token)") == 101)
        let edgeSnapshot = try #require(atEdge.readJSON())
        #expect(edgeSnapshot["type"] as? String == "snapshot")
        let (atCore, coreSnapshot) = try core.join(.viewer, sub: "v2")
        let epoch = try #require(coreSnapshot["epoch"] as? String)
        #expect(edgeSnapshot["epoch"] as? String == epoch, "the edge speaks the core's epoch")
        #expect((edgeSnapshot["skus"] as? [[String: Any]])?.first?["sellable"] as? Int == 10)

        let (connector, _) = try core.join(.connector, channel: "taobao")
        for index in 1...5 {
            connector.sendJSON(["type": "order", "orderId": "E-\(index)", "sku": "hoodie", "qty": 1, "state": "paid"])
        }
        let start = max(edgeSnapshot["seq"] as? Int ?? 0, coreSnapshot["seq"] as? Int ?? 0)
        let fromEdge = try Self.read(atEdge, after: start, sku: "hoodie", sellable: 5)
        let fromCore = try Self.read(atCore, after: start, sku: "hoodie", sellable: 5)
        #expect(!fromEdge.isEmpty)
        #expect(fromEdge.map(\.seq) == fromCore.map(\.seq), "the same messages, in the same order")
        #expect(fromEdge.map(\.text) == fromCore.map(\.text), "byte for byte")
        let lastSeen = try #require(fromEdge.last?.seq)

        // The edge viewer leaves; three more orders; it comes back at the core with since/epoch
        // and gets exactly what it missed, without a snapshot; the same at the edge.
        atEdge.sendFrame(.close, [0x03, 0xE8])
        for index in 6...8 {
            connector.sendJSON(["type": "order", "orderId": "E-\(index)", "sku": "hoodie", "qty": 1, "state": "paid"])
        }
        let missed = try Self.read(atCore, after: lastSeen, sku: "hoodie", sellable: 2)
        #expect(!missed.isEmpty)
        for port in [core.port, edge.port] {
            let back = try TestClient(port: port)
            #expect(back.upgrade(path: "/ws?token=\(token)&since=\(lastSeen)&epoch=\(epoch)") == 101)
            var resumed: [(seq: Int, text: String)] = []
            let deadline = Date().addingTimeInterval(10)
            while resumed.count < missed.count && Date() < deadline, let frame = back.readFrame() {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(frame.payload)) as? [String: Any])
                #expect(object["type"] as? String != "snapshot", "a resume, not a snapshot (port \(port))")
                if let seq = object["seq"] as? Int { resumed.append((seq, String(decoding: frame.payload, as: UTF8.self))) }
            }
            #expect(resumed.map(\.seq) == missed.map(\.seq), "port \(port)")
            #expect(resumed.map(\.text) == missed.map(\.text), "port \(port)")
        }
    }

    /// Redis restarts (empty) while orders go on: the edge's viewer gets every message after
    /// the outage in order with no gap, or is sent away (1012) to take a fresh snapshot; never a
    /// silent gap. Here the core's queue covers the outage, so the stream goes on unbroken.
    @Test func aRedisRestartLeavesNoSilentGapAtTheEdge() throws {
        let redis = try RedisServer()
        let url = RedisURL(host: "127.0.0.1", port: redis.port)
        let core = try RoomFixture { $0.cluster = ClusterSettings(redis: url) }
        let edge = try Edge(redis: url)
        #expect(try edge.waitUntilReady())
        let viewer = try TestClient(port: edge.port)
        #expect(viewer.upgrade(path: "/ws?token=\(core.token(.viewer))") == 101)
        let snapshot = try #require(viewer.readJSON())
        let (connector, _) = try core.join(.connector, channel: "douyin")
        connector.sendJSON(["type": "order", "orderId": "RR-0", "sku": "cap", "qty": 1, "state": "paid"])
        let before = try ClusterPublisherTests.readUntil(viewer, sku: "cap", sellable: 99)
        redis.stop()
        for index in 1...6 {
            connector.sendJSON(["type": "order", "orderId": "RR-\(index)", "sku": "cap", "qty": 1, "state": "paid"])
            #expect(connector.read(type: "result")?["ok"] as? Bool == true, "orders go on at the core")
        }
        usleep(300_000)
        try redis.start()
        var seqs = [snapshot["seq"] as? Int ?? 0] + before.map(\.seq)
        var finalSellable: Int?
        var closedWith: UInt16?
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline, finalSellable != 93 {
            guard let frame = viewer.readFrame() else { break }
            if frame.opcode == 8 {
                closedWith = closeCode(frame.payload)
                break
            }
            let object = try #require(try JSONSerialization.jsonObject(with: Data(frame.payload)) as? [String: Any])
            if let seq = object["seq"] as? Int { seqs.append(seq) }
            if object["type"] as? String == "stock", object["sku"] as? String == "cap" { finalSellable = object["sellable"] as? Int }
        }
        if let closedWith {
            // Sent away: it must be 1012, and a new join gets the true figures.
            #expect(closedWith == 1012)
            #expect(try edge.waitUntilReady())
            let again = try TestClient(port: edge.port)
            #expect(again.upgrade(path: "/ws?token=\(core.token(.viewer))") == 101)
            let fresh = try #require(again.read(type: "snapshot"))
            let cap = (fresh["skus"] as? [[String: Any]])?.first { $0["sku"] as? String == "cap" }
            #expect(cap?["sellable"] as? Int == 93)
        } else {
            #expect(finalSellable == 93, "every order reached the edge's viewer")
            #expect(seqs == Array(seqs[0]...(seqs.last ?? 0)), "no gap: \(seqs)")
        }
    }

    /// Joins at the edge as `role`; the client and its snapshot.
    static func join(_ edge: Edge, _ core: RoomFixture, _ role: Role, sub: String = "t", channel: String? = nil,
                     timeoutSeconds: Int = 5) throws -> (TestClient, [String: Any]) {
        let client = try TestClient(port: edge.port, timeoutSeconds: timeoutSeconds)
        #expect(client.upgrade(path: "/ws?token=\(core.token(role, sub: sub, channel: channel))") == 101)
        let snapshot = try #require(client.readJSON())
        #expect(snapshot["type"] as? String == "snapshot", "\(role) at the edge starts with a snapshot")
        return (client, snapshot)
    }

    static func post(_ port: Int, _ body: String, token: String?) throws -> (status: Int, body: String) {
        let http = try TestClient(port: port)
        let authorization = token.map { "Authorization: Bearer \($0)\r\n" } ?? ""
        http.send("POST /v1/orders HTTP/1.1\r\nHost: x\r\n\(authorization)Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let response = try #require(http.readResponse())
        return (response.status, response.body)
    }

    /// Every role works at an edge: orders from a connector's socket and from `POST /v1/orders`,
    /// an operator's commands and a viewer's danmaku go to the core through Redis, their answers
    /// come back to the sender (a `result` only once durable, duplicates as duplicates), and their
    /// effects reach every node's clients.
    @Test func clientsOfEveryRoleAreServedAtAnEdgeThroughTheCore() throws {
        let redis = try RedisServer()
        let url = RedisURL(host: "127.0.0.1", port: redis.port)
        let core = try RoomFixture { $0.cluster = ClusterSettings(redis: url) }
        let edge = try Edge(redis: url)
        #expect(try edge.waitUntilReady())
        let (viewer, _) = try Self.join(edge, core, .viewer)
        let (coreViewer, _) = try core.join(.viewer, sub: "at-core")

        // A connector's order at the edge: its durable result comes back with its id; the same
        // order again is a duplicate, applied once.
        let (connector, _) = try Self.join(edge, core, .connector, channel: "douyin")
        connector.sendJSON(["type": "order", "id": "o1", "orderId": "EDGE-1", "sku": "hoodie", "qty": 2, "state": "paid"])
        let result = try #require(connector.read(type: "result"))
        #expect(result["id"] as? String == "o1")
        #expect(result["ok"] as? Bool == true)
        connector.sendJSON(["type": "order", "id": "o2", "orderId": "EDGE-1", "sku": "hoodie", "qty": 2, "state": "paid"])
        let again = try #require(connector.read(type: "result"))
        #expect(again["id"] as? String == "o2")
        #expect(again["duplicate"] as? Bool == true)
        _ = try ClusterPublisherTests.readUntil(viewer, sku: "hoodie", sellable: 8)
        _ = try ClusterPublisherTests.readUntil(coreViewer, sku: "hoodie", sellable: 8)
        // A refused order names the field, from the core.
        connector.sendJSON(["type": "order", "id": "o3", "orderId": "EDGE-2", "sku": "nope", "qty": 1, "state": "paid"])
        let refused = try #require(connector.read(type: "error"))
        #expect(refused["id"] as? String == "o3")
        #expect(refused["field"] as? String == "sku")

        // POST /v1/orders at the edge: the core's answer, after the orders are durable.
        let body = #"[{"orderId":"EDGE-H1","sku":"cap","qty":3,"state":"paid"},{"orderId":"EDGE-1","sku":"hoodie","qty":2,"state":"paid"}]"#
        let posted = try Self.post(edge.port, body, token: core.token(.connector, channel: "douyin"))
        #expect(posted.status == 200, "\(posted.body)")
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(posted.body.utf8)) as? [String: Any])
        let results = try #require(answer["results"] as? [[String: Any]])
        #expect(results.map { $0["ok"] as? Bool } == [true, true])
        #expect(results.map { $0["duplicate"] as? Bool } == [false, true])
        _ = try ClusterPublisherTests.readUntil(viewer, sku: "cap", sellable: 97)
        #expect(try Self.post(edge.port, body, token: nil).status == 401)
        #expect(try Self.post(edge.port, body, token: "garbage").status == 401)
        #expect(try Self.post(edge.port, body, token: core.token(.viewer)).status == 403)
        let bad = try Self.post(edge.port, #"{"orderId":"X","sku":"cap","state":"paid"}"#, token: core.token(.connector, channel: "douyin"))
        #expect(bad.status == 400)
        #expect(bad.body.contains("qty"))

        // An operator at the edge: the console's join messages, commands with durable results,
        // errors that name the field, in the order sent.
        let (console, _) = try Self.join(edge, core, .operator, sub: "ops")
        #expect(console.read(type: "alerts") != nil, "the open alerts follow the snapshot")
        console.sendJSON(["type": "restock", "id": "r1", "sku": "hoodie", "qty": 5])
        let restocked = try #require(console.read(type: "result"))
        #expect(restocked["id"] as? String == "r1")
        #expect(restocked["ok"] as? Bool == true)
        // 10 − 2 + 5: the order sent twice (socket, then HTTP) was sold once.
        _ = try ClusterPublisherTests.readUntil(viewer, sku: "hoodie", sellable: 13)
        console.sendJSON(["type": "policy", "id": "p1", "sku": "hoodie", "safetyMinimum": -1])
        let policyError = try #require(console.read(type: "error"))
        #expect(policyError["id"] as? String == "p1")
        #expect(policyError["field"] as? String == "safetyMinimum")
        viewer.sendJSON(["type": "order", "id": "v1", "orderId": "V-1", "sku": "hoodie", "qty": 1, "state": "paid"])
        #expect(try #require(viewer.read(type: "error"))["code"] as? String == "forbidden", "a viewer may not order, at an edge either")

        // A viewer's danmaku at the edge reaches the core's viewers.
        viewer.sendJSON(["type": "danmaku", "text": "from the edge"])
        let line = try #require(coreViewer.read(type: "danmaku"))
        #expect(line["text"] as? String == "from the edge")
    }

    /// The consoles' `presence` counts the clients of every node: a host page and an overlay at
    /// an edge show at the core's console within seconds, and go when they leave; a refused
    /// (expired) token at the edge shows as the role's last refusal. The report line parses back.
    @Test func presenceCountsTheClientsOfEdges() throws {
        let report = ClusterWire.EdgeReport(at: 5, lagMilliseconds: 7, positions: [.init(epoch: "e1", room: "demo", audience: .viewer, seq: 9)],
                                            presence: ["demo": Presence.Snapshot(roles: [1, 0, 2, 0, 3], pages: [0, 1, 2],
                                                                                 refused: [nil, Presence.Refusal(reason: "token expired", at: 4, subject: "主播 a/b", page: .host), nil, nil, nil])])
        #expect(ClusterWire.EdgeReport(report.text) == report)
        #expect(ClusterWire.EdgeReport("5 7 p/demo/1.2/3 f/demo/9/1/-/zz/00 e1/demo/viewer/9")?.presence.isEmpty == true, "malformed words are skipped")

        let redis = try RedisServer()
        let url = RedisURL(host: "127.0.0.1", port: redis.port)
        let core = try RoomFixture { $0.cluster = ClusterSettings(redis: url) }
        let edge = try Edge(redis: url)
        #expect(try edge.waitUntilReady())
        let (console, _) = try core.join(.operator, sub: "ops")
        func presence(until done: ([String: Any]) -> Bool) -> [String: Any]? {
            let deadline = Date().addingTimeInterval(8)
            while Date() < deadline {
                guard let message = console.read(type: "presence", limit: 200) else { return nil }
                if done(message) { return message }
            }
            return nil
        }
        let host = try TestClient(port: edge.port)
        #expect(host.upgrade(path: "/ws?token=\(core.token(.host))&page=host") == 101)
        let overlay = try TestClient(port: edge.port)
        #expect(overlay.upgrade(path: "/ws?token=\(core.token(.viewer))&page=overlay") == 101)
        let joined = try #require(presence { (($0["pages"] as? [String: Int])?["overlay"] ?? 0) == 1 && (($0["roles"] as? [String: Int])?["host"] ?? 0) == 1 })
        #expect((joined["pages"] as? [String: Int])?["host"] == 1)
        #expect((joined["roles"] as? [String: Int])?["operator"] == 1, "the core's own console counts too")
        shutdown(host.fd, Int32(SHUT_RDWR))
        let left = try #require(presence { (($0["roles"] as? [String: Int])?["host"] ?? -1) == 0 })
        #expect((left["pages"] as? [String: Int])?["overlay"] == 1)
        let expired = try TestClient(port: edge.port)
        _ = expired.upgrade(path: "/ws?token=\(core.token(.host, sub: "late-host", expiresIn: -60))&page=host")
        let refused = try #require(presence { ($0["refused"] as? [[String: Any]])?.contains { $0["sub"] as? String == "late-host" } == true })
        let refusal = try #require((refused["refused"] as? [[String: Any]])?.first { $0["role"] as? String == "host" })
        #expect(refusal["page"] as? String == "host")
        #expect((refusal["reason"] as? String)?.contains("expired") == true)
    }

    /// The core tells an edge which requests it did not run: too late for their deadline, or
    /// never seen (a number skipped: lost on the way); the edge answers those `unavailable` at
    /// once instead of waiting for an answer that never comes.
    @Test func theCoreSaysWhichRequestsItDidNotRun() throws {
        let redis = try RedisServer()
        let url = RedisURL(host: "127.0.0.1", port: redis.port)
        let core = try RoomFixture { $0.cluster = ClusterSettings(redis: url) }
        let harness = try ClientHarness(url: url)
        _ = harness.waitUntilReady()
        let ready = Date().addingTimeInterval(5)
        while Date() < ready, case .success(let value)? = harness.call(["XINFO", "GROUPS", "livegate:requests"]), value.elements?.isEmpty != false {
            usleep(50_000)
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let token = core.token(.viewer)
        func request(_ number: Int, deadline: Int64) {
            _ = harness.call(["XADD", "livegate:requests", "*", "e", "fake-edge", "n", String(number), "c", "1", "k", "m",
                              "d", String(deadline), "t", token, "m", #"{"type":"danmaku","text":"hi"}"#])
        }
        request(1, deadline: now + 5_000)   // run
        request(3, deadline: now - 1)       // 2 never came; 3 too late
        request(4, deadline: now + 5_000)   // run
        request(1, deadline: now + 5_000)   // seen before: ignored
        var marks: [(n: String, r: String?)] = []
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, !marks.contains(where: { $0.n == "4" }) {
            usleep(100_000)
            guard case .success(let value)? = harness.call(["XRANGE", "livegate:answers:fake-edge", "-", "+"]), let entries = value.elements else { continue }
            marks = entries.compactMap { entry in
                guard let fields = entry.elements?.last?.elements?.compactMap(\.string) else { return nil }
                let map = Dictionary(stride(from: 0, to: fields.count - 1, by: 2).map { (fields[$0], fields[$0 + 1]) }, uniquingKeysWith: { $1 })
                return map["n"].map { ($0, map["r"]) }
            }
        }
        let notRun = marks.compactMap(\.r).joined(separator: ",")
        #expect(notRun == "2-3", "\(marks)")
        #expect(marks.last?.n == "4", "\(marks)")
        #expect(EdgeRelay.ranges(Array("2-3,7-7,x,9-8".utf8)) == [2...3, 7...7])
    }

    /// With the core gone, messages at an edge are refused at once with `unavailable` (an orders
    /// request with 503), never acknowledged; a core that says it runs but takes nothing gets an
    /// `unavailable` answer at the deadline; with Redis gone, the senders are sent away (1012).
    @Test func anEdgeRefusesWhatTheCoreCannotTake() throws {
        let redis = try RedisServer()
        let url = RedisURL(host: "127.0.0.1", port: redis.port)
        var core: RoomFixture? = try RoomFixture { $0.cluster = ClusterSettings(redis: url) }
        let token = core!.token(.connector, channel: "taobao")
        let edge = try Edge(redis: url)
        #expect(try edge.waitUntilReady())
        // Reads wait past the edge's 5 s deadline.
        var (connector, _) = try Self.join(edge, core!, .connector, channel: "taobao", timeoutSeconds: 15)
        connector.sendJSON(["type": "order", "id": "a", "orderId": "R-1", "sku": "cap", "qty": 1, "state": "paid"])
        #expect(connector.read(type: "result")?["ok"] as? Bool == true)

        core = nil  // shut down: its heartbeat goes
        let harness = try ClientHarness(url: url)
        _ = harness.waitUntilReady()
        let gone = Date().addingTimeInterval(5)
        while Date() < gone, case .success(let value)? = harness.call(["EXISTS", "livegate:core"]), value != .integer(0) { usleep(50_000) }
        // The edge sees the heartbeat go (it reads it every second): a client that sent is sent
        // away (an answer it waits for may never come); back, it is refused at once.
        var sentAway: (opcode: UInt8, payload: [UInt8])?
        for _ in 0..<50 {
            guard let frame = connector.readFrame() else { break }
            if frame.opcode == 8 {
                sentAway = (frame.opcode, frame.payload)
                break
            }
        }
        #expect(sentAway.map { closeCode($0.payload) } == 1012, "the client that sent is sent away")
        connector = try TestClient(port: edge.port, timeoutSeconds: 15)
        #expect(connector.upgrade(path: "/ws?token=\(token)") == 101)
        _ = connector.readJSON()
        let started = Date()
        connector.sendJSON(["type": "order", "id": "b", "orderId": "R-2", "sku": "cap", "qty": 1, "state": "paid"])
        let refusal = try #require(connector.read(type: "error"))
        #expect(refusal["id"] as? String == "b")
        #expect(refusal["code"] as? String == "unavailable")
        #expect((refusal["message"] as? String)?.contains("core is not running") == true)
        #expect(Date().timeIntervalSince(started) < 1, "refused at once")
        let posted = try Self.post(edge.port, #"{"orderId":"R-3","sku":"cap","qty":1,"state":"paid"}"#, token: token)
        #expect(posted.status == 503)
        #expect(posted.body.contains("unavailable"))

        // A heartbeat with nobody behind it: the message waits for its deadline, then `unavailable`.
        _ = harness.call(["SET", "livegate:core", "ghost", "PX", "60000"])
        usleep(1_300_000)
        let sent = Date()
        connector.sendJSON(["type": "order", "id": "c", "orderId": "R-4", "sku": "cap", "qty": 1, "state": "paid"])
        let late = try #require(connector.read(type: "error"))
        #expect(late["id"] as? String == "c")
        #expect(late["code"] as? String == "unavailable")
        #expect((late["message"] as? String)?.contains("orderId") == true, "it says how to retry safely")
        let waited = Date().timeIntervalSince(sent)
        #expect(waited >= 4 && waited < 8, "answered at the deadline (\(waited) s)")

        // Redis goes away: the client that sent is sent away to reconnect; nothing is acknowledged.
        redis.stop()
        let frame = try #require(connector.readFrame())
        #expect(frame.opcode == 8)
        #expect(closeCode(frame.payload) == 1012)
        // While Redis is away, orders at the edge are refused at once: 503 over HTTP, `unavailable`
        // on a socket of a client that comes back.
        let refused = try Self.post(edge.port, #"{"orderId":"R-5","sku":"cap","qty":1,"state":"paid"}"#, token: token)
        #expect(refused.status == 503)
        #expect(refused.body.contains("unavailable"))
        let back = try TestClient(port: edge.port)
        #expect(back.upgrade(path: "/ws?token=\(token)") == 101, "the edge still serves what it holds")
        #expect(back.readJSON()?["type"] as? String == "snapshot")
        back.sendJSON(["type": "order", "id": "d", "orderId": "R-6", "sku": "cap", "qty": 1, "state": "paid"])
        let error = try #require(back.read(type: "error"))
        #expect(error["code"] as? String == "unavailable")
    }
}
