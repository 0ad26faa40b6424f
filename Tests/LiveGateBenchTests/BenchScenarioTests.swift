import Foundation
import LiveGateTestSupport
import Testing

/// Each network scenario of `livegate-bench` at a tiny size against a real `livegate` (the
/// binaries next to this test binary): the JSON it prints must be complete and consistent.
/// These check the benchmark's accounting, never timing.
@Suite(.serialized)
struct BenchScenarioTests {
    /// The `livegate-bench` binary, next to this test binary in the build directory.
    static var benchBinary: String? {
        guard let bench = BuiltExecutable.path("livegate-bench"), BuiltExecutable.path("livegate") != nil else { return nil }
        return bench
    }

    /// Runs `livegate-bench ARGUMENTS --json --no-pin` and returns its one JSON object.
    func run(_ arguments: [String]) throws -> [String: Any] {
        guard let binary = Self.benchBinary else {
            Issue.record("livegate-bench and livegate are not built next to the test binary; run `swift build` first")
            return [:]
        }
        let (status, data) = try ChildProcess.run(binary, arguments + ["--json", "--no-pin", "--timeout", "30"])
        #expect(status == 0, "\(arguments): exit \(status)")
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 1, "one JSON object per run")
        guard let line = lines.first,
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else {
            Issue.record("no JSON object in: \(String(decoding: data, as: UTF8.self))")
            return [:]
        }
        return object
    }

    func number(_ object: [String: Any], _ key: String) -> Double {
        (object[key] as? NSNumber)?.doubleValue ?? -1
    }

    /// Every viewer got every message once, in order; latency percentiles are ordered.
    func expectCompleteFanout(_ object: [String: Any], viewers: Int, messages: Int, prefix: String = "") {
        #expect(object[prefix + "end"] as? String == "complete")
        // Every (viewer, change) pair is visible: as its own message, or coalesced into a later one.
        #expect(
            number(object, prefix + "delivered") + max(0, number(object, prefix + "coalesced"))
                == Double(viewers * messages))
        #expect(number(object, prefix + "lost") == 0)
        if prefix.isEmpty {
            #expect(number(object, "expected") == Double(viewers * messages))
            #expect(number(object, "gaps") == 0)
            #expect(number(object, "out_of_order") == 0)
            #expect(number(object, "closed_viewers") == 0)
            #expect(number(object, "unmatched") == 0)
            #expect(number(object, "reflected") == Double(viewers * messages))
            let p50 = number(object, "lat_p50_ns")
            let p99 = number(object, "lat_p99_ns")
            let p999 = number(object, "lat_p999_ns")
            let maximum = number(object, "lat_max_ns")
            #expect(p50 > 0 && p50 <= p99 && p99 <= p999 && p999 <= maximum)
            #expect(number(object, "deliveries_per_s") > 0)
            #expect(number(object, "server_cpu_pct") >= 0 && number(object, "loadgen_cpu_pct") >= 0)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func fanoutOverTheRoomDeliversEveryOrderToEveryViewer() throws {
        let object = try run(["fanout", "--viewers", "50", "--count", "200"])
        expectCompleteFanout(object, viewers: 50, messages: 200)
        // At most one change per SKU in flight: none is coalesced, each is its own message.
        #expect(number(object, "coalesced") == 0)
        #expect(number(object, "delivered") == 50 * 200)
        #expect(number(object, "acks") == 200)
        #expect(number(object, "rejected") == 0)
    }

    /// One process and then a core, a real redis-server and two edges (viewers over both edges,
    /// orders to the core): every change reaches every viewer through Redis, in order, once.
    @Test(.timeLimit(.minutes(1)))
    func clusterDeliversEveryChangeThroughTheEdges() throws {
        let object = try run(["cluster", "--viewers", "40", "--edges", "2", "--count", "100"])
        expectCompleteFanout(object, viewers: 40, messages: 100)
        #expect(object["cluster_end"] as? String == "complete")
        #expect(number(object, "cluster_edges") == 2)
        #expect(number(object, "cluster_ready") == 40)
        #expect(number(object, "cluster_expected") == 40 * 100)
        #expect(number(object, "cluster_reflected") == 40 * 100)
        #expect(number(object, "cluster_lost") == 0)
        #expect(number(object, "cluster_gaps") == 0)
        #expect(number(object, "cluster_out_of_order") == 0)
        #expect(number(object, "cluster_redis_commands_per_message") >= 1, "each change went through Redis")
        #expect(number(object, "cluster_deliveries_per_s") > 0)
    }

    /// The viewers in three `viewer-child` processes (as past one process's sockets): the
    /// children's reports add up to every change at every viewer, once, in order.
    @Test(.timeLimit(.minutes(1)))
    func clusterWithViewerChildrenAddsUpTheirReports() throws {
        let object = try run(["cluster", "--viewers", "60", "--edges", "2", "--count", "100", "--children", "--viewers-per-child", "20"])
        #expect(object["end"] as? String == "complete")
        #expect(object["cluster_end"] as? String == "complete")
        #expect(number(object, "cluster_children") == 3)
        #expect(number(object, "cluster_ready") == 60)
        #expect(number(object, "cluster_expected") == 60 * 100)
        #expect(number(object, "cluster_reflected") == 60 * 100)
        #expect(number(object, "cluster_delivered") >= 60 * 100)
        #expect(number(object, "cluster_lost") == 0)
        #expect(number(object, "cluster_gaps") == 0)
        #expect(number(object, "cluster_out_of_order") == 0)
        #expect(number(object, "cluster_lat_p50_ns") > 0, "the children timed deliveries against the parent's send times")
        #expect(number(object, "cluster_deliveries_per_s") > 0)
    }

    /// Edge-1 SIGKILLed halfway: its viewers resume at the other edge with since/epoch, every
    /// change still reaches every viewer once and in order, and none gets a reset snapshot.
    @Test(.timeLimit(.minutes(1)))
    func clusterEdgeKillDrillResumesEveryViewer() throws {
        let object = try run(["cluster", "--viewers", "60", "--edges", "2", "--count", "100", "--rate", "50", "--kill-edge", "--viewers-per-child", "30"])
        #expect(object["end"] as? String == "complete")
        #expect(number(object, "cluster_killed_viewers") == 30)
        #expect(number(object, "cluster_resumed_viewers") == 30)
        #expect(number(object, "cluster_resets") == 0)
        #expect(number(object, "cluster_still_reconnecting") == 0)
        #expect(number(object, "cluster_lost") == 0)
        #expect(number(object, "cluster_gaps") == 0)
        #expect(number(object, "cluster_out_of_order") == 0)
        #expect(number(object, "cluster_resume_first_ns") > 0)
    }

    @Test(.timeLimit(.minutes(1)))
    func fanoutBurstMakesEveryOrderVisibleToEveryViewer() throws {
        // All orders at once: the server may coalesce several orders for one SKU into one
        // message; every order must still become visible to every viewer.
        let object = try run(["fanout", "--viewers", "50", "--count", "200", "--window", "0"])
        expectCompleteFanout(object, viewers: 50, messages: 200)
        #expect(number(object, "acks") == 200)
    }

    @Test(.timeLimit(.minutes(1)))
    func fanoutOverBenchPubSubDeliversEveryMessage() throws {
        let object = try run(["fanout", "--viewers", "50", "--count", "200", "--pubsub"])
        expectCompleteFanout(object, viewers: 50, messages: 200)
        #expect(object["mode"] as? String == "pubsub")
    }

    @Test(.timeLimit(.minutes(1)))
    func fanoutOverTLSReportsARatio() throws {
        let object = try run(["fanout", "--viewers", "20", "--count", "100", "--tls"])
        expectCompleteFanout(object, viewers: 20, messages: 100)
        expectCompleteFanout(object, viewers: 20, messages: 100, prefix: "tls_")
        #expect(number(object, "tls_ratio") > 0)
    }

    @Test(.timeLimit(.minutes(1)))
    func latencyAtAFixedRate() throws {
        let object = try run(["latency", "--viewers", "50", "--rate", "200", "--count", "100"])
        expectCompleteFanout(object, viewers: 50, messages: 100)
        #expect(number(object, "rate") == 200)
    }

    @Test(.timeLimit(.minutes(1)))
    func idleViewersAreAllOpenAndMeasured() throws {
        let object = try run(["idle", "--viewers", "100", "--hold", "1"])
        #expect(object["end"] as? String == "complete")
        #expect(number(object, "open") == 100)
        #expect(number(object, "snapshots") == 100)
        #expect(number(object, "server_rss_idle_kb") > number(object, "server_rss_before_kb"))
        #expect(number(object, "server_bytes_per_conn") > 0)
    }

    @Test(.timeLimit(.minutes(1)))
    func connectPlainAndTLS() throws {
        for extra in [[], ["--tls"]] {
            let object = try run(["connect", "--viewers", "100"] + extra)
            #expect(object["end"] as? String == "complete")
            #expect(number(object, "open") == 100)
            #expect(number(object, "failed") == 0)
            #expect(number(object, "handshakes_per_s") > 0)
            #expect(number(object, "hs_p50_us") <= number(object, "hs_p99_us"))
            #expect(object["tls"] as? Bool == !extra.isEmpty)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func ingestAcknowledgesEveryOrder() throws {
        let object = try run(["ingest", "--sockets", "4", "--count", "2000", "--window", "64"])
        #expect(object["end"] as? String == "complete")
        #expect(number(object, "acked") == 2000)
        #expect(number(object, "rejected") == 0)
        #expect(number(object, "ack_p50_ns") <= number(object, "ack_p99_ns"))
        #expect(number(object, "orders_per_s") > 0)
    }

    @Test(.timeLimit(.minutes(1)))
    func slowMeasuresTheReaderAloneAndWithStuckViewers() throws {
        let object = try run(["slow", "--stuck", "20", "--rate", "200", "--seconds", "1"])
        #expect(object["end"] as? String == "complete")
        #expect(number(object, "stuck_open") == 20)
        #expect(number(object, "delivered") == 400)
        #expect(number(object, "lost") == 0)
        #expect(number(object, "gaps") == 0)
        #expect(number(object, "alone_p50_ns") > 0 && number(object, "alone_p50_ns") <= number(object, "alone_p99_ns"))
        #expect(number(object, "stuck_p50_ns") > 0 && number(object, "p50_ratio") > 0)
    }
}
