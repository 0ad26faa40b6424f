import Foundation
import Glibc

/// Opens N viewers against a fresh server: handshake rate, connect→101 time, and the server's
/// RSS per held connection after `hold` seconds.
func runConnections(
    viewers: Int, holdSeconds: Double, isPubSub: Bool, useTLS: Bool, network: NetworkOptions, scenario: String
) throws -> RunFigures {
    var setup = BenchServer.Setup()
    setup.skuCount = 3
    setup.isPubSub = isPubSub
    setup.useTLS = useTLS
    setup.cpu = network.serverCPU
    let server = try BenchServer(setup)
    defer { server.stop() }
    let generator = try LoadGenerator(port: useTLS ? server.tlsPort : server.port, useTLS: useTLS)
    generator.sourceAddressCount = max(1, (viewers + 3999) / 4000)
    let path = isPubSub ? "/bench" : "/ws?token=" + (try server.token(role: "viewer", subject: "bench-viewer"))
    var ready = 0
    generator.onMessage = { connection, _, _ in
        if !connection.isReady {
            connection.isReady = true
            ready += 1
        }
    }
    var figures = RunFigures()
    figures.set("scenario", scenario)
    figures.set("mode", isPubSub ? "pubsub" : "room")
    figures.set("tls", useTLS)
    figures.set("viewers", viewers)
    usleep(200_000)
    let rssBefore = server.residentKilobytes()
    let serverCPU = server.cpuSeconds()
    let ownCPU = ownCPUSeconds()
    let seconds = generator.connectMany(
        count: viewers, kind: .viewer, path: { _ in path }, timeoutSeconds: network.timeoutSeconds)
    let serverConnectCPU = server.cpuSeconds() - serverCPU
    let ownConnectCPU = ownCPUSeconds() - ownCPU
    figures.set("open", generator.openCount)
    figures.set("failed", generator.failedCount)
    figures.set("handshakes_per_s", Double(generator.openCount) / seconds)
    let times = generator.handshakeMicroseconds.sorted()
    if !times.isEmpty {
        figures.set("hs_p50_us", Int(times[times.count / 2]))
        figures.set("hs_p99_us", Int(times[min(times.count - 1, times.count * 99 / 100)]))
    }
    figures.set("server_cpu_connect_pct", serverConnectCPU / seconds * 100)
    figures.set("loadgen_cpu_connect_pct", ownConnectCPU / seconds * 100)
    // Room viewers get a snapshot first: wait for it, then hold.
    let holdEnd = monotonicNanoseconds() + UInt64(holdSeconds * 1e9)
    while monotonicNanoseconds() < holdEnd { generator.poll(timeoutMilliseconds: 20) }
    if !isPubSub { figures.set("snapshots", ready) }
    let rssIdle = server.residentKilobytes()
    figures.set("server_rss_before_kb", rssBefore)
    figures.set("server_rss_idle_kb", rssIdle)
    figures.set(
        "server_bytes_per_conn",
        generator.openCount > 0 ? Double(rssIdle - rssBefore) * 1024 / Double(generator.openCount) : 0)
    figures.set("closed_during", generator.closedCount)
    let isComplete = generator.openCount == viewers && (isPubSub || ready == viewers)
    figures.set("end", isComplete ? "complete" : "incomplete")
    generator.closeAll()
    return figures
}

/// `livegate-bench idle`: N idle viewers; server RSS per connection.
enum IdleBench: BenchScenario {
    static let name = "idle"
    static let summary =
        "N idle viewers held: server RSS per connection  [--viewers 10000] [--hold 3] [--pubsub] [--runs 3] [--json]"
    static let isHidden = false

    static func run(_ options: BenchOptions) throws -> Int32 {
        try runConnectionScenario(options, name: name, defaultViewers: 10_000, defaultHold: 3)
    }
}

/// `livegate-bench connect`: upgrade handshakes per second (`--tls`: TLS handshake + upgrade).
enum ConnectBench: BenchScenario {
    static let name = "connect"
    static let summary =
        "N viewers connecting: upgrade handshakes/s, connect→101 p50/p99  [--viewers 10000] [--tls] [--pubsub] [--runs 3] [--json]"
    static let isHidden = false

    static func run(_ options: BenchOptions) throws -> Int32 {
        try runConnectionScenario(options, name: name, defaultViewers: 10_000, defaultHold: 0)
    }
}

private func runConnectionScenario(_ options: BenchOptions, name: String, defaultViewers: Int, defaultHold: Int) throws
    -> Int32
{
    let network = try NetworkOptions(options)
    prepareLoadGenerator(cpu: network.generatorCPU)
    let viewers = try options.integer("--viewers", default: defaultViewers)
    let hold = Double(try options.integer("--hold", default: defaultHold))
    let isPubSub = options.flag("--pubsub")
    let useTLS = options.flag("--tls")
    guard viewers >= 1, viewers <= 19_900 else {
        throw BenchUsageError(description: "--viewers 1…19900 (descriptor limit 20,000)")
    }
    let rows: [(key: String, label: String, format: FigureFormat)] =
        name == "idle"
        ? [
            ("server_bytes_per_conn", "server RSS per connection", .bytes),
            ("handshakes_per_s", "handshakes/s", .count),
            ("server_rss_idle_kb", "server RSS held (KiB)", .plain),
            ("server_rss_before_kb", "server RSS before (KiB)", .plain),
            ("open", "open", .plain),
            ("loadgen_cpu_connect_pct", "load generator CPU (connect)", .percent),
        ]
        : [
            ("handshakes_per_s", useTLS ? "TLS handshakes/s" : "handshakes/s", .count),
            ("hs_p50_us", "connect→101 p50 (µs)", .plain),
            ("hs_p99_us", "connect→101 p99 (µs)", .plain),
            ("server_cpu_connect_pct", "server CPU", .percent),
            ("loadgen_cpu_connect_pct", "load generator CPU", .percent),
            ("open", "open", .plain),
            ("failed", "failed", .plain),
        ]
    let reporter = RunReporter(isJSON: network.isJSON, rows: rows)
    var all: [RunFigures] = []
    var isClean = true
    for run in 0..<network.runs {
        let figures = try runConnections(
            viewers: viewers, holdSeconds: max(hold, 0.5), isPubSub: isPubSub, useTLS: useTLS, network: network,
            scenario: name)
        isClean = isClean && figures.text("end") == "complete"
        reporter.runFinished(figures, run: run, of: network.runs)
        all.append(figures)
    }
    reporter.finish(
        all, title: "\(name): \(viewers) \(isPubSub ? "/bench" : "room") viewers\(useTLS ? " over TLS" : "")")
    return isClean ? 0 : 1
}
