import Foundation
import LiveGateRedis
import LiveGateTestSupport
import Testing

@testable import LiveGate

/// The cluster's fault drills between real processes: a core and two edges (the built `livegate`
/// binary, each its own process) over a real `redis-server`, killed, frozen and restarted by PID.
@Suite(.serialized)
struct ClusterFaultTests {
    static let secret = "cluster-fault-test-secret"

    /// A `livegate` child, stopped by its PID.
    final class Node {
        let port: Int
        private(set) var pid: pid_t = 0
        let arguments: [String]

        init(config: String, dataDir: String, redis: String, edge: Bool, name: String? = nil) throws {
            port = try RedisServer.freePort()
            arguments = ["--config", config, "--port", String(port), "--data-dir", dataDir, "--redis", redis, "--log-level", "warning"]
                + (edge ? ["--edge"] : []) + (name.map { ["--node", $0] } ?? [])
            try start()
        }

        func start() throws {
            guard let binary = BuiltExecutable.path("livegate") else { throw RedisServer.SetupError(description: "livegate not built") }
            var argv: [UnsafeMutablePointer<CChar>?] = ([binary] + arguments).map { strdup($0) } + [nil]
            defer { for pointer in argv { free(pointer) } }
            var child: pid_t = 0
            guard posix_spawn(&child, binary, nil, nil, &argv, environ) == 0 else {
                throw RedisServer.SetupError(description: "posix_spawn livegate")
            }
            pid = child
        }

        func signal(_ number: Int32) {
            if pid > 0 { kill(pid, number) }
        }

        /// Sends `number` and reaps the process (SIGKILL after 10 s).
        func stop(_ number: Int32 = SIGKILL) {
            guard pid > 0 else { return }
            kill(pid, SIGCONT)
            kill(pid, number)
            var status: Int32 = 0
            let deadline = Date().addingTimeInterval(10)
            while waitpid(pid, &status, WNOHANG) == 0 {
                if Date() > deadline { kill(pid, SIGKILL) }
                usleep(20_000)
            }
            pid = 0
        }

        deinit { stop() }

        /// Waits (bounded) until `/readyz` answers 200.
        func waitUntilReady(seconds: Double = 15) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if let http = try? TestClient(port: port, timeoutSeconds: 1) {
                    http.send("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
                    if http.readResponse()?.status == 200 { return true }
                }
                usleep(50_000)
            }
            return false
        }
    }

    /// A temporary directory with a config (room `live`, SKU `tee`), a data directory, Redis,
    /// a core and two edges, all ready.
    final class Cluster {
        let directory = TemporaryDirectory(prefix: "livegate-cluster-")
        let redis: RedisServer
        let core: Node
        let edges: [Node]
        let authority = TokenAuthority(secret: ClusterFaultTests.secret)

        init() throws {
            redis = try RedisServer()
            let config = directory.path + "/livegate.json5"
            try """
                {
                  host: "127.0.0.1", ioThreads: 1, tokenSecret: "\(ClusterFaultTests.secret)",
                  webSocket: { idlePingSeconds: 0 },
                  skus: [{ id: "tee", name: "Tee", onHand: 100000, policy: { safetyMinimum: 0, emergencyLine: 0 } }],
                  rooms: [{ id: "live", title: "Live", skus: ["tee"], featured: "tee" }],
                }
                """.write(toFile: config, atomically: true, encoding: .utf8)
            let url = "redis://127.0.0.1:\(redis.port)"
            let base = directory.path
            core = try Node(config: config, dataDir: base + "/data", redis: url, edge: false)
            edges = try (0..<2).map { index in
                try Node(config: config, dataDir: base + "/edge\(index)", redis: url, edge: true, name: "edge\(index)")
            }
            guard core.waitUntilReady(), edges.allSatisfy({ $0.waitUntilReady() }) else {
                throw RedisServer.SetupError(description: "the cluster did not get ready")
            }
        }

        deinit {
            for edge in edges { edge.stop() }
            core.stop()
            directory.remove()
        }

        func token(_ role: Role, channel: String? = nil) -> String {
            authority.mint(TokenClaims(subject: "t", room: "live", role: role, expiresAt: Int64(Date().timeIntervalSince1970) + 3600,
                                       channel: channel))
        }

        func viewer(at node: Node, query: String = "") throws -> (TestClient, [String: Any]) {
            let client = try TestClient(port: node.port)
            #expect(client.upgrade(path: "/ws?token=\(token(.viewer))\(query)") == 101)
            return (client, try #require(client.readJSON()))
        }

        /// Sends `count` orders of 1 to the core, each answered before the next.
        func order(_ connector: TestClient, from: Int, count: Int) {
            for index in from..<(from + count) {
                connector.sendJSON(["type": "order", "orderId": "F-\(index)", "sku": "tee", "qty": 1, "state": "paid"])
                _ = connector.read(type: "result", limit: 50)
            }
        }
    }

    /// The `seq`s and texts of a client's messages until a `stock` with `sellable`.
    static func read(_ client: TestClient, until sellable: Int) -> [(seq: Int, text: String)] {
        var seen: [(seq: Int, text: String)] = []
        for _ in 0..<2_000 {
            guard let frame = client.readFrame(), frame.opcode == 1,
                  let object = try? JSONSerialization.jsonObject(with: Data(frame.payload)) as? [String: Any]
            else { break }
            if let seq = object["seq"] as? Int { seen.append((seq, String(decoding: frame.payload, as: UTF8.self))) }
            if object["type"] as? String == "stock", object["sellable"] as? Int == sellable { return seen }
        }
        return seen
    }

    /// An edge is killed (SIGKILL) during the sale: its viewer reconnects to the other edge with
    /// `since`/`epoch` and gets every message it missed, in order, none twice, without a snapshot.
    @Test func aKilledEdgesViewersResumeAtAnotherEdge() throws {
        let cluster = try Cluster()
        let (connector, _) = try {
            let client = try TestClient(port: cluster.core.port)
            #expect(client.upgrade(path: "/ws?token=\(cluster.token(.connector, channel: "taobao"))") == 101)
            return (client, try #require(client.readJSON()))
        }()
        let (onFirst, snapshot) = try cluster.viewer(at: cluster.edges[0])
        let (witness, _) = try cluster.viewer(at: cluster.core)
        let epoch = try #require(snapshot["epoch"] as? String)
        cluster.order(connector, from: 0, count: 10)
        let before = Self.read(onFirst, until: 99_990)
        let lastSeen = try #require(before.last?.seq)
        cluster.edges[0].stop(SIGKILL)
        cluster.order(connector, from: 10, count: 20)
        let truth = Self.read(witness, until: 99_970).filter { $0.seq > lastSeen }
        #expect(!truth.isEmpty)
        let started = Date()
        let (resumed, first) = try cluster.viewer(at: cluster.edges[1], query: "&since=\(lastSeen)&epoch=\(epoch)")
        #expect(first["type"] as? String != "snapshot", "a resume, not a snapshot")
        var got: [(seq: Int, text: String)] = []
        if let seq = first["seq"] as? Int {
            got.append((seq, String(decoding: try JSONSerialization.data(withJSONObject: first), as: UTF8.self)))
        }
        got += Self.read(resumed, until: 99_970)
        #expect(got.map(\.seq) == truth.map(\.seq), "every missed message, in order, once")
        #expect(Array(got.dropFirst().map(\.text)) == Array(truth.dropFirst().map(\.text)))
        #expect(Date().timeIntervalSince(started) < 5, "resumed within 5 s")
    }

    /// One edge frozen (SIGSTOP) for 3 s does not hold up the core or the other edge; thawed, its
    /// viewer gets every message in order, or a 1012 and a fresh snapshot: never a silent gap.
    @Test func aFrozenEdgeSlowsNobodyAndCatchesUp() throws {
        let cluster = try Cluster()
        let connector = try TestClient(port: cluster.core.port)
        #expect(connector.upgrade(path: "/ws?token=\(cluster.token(.connector, channel: "douyin"))") == 101)
        _ = connector.readJSON()
        let (frozenViewer, frozenSnapshot) = try cluster.viewer(at: cluster.edges[0])
        let (liveViewer, _) = try cluster.viewer(at: cluster.edges[1])
        // Both edges have reported where they stand (each does every second).
        let reported = Date().addingTimeInterval(5)
        while Date() < reported, Self.edgeLags(cluster.core.port).count < 2 { usleep(100_000) }
        #expect(Self.edgeLags(cluster.core.port).keys.sorted() == ["edge0", "edge1"])
        cluster.edges[0].signal(SIGSTOP)
        let started = Date()
        cluster.order(connector, from: 0, count: 30)
        let orderSeconds = Date().timeIntervalSince(started)
        let live = Self.read(liveViewer, until: 99_970)
        let liveSeconds = Date().timeIntervalSince(started)
        #expect(live.last.map { _ in true } == true)
        #expect(orderSeconds < 2 && liveSeconds < 2.5, "orders \(orderSeconds) s, the other edge \(liveSeconds) s")
        // The core's /metrics shows the frozen edge behind, in messages and ms, the other caught up.
        var lags = Self.edgeLags(cluster.core.port)
        let lagDeadline = Date().addingTimeInterval(2.5)
        while Date() < lagDeadline, !((lags["edge0"]?.messages ?? 0) > 0 && lags["edge1"]?.messages == 0) {
            usleep(100_000)
            lags = Self.edgeLags(cluster.core.port)
        }
        #expect((lags["edge0"]?.messages ?? 0) > 0, "\(lags)")
        #expect((lags["edge0"]?.milliseconds ?? 0) > 0, "\(lags)")
        #expect(lags["edge1"]?.messages == 0, "\(lags)")
        usleep(max(0, UInt32((3 - Date().timeIntervalSince(started)) * 1_000_000)))
        cluster.edges[0].signal(SIGCONT)
        let (seqs, closedWith, reached) = Self.follow(frozenViewer, from: frozenSnapshot, until: 99_970)
        if let closedWith {
            #expect(closedWith == 1012)
        } else {
            #expect(reached)
            #expect(seqs == Array(seqs[0]...(seqs.last ?? 0)), "no gap: \(seqs)")
        }
        // Thawed, it catches up (or restarts its streams): its lag goes back to 0.
        let caughtUp = Date().addingTimeInterval(8)
        while Date() < caughtUp, Self.edgeLags(cluster.core.port)["edge0"]?.messages != 0 { usleep(100_000) }
        #expect(Self.edgeLags(cluster.core.port)["edge0"]?.messages == 0)
    }

    /// Reads a viewer's messages until a `stock` with `sellable` or a close: the `seq`s from its
    /// snapshot's on, the close code if it was sent away, and whether it got there.
    static func follow(_ client: TestClient, from snapshot: [String: Any], until sellable: Int) -> (seqs: [Int], closedWith: UInt16?, reached: Bool) {
        var seqs = [snapshot["seq"] as? Int ?? 0]
        for _ in 0..<2_000 {
            guard let frame = client.readFrame() else { break }
            if frame.opcode == 8 { return (seqs, closeCode(frame.payload), false) }
            guard let object = try? JSONSerialization.jsonObject(with: Data(frame.payload)) as? [String: Any] else { continue }
            if let seq = object["seq"] as? Int { seqs.append(seq) }
            if object["type"] as? String == "stock", object["sellable"] as? Int == sellable { return (seqs, nil, true) }
        }
        return (seqs, nil, false)
    }

    /// Each edge's lag as the core's `/metrics` shows it: edge → (messages, milliseconds).
    static func edgeLags(_ port: Int) -> [String: (messages: Int, milliseconds: Int)] {
        guard let http = try? TestClient(port: port, timeoutSeconds: 2) else { return [:] }
        http.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        guard let body = http.readResponse()?.body else { return [:] }
        var lags: [String: (messages: Int, milliseconds: Int)] = [:]
        for line in body.split(separator: "\n") {
            for (name, isMessages) in [("livegate_edge_lag_messages{edge=\"", true), ("livegate_edge_lag_milliseconds{edge=\"", false)]
            where line.hasPrefix(name) {
                let rest = line.dropFirst(name.count)
                guard let quote = rest.firstIndex(of: "\""), let value = Int(rest.split(separator: " ").last ?? "") else { continue }
                let edge = String(rest[..<quote])
                var lag = lags[edge] ?? (0, 0)
                if isMessages { lag.messages = value } else { lag.milliseconds = value }
                lags[edge] = lag
            }
        }
        return lags
    }

    /// Redis stopped for 10 s mid-sale, then started empty: the core sells on (its clients never
    /// wait on Redis), the edges refuse orders at once (503) meanwhile; then the core and the
    /// edges reconnect, the edge's viewer gets every message in order or a 1012 and a snapshot
    /// with the durable figures (never a silent gap), and orders at an edge work again.
    @Test func aTenSecondRedisOutageLeavesNoSilentGap() throws {
        let cluster = try Cluster()
        let connector = try TestClient(port: cluster.core.port)
        #expect(connector.upgrade(path: "/ws?token=\(cluster.token(.connector, channel: "douyin"))") == 101)
        _ = connector.readJSON()
        let (viewer, snapshot) = try cluster.viewer(at: cluster.edges[0])
        let orders = cluster.token(.connector, channel: "douyin")
        cluster.redis.stop()
        let stopped = Date()
        cluster.order(connector, from: 0, count: 10)
        #expect(Date().timeIntervalSince(stopped) < 2, "the core's orders do not wait on Redis")
        let refused = try EdgeTests.post(cluster.edges[1].port, #"{"orderId":"OUT-1","sku":"tee","qty":1,"state":"paid"}"#, token: orders)
        #expect(refused.status == 503, "\(refused.body)")
        usleep(UInt32(max(0, 10 - Date().timeIntervalSince(stopped)) * 1_000_000))
        try cluster.redis.start()
        cluster.order(connector, from: 10, count: 10)

        let (seqs, closedWith, reached) = Self.follow(viewer, from: snapshot, until: 99_980)
        if let closedWith {
            #expect(closedWith == 1012)
            #expect(cluster.edges[0].waitUntilReady())
            var sellable: Int?
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline, sellable != 99_980 {
                let (_, fresh) = try cluster.viewer(at: cluster.edges[0])
                sellable = (fresh["skus"] as? [[String: Any]])?.first { $0["sku"] as? String == "tee" }?["sellable"] as? Int
                if sellable != 99_980 { usleep(200_000) }
            }
            #expect(sellable == 99_980, "a fresh join has the durable figures")
        } else {
            #expect(reached, "every order reached the edge's viewer")
            #expect(seqs == Array(seqs[0]...(seqs.last ?? 0)), "no gap: \(seqs)")
        }
        // Orders at an edge go through again once the core's heartbeat is back.
        var status = 0
        let back = Date().addingTimeInterval(10)
        while Date() < back, status != 200 {
            status = (try? EdgeTests.post(cluster.edges[1].port, #"{"orderId":"OUT-2","sku":"tee","qty":1,"state":"paid"}"#, token: orders))?.status ?? 0
            if status != 200 { usleep(200_000) }
        }
        #expect(status == 200)
    }

    /// The core restarts (same data directory): it comes back with a new epoch; the edges send
    /// their viewers away with 1012, and a viewer that comes back gets the new epoch's snapshot
    /// with the durable figures.
    @Test func aCoreRestartResetsEdgeViewersToTheNewEpoch() throws {
        let cluster = try Cluster()
        let connector = try TestClient(port: cluster.core.port)
        #expect(connector.upgrade(path: "/ws?token=\(cluster.token(.connector, channel: "kuaishou"))") == 101)
        _ = connector.readJSON()
        let (viewer, snapshot) = try cluster.viewer(at: cluster.edges[0])
        let oldEpoch = try #require(snapshot["epoch"] as? String)
        cluster.order(connector, from: 0, count: 5)
        _ = Self.read(viewer, until: 99_995)
        cluster.core.stop(SIGINT)
        try cluster.core.start()
        #expect(cluster.core.waitUntilReady())
        var closedWith: UInt16?
        let deadline = Date().addingTimeInterval(15)
        while closedWith == nil && Date() < deadline, let frame = viewer.readFrame() {
            if frame.opcode == 8 { closedWith = closeCode(frame.payload) }
        }
        #expect(closedWith == 1012, "the edge sends its viewers away on the new epoch")
        #expect(cluster.edges[0].waitUntilReady())
        let (back, fresh) = try cluster.viewer(at: cluster.edges[0], query: "&since=\(snapshot["seq"] as? Int ?? 0)&epoch=\(oldEpoch)")
        _ = back
        #expect(fresh["type"] as? String == "snapshot")
        #expect(fresh["epoch"] as? String != oldEpoch)
        let tee = (fresh["skus"] as? [[String: Any]])?.first { $0["sku"] as? String == "tee" }
        #expect(tee?["sellable"] as? Int == 99_995, "the durable figures")
    }
}
