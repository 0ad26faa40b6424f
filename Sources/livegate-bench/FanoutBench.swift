import Foundation
import Glibc

/// One fan-out run's shape: the shared body of `fanout` and `latency`.
struct FanoutShape {
    var viewers: Int
    var count: Int
    /// At most this many changes not yet delivered to every viewer (`rate` 0).
    var window: Int
    /// Changes per second (0: as fast as the window allows).
    var rate: Double
    var isPubSub: Bool
    var useTLS: Bool
    /// Server compression on and every viewer offering permessage-deflate.
    var deflate = false
    /// Edges of a cluster (0: one process). With edges: a `redis-server`, a core that takes the
    /// orders, and this many edges that hold the viewers (round-robin).
    var edges = 0
    /// `--pubsub` payload size in bytes (the neutral generator's 120 by default; `--message-bytes`
    /// sets it, to compare with the room's larger `stock` messages).
    var pubSubBytes = 120
}

/// Runs one fan-out run against a fresh server and returns its figures.
func runFanout(_ shape: FanoutShape, network: NetworkOptions, scenario: String) throws -> RunFigures {
    let skuCount = max(shape.window, 32)
    var setup = BenchServer.Setup()
    setup.skuCount = skuCount
    setup.isPubSub = shape.isPubSub
    setup.useTLS = shape.useTLS
    setup.compression = shape.deflate
    setup.cpu = network.serverCPU
    let redis = shape.edges > 0 ? try BenchRedis(cpu: network.serverCPU) : nil
    defer { redis?.stop() }
    if let redis { setup.extraArguments = ["--redis", redis.url] }
    let server = try BenchServer(setup)
    defer { server.stop() }
    var edges: [BenchServer] = []
    defer { for edge in edges { edge.stop() } }
    for _ in 0..<shape.edges {
        var edgeSetup = setup
        edgeSetup.extraArguments += ["--edge"]
        let edge = try BenchServer(edgeSetup)
        edges.append(edge)
        try edge.waitUntilReady(seconds: 20)
    }
    let generator = try LoadGenerator(port: shape.useTLS ? server.tlsPort : server.port, useTLS: shape.useTLS)
    generator.viewerPorts = edges.map { UInt16($0.port) }
    generator.sourceAddressCount = max(1, (shape.viewers + 3999) / 4000)
    generator.offersDeflate = shape.deflate
    let deadline = monotonicNanoseconds() + UInt64(network.timeoutSeconds * 1e9)
    let driver = FanoutDriver(generator: generator, isPubSub: shape.isPubSub, skuCount: skuCount, capacity: shape.count)
    driver.pubSubBytes = shape.pubSubBytes
    let viewerPath: String
    let senderPath: String
    if shape.isPubSub {
        viewerPath = "/bench"
        senderPath = "/bench/pub"
    } else {
        viewerPath = "/ws?token=" + (try server.token(role: "viewer", subject: "bench-viewer"))
        senderPath = "/ws?token=" + (try server.token(role: "connector", subject: "bench-connector", channel: "bench"))
    }
    var figures = RunFigures()
    figures.set("scenario", scenario)
    figures.set("mode", shape.isPubSub ? "pubsub" : "room")
    figures.set("tls", shape.useTLS)
    figures.set("viewers", shape.viewers)
    figures.set("messages", shape.count)
    if shape.rate > 0 { figures.set("rate", shape.rate) } else { figures.set("window", shape.window) }

    let connectSeconds = generator.connectMany(
        count: shape.viewers, kind: .viewer, path: { _ in viewerPath }, timeoutSeconds: 60)
    figures.set("open", generator.openCount)
    figures.set("handshakes_per_s", Double(generator.openCount) / connectSeconds)
    let sender = generator.connect(kind: .sender, path: senderPath)
    driver.sender = sender
    while (sender.state != .open || (!shape.isPubSub && driver.readyViewers < shape.viewers))
        && sender.state != .closed && monotonicNanoseconds() < deadline
    {
        generator.poll(timeoutMilliseconds: 10)
    }
    if shape.isPubSub { _ = driver.warmUp(viewers: shape.viewers, deadline: deadline) }
    driver.activeViewers = driver.readyViewers
    figures.set("ready", driver.readyViewers)
    guard driver.readyViewers == shape.viewers, sender.state == .open else {
        figures.set("end", "setup-failed")
        return figures
    }

    func nodesCPU() -> Double { server.cpuSeconds() + edges.reduce(0) { $0 + $1.cpuSeconds() } + (redis?.cpuSeconds() ?? 0) }
    let serverCPU = nodesCPU()
    let redisCPU = redis?.cpuSeconds() ?? 0
    let redisCommands = redis?.commandsProcessed() ?? 0
    let ownCPU = ownCPUSeconds()
    let batchesBefore = shape.isPubSub ? nil : server.coreBatches()
    let start = monotonicNanoseconds()
    let end = driver.publish(count: shape.count, window: shape.window, rate: shape.rate, deadline: deadline)
    let stop = monotonicNanoseconds()
    let wall = Double(stop - start) / 1e9
    let faults = driver.streamFaults()
    let expected = shape.count * driver.activeViewers
    let span = Double(driver.lastDelivery - driver.firstSend) / 1e9
    figures.set("sent", driver.sent)
    figures.set("expected", expected)
    figures.set("delivered", driver.deliveries)
    figures.set("reflected", driver.reflected)
    figures.set("coalesced", driver.coalesced)
    figures.set("lost", max(0, expected - driver.reflected))
    figures.set("gaps", faults.gaps)
    figures.set("out_of_order", faults.outOfOrder)
    figures.set("closed_viewers", driver.closedViewers)
    figures.set("unmatched", driver.unmatched)
    if !shape.isPubSub {
        figures.set("acks", driver.acks)
        figures.set("rejected", driver.rejected + driver.errors)
    }
    figures.set("deliveries_per_s", span > 0 ? Double(driver.deliveries) / span : 0)
    figures.set("msgs_per_s", span > 0 ? Double(driver.fullyDelivered) / span : 0)
    if !shape.isPubSub {
        figures.set("bytes_per_delivery", driver.deliveries > 0 ? Double(driver.stockWireBytes) / Double(driver.deliveries) : 0)
        figures.set("compressed_deliveries", driver.compressedDeliveries)
        figures.set("inflations", generator.inflateCache.inflations)
    }
    figures.set("lat_p50_ns", driver.histogram.quantile(0.5))
    figures.set("lat_p99_ns", driver.histogram.quantile(0.99))
    figures.set("lat_p999_ns", driver.histogram.quantile(0.999))
    figures.set("lat_max_ns", Double(driver.histogram.maximum))
    let usedCPU = nodesCPU() - serverCPU
    figures.set("server_cpu_pct", usedCPU / wall * 100)
    figures.set("deliveries_per_cpu_s", usedCPU > 0 ? Double(driver.deliveries) / usedCPU : 0)
    if let before = batchesBefore, let after = server.coreBatches(), after.batches > before.batches {
        // How many orders share a durable batch: each batch is one publication to every viewer.
        figures.set("records_per_batch", Double(after.records - before.records) / Double(after.batches - before.batches))
    }
    if let redis {
        figures.set("edges", edges.count)
        figures.set("redis_cpu_pct", (redis.cpuSeconds() - redisCPU) / wall * 100)
        // Every Redis command in the run (the core's XADDs, PEXPIREs and SETs, the edges' XREADs
        // and GETs) per stock change published.
        figures.set("redis_commands_per_message", Double(redis.commandsProcessed() - redisCommands) / Double(max(1, driver.sent)))
    }
    figures.set("loadgen_cpu_pct", (ownCPUSeconds() - ownCPU) / wall * 100)
    figures.set("run_s", wall)
    figures.set("end", end)
    generator.closeAll()
    return figures
}

/// The table rows of fan-out and latency runs.
let fanoutRows: [(key: String, label: String, format: FigureFormat)] = [
    ("deliveries_per_s", "deliveries/s", .count),
    ("lat_p50_ns", "latency p50", .nanoseconds),
    ("lat_p99_ns", "latency p99", .nanoseconds),
    ("lat_p999_ns", "latency p999", .nanoseconds),
    ("lat_max_ns", "latency max", .nanoseconds),
    ("server_cpu_pct", "server CPU", .percent),
    ("deliveries_per_cpu_s", "deliveries per server CPU-second", .count),
    ("records_per_batch", "orders per durable batch", .ratio),
    ("loadgen_cpu_pct", "load generator CPU", .percent),
    ("delivered", "delivered", .plain),
    ("coalesced", "coalesced (state rule)", .plain),
    ("lost", "lost", .plain),
    ("gaps", "gaps", .plain),
    ("out_of_order", "out of order", .plain),
    ("closed_viewers", "viewers closed", .plain),
]

/// `livegate-bench fanout`: N viewers, stock changes as fast as the server delivers them (at most
/// `--window` in flight), deliveries per second; `--tls` also runs it over TLS and prints the ratio.
enum FanoutBench: BenchScenario {
    static let name = "fanout"
    static let summary =
        "N viewers, orders as fast as delivered (window): deliveries/s, server CPU  [--viewers 10000] [--count 500] [--window 32, 0: burst] [--pubsub [--message-bytes 120]] [--tls] [--deflate] [--runs 3] [--json]"
    static let isHidden = false

    static func run(_ options: BenchOptions) throws -> Int32 {
        let network = try NetworkOptions(options)
        prepareLoadGenerator(cpu: network.generatorCPU)
        var shape = FanoutShape(
            viewers: try options.integer("--viewers", default: 10_000),
            count: try options.integer("--count", default: 500),
            window: try options.integer("--window", default: 32), rate: 0, isPubSub: options.flag("--pubsub"),
            useTLS: false)
        guard shape.viewers >= 1, shape.viewers <= 19_900, shape.count >= 1, shape.window >= 0 else {
            throw BenchUsageError(description: "--viewers 1…19900, --count ≥ 1, --window ≥ 0 (0: a burst)")
        }
        shape.pubSubBytes = try options.integer("--message-bytes", default: 120)
        guard shape.pubSubBytes >= 120, shape.pubSubBytes <= 60_000 else {
            throw BenchUsageError(description: "--message-bytes 120…60000 (the --pubsub payload)")
        }
        guard shape.isPubSub || shape.pubSubBytes == 120 else {
            throw BenchUsageError(description: "--message-bytes sets the --pubsub payload; room messages are the server's own")
        }
        let withTLS = options.flag("--tls")
        let withDeflate = options.flag("--deflate")
        guard !(withDeflate && shape.isPubSub) else {
            throw BenchUsageError(description: "--deflate measures room stock messages; it does not apply to --pubsub")
        }
        var rows = fanoutRows
        if withDeflate {
            rows.insert(("deflate_deliveries_per_s", "deflate deliveries/s", .count), at: 1)
            rows.insert(("deflate_ratio", "deflate / plain deliveries/s", .ratio), at: 2)
            rows.insert(("bytes_per_delivery", "bytes per stock delivery", .ratio), at: 3)
            rows.insert(("deflate_bytes_per_delivery", "deflate bytes per stock delivery", .ratio), at: 4)
            rows.insert(("deflate_bytes_saved_pct", "bytes saved by deflate", .percent), at: 5)
            rows.insert(("deflate_server_cpu_pct", "deflate server CPU", .percent), at: 6)
            rows.insert(("deflate_loadgen_cpu_pct", "deflate load generator CPU", .percent), at: 7)
            rows.insert(("deflate_lat_p99_ns", "deflate latency p99", .nanoseconds), at: 8)
        }
        if withTLS {
            rows.insert(("tls_deliveries_per_s", "TLS deliveries/s", .count), at: 1)
            rows.insert(("tls_ratio", "TLS / plain", .ratio), at: 2)
            rows.insert(("tls_server_cpu_pct", "TLS server CPU", .percent), at: 3)
            rows.insert(("tls_loadgen_cpu_pct", "TLS load generator CPU", .percent), at: 4)
        }
        let reporter = RunReporter(isJSON: network.isJSON, rows: rows)
        var all: [RunFigures] = []
        var isClean = true
        for run in 0..<network.runs {
            shape.useTLS = false
            var figures = try runFanout(shape, network: network, scenario: name)
            isClean = isClean && figures.text("end") == "complete"
            if withTLS {
                shape.useTLS = true
                let tls = try runFanout(shape, network: network, scenario: name)
                isClean = isClean && tls.text("end") == "complete"
                for key in [
                    "deliveries_per_s", "lat_p50_ns", "lat_p99_ns", "server_cpu_pct", "loadgen_cpu_pct", "delivered",
                    "coalesced", "lost", "end",
                ] {
                    if let value = tls.number(key) { figures.set("tls_" + key, value) }
                    if let value = tls.text(key) { figures.set("tls_" + key, value) }
                }
                let plain = figures.number("deliveries_per_s") ?? 0
                figures.set("tls_ratio", plain > 0 ? (tls.number("deliveries_per_s") ?? 0) / plain : 0)
            }
            if withDeflate {
                shape.useTLS = false
                shape.deflate = true
                let deflate = try runFanout(shape, network: network, scenario: name)
                shape.deflate = false
                isClean = isClean && deflate.text("end") == "complete"
                    && deflate.number("compressed_deliveries") == deflate.number("delivered")
                for key in [
                    "deliveries_per_s", "lat_p50_ns", "lat_p99_ns", "server_cpu_pct", "loadgen_cpu_pct", "delivered",
                    "coalesced", "lost", "end", "bytes_per_delivery", "compressed_deliveries", "inflations",
                ] {
                    if let value = deflate.number(key) { figures.set("deflate_" + key, value) }
                    if let value = deflate.text(key) { figures.set("deflate_" + key, value) }
                }
                let plain = figures.number("deliveries_per_s") ?? 0
                figures.set("deflate_ratio", plain > 0 ? (deflate.number("deliveries_per_s") ?? 0) / plain : 0)
                let plainBytes = figures.number("bytes_per_delivery") ?? 0
                let deflateBytes = deflate.number("bytes_per_delivery") ?? 0
                figures.set("deflate_bytes_saved_pct", plainBytes > 0 ? (1 - deflateBytes / plainBytes) * 100 : 0)
            }
            reporter.runFinished(figures, run: run, of: network.runs)
            all.append(figures)
        }
        reporter.finish(
            all,
            title:
                "fanout: \(shape.viewers) viewers × \(shape.count) changes, "
                    + (shape.window == 0 ? "all at once, " : "window \(shape.window), ")
                    + "\(shape.isPubSub ? "/bench pub/sub" : "room /ws, orders from a connector")"
        )
        return isClean ? 0 : 1
    }
}

/// `livegate-bench latency`: N viewers, changes at a fixed rate: order-sent to viewer-received latency.
enum LatencyBench: BenchScenario {
    static let name = "latency"
    static let summary =
        "N viewers, orders at a fixed rate: order→viewer latency p50/p99/p999/max  [--viewers 10000] [--rate 100] [--seconds 5] [--pubsub] [--runs 3] [--json]"
    static let isHidden = false

    static func run(_ options: BenchOptions) throws -> Int32 {
        let network = try NetworkOptions(options)
        prepareLoadGenerator(cpu: network.generatorCPU)
        let rate = Double(try options.integer("--rate", default: 100))
        let seconds = Double(try options.integer("--seconds", default: 5))
        let count = try options.integer("--count", default: Int(rate * seconds))
        let shape = FanoutShape(
            viewers: try options.integer("--viewers", default: 10_000), count: count, window: 32, rate: rate,
            isPubSub: options.flag("--pubsub"), useTLS: false)
        guard shape.viewers >= 1, shape.viewers <= 19_900, rate >= 1, count >= 1 else {
            throw BenchUsageError(description: "--viewers 1…19900, --rate ≥ 1, --count ≥ 1")
        }
        let reporter = RunReporter(isJSON: network.isJSON, rows: fanoutRows)
        var all: [RunFigures] = []
        var isClean = true
        for run in 0..<network.runs {
            let figures = try runFanout(shape, network: network, scenario: name)
            isClean = isClean && figures.text("end") == "complete"
            reporter.runFinished(figures, run: run, of: network.runs)
            all.append(figures)
        }
        reporter.finish(
            all,
            title:
                "latency: \(shape.viewers) viewers, \(Int(rate)) changes/s (asks \(FigureFormat.count.render(rate * Double(shape.viewers))) deliveries/s), \(count) changes"
        )
        return isClean ? 0 : 1
    }
}

/// `livegate-bench cluster`: the same viewers and stock changes once through one process and
/// once through a core, a `redis-server` and K edges (each its own process, viewers spread over
/// the edges, orders to the core), in the same run: deliveries/s, order→viewer latency, the
/// Redis hop's cost (added p99, Redis CPU, Redis commands per published change).
enum ClusterBench: BenchScenario {
    static let name = "cluster"
    static let summary =
        "one process vs a core + Redis + K edges, same run: deliveries/s, latency, Redis work  [--viewers 3000, past 19000: viewer child processes, cluster only] [--edges 3] [--count 300] [--window 32] [--rate 0: as fast as delivered] [--children] [--kill-edge [--resume-inflight 1024]] [--runs 3] [--json]"
    static let isHidden = false

    static func run(_ options: BenchOptions) throws -> Int32 {
        let network = try NetworkOptions(options)
        prepareLoadGenerator(cpu: network.generatorCPU)
        let edges = try options.integer("--edges", default: 3)
        let rate = Double(try options.integer("--rate", default: 0))
        var shape = FanoutShape(
            viewers: try options.integer("--viewers", default: 3_000), count: try options.integer("--count", default: 300),
            window: try options.integer("--window", default: 32), rate: rate, isPubSub: false, useTLS: false)
        guard shape.viewers >= 1, shape.viewers <= 19_000 * edges, shape.count >= 1, shape.window >= 1, (1...16).contains(edges) else {
            throw BenchUsageError(description: "--viewers 1…19000 × edges, --count ≥ 1, --window ≥ 1, --edges 1…16")
        }
        // Past one process's descriptors the viewers go to child processes and there is no
        // one-process run to compare with (one server holds at most about 19,900 sockets here).
        let killEdge = options.flag("--kill-edge")
        let resumeInflight = try options.integer("--resume-inflight", default: 1024)
        // At most this many viewers per child process (smaller in the tests, to have several).
        let viewersPerChild = try options.integer("--viewers-per-child", default: 19_000)
        guard (1...19_000).contains(viewersPerChild) else { throw BenchUsageError(description: "--viewers-per-child 1…19000") }
        let withChildren = options.flag("--children") || killEdge || shape.viewers > 19_000
        let withSingle = shape.viewers <= 19_900 && !killEdge
        guard !killEdge || edges >= 2 else { throw BenchUsageError(description: "--kill-edge needs --edges 2 or more") }
        var rows: [(key: String, label: String, format: FigureFormat)] = [
            ("deliveries_per_s", "one process: deliveries/s", .count),
            ("cluster_deliveries_per_s", "cluster: deliveries/s", .count),
            ("lat_p50_ns", "one process: latency p50", .nanoseconds),
            ("cluster_lat_p50_ns", "cluster: latency p50", .nanoseconds),
            ("lat_p99_ns", "one process: latency p99", .nanoseconds),
            ("cluster_lat_p99_ns", "cluster: latency p99", .nanoseconds),
            ("cluster_lat_p999_ns", "cluster: latency p999", .nanoseconds),
            ("added_p99_ns", "Redis hop: added p99", .nanoseconds),
            ("cluster_redis_cpu_pct", "Redis CPU", .percent),
            ("cluster_redis_commands_per_message", "Redis commands per change", .ratio),
            ("server_cpu_pct", "one process: server CPU", .percent),
            ("cluster_server_cpu_pct", "cluster: all nodes' CPU", .percent),
            ("cluster_lost", "cluster: lost", .plain),
            ("cluster_gaps", "cluster: gaps", .plain),
            ("cluster_out_of_order", "cluster: out of order", .plain),
        ]
        if withChildren {
            rows += [
                ("cluster_delivered", "cluster: delivered", .plain),
                ("cluster_expected", "cluster: expected", .plain),
                ("cluster_closed_viewers", "cluster: viewers closed", .plain),
                ("cluster_connect_failures", "cluster: connect failures", .plain),
                ("cluster_connect_s", "cluster: connect phase (s)", .ratio),
                ("cluster_loadgen_cpu_pct", "load generators' CPU", .percent),
            ]
            for edge in 1...edges {
                rows.append(("cluster_lag_ms_edge-\(edge)", "edge-\(edge) lag, largest (ms)", .plain))
                rows.append(("cluster_lag_messages_edge-\(edge)", "edge-\(edge) lag, largest (messages)", .plain))
            }
        }
        if killEdge {
            rows += [
                ("cluster_killed_viewers", "kill: viewers of the killed edge", .plain),
                ("cluster_resumed_viewers", "kill: resumed at another edge", .plain),
                ("cluster_resets", "kill: reset snapshots", .plain),
                ("cluster_still_reconnecting", "kill: not resumed at the end", .plain),
                ("cluster_resumed_silent", "kill: resumed, no message since", .plain),
                ("cluster_lost_at_ns", "kill: last of its viewers saw the close", .nanoseconds),
                ("cluster_resume_attempts", "kill: reconnections tried", .plain),
                ("cluster_resume_p50_ns", "kill: resumed (first message) p50", .nanoseconds),
                ("cluster_resume_p99_ns", "kill: resumed (first message) p99", .nanoseconds),
                ("cluster_resume_open_ns", "kill: last resumed socket open", .nanoseconds),
                ("cluster_resume_first_ns", "kill: last resumed viewer's first message", .nanoseconds),
            ]
        }
        let reporter = RunReporter(isJSON: network.isJSON, rows: rows)
        var all: [RunFigures] = []
        var isClean = true
        for run in 0..<network.runs {
            var figures = RunFigures()
            if withSingle {
                shape.edges = 0
                figures = try runFanout(shape, network: network, scenario: name)
            }
            shape.edges = edges
            let cluster =
                withChildren
                ? try runClusterWithChildren(
                    shape, network: network, scenario: name, killEdge: killEdge, resumeInflight: resumeInflight,
                    viewersPerChild: viewersPerChild)
                : try runFanout(shape, network: network, scenario: name)
            for (key, _) in cluster.entries where cluster.number(key) != nil {
                figures.set("cluster_" + key, cluster.number(key)!)
            }
            figures.set("cluster_end", cluster.text("end") ?? "")
            if !withSingle { figures.set("end", cluster.text("end") ?? "") }
            if let one = figures.number("lat_p99_ns"), let many = cluster.number("lat_p99_ns") { figures.set("added_p99_ns", many - one) }
            isClean = isClean && figures.text("end") == "complete" && cluster.text("end") == "complete"
            reporter.runFinished(figures, run: run, of: network.runs)
            all.append(figures)
        }
        reporter.finish(
            all, title: "cluster: \(shape.viewers) viewers over \(edges) edge(s)"
                + (withSingle ? " vs one process" : "") + (withChildren ? " (viewers in child processes)" : "")
                + (killEdge ? ", edge-1 SIGKILLed halfway" : "") + ", \(shape.count) changes"
                + (rate > 0 ? " at \(Int(rate))/s" : ", window \(shape.window)"))
        return isClean ? 0 : 1
    }
}
