import Foundation
import Glibc

/// `livegate-bench slow`: one reading viewer's order→receive latency without, then with, K viewers
/// that never read a byte (4 KiB receive buffers), on one server with the default viewer budgets
/// (so the slow-consumer policy, conflation then 1013, is what is measured). Prints both and the
/// ratio. The bound is "within 5×"; this is where that figure lives (not in unit tests).
enum SlowBench: BenchScenario {
    static let name = "slow"
    static let summary =
        "one reader's latency without and with K viewers that never read, and the ratio  [--stuck 1000] [--rate 200] [--seconds 3] [--runs 3] [--json]"
    static let isHidden = false

    static func run(_ options: BenchOptions) throws -> Int32 {
        let network = try NetworkOptions(options)
        prepareLoadGenerator(cpu: network.generatorCPU)
        let stuck = try options.integer("--stuck", default: 1_000)
        let rate = Double(try options.integer("--rate", default: 200))
        let seconds = Double(try options.integer("--seconds", default: 3))
        let count = Int(rate * seconds)
        guard stuck >= 1, stuck <= 19_000, rate >= 1, count >= 1 else {
            throw BenchUsageError(description: "--stuck 1…19000, --rate ≥ 1, --seconds ≥ 1")
        }
        let reporter = RunReporter(
            isJSON: network.isJSON,
            rows: [
                ("alone_p50_ns", "reader p50 alone", .nanoseconds),
                ("alone_p99_ns", "reader p99 alone", .nanoseconds),
                ("stuck_p50_ns", "reader p50 with stuck", .nanoseconds),
                ("stuck_p99_ns", "reader p99 with stuck", .nanoseconds),
                ("p50_ratio", "p50 ratio (≤ 5)", .ratio),
                ("p99_ratio", "p99 ratio", .ratio),
                ("stuck_server_cpu_pct", "server CPU with stuck", .percent),
                ("lost", "reader lost", .plain),
            ])
        var all: [RunFigures] = []
        var isClean = true
        for run in 0..<network.runs {
            let figures = try runOnce(stuck: stuck, rate: rate, count: count, network: network)
            isClean = isClean && figures.text("end") == "complete"
            reporter.runFinished(figures, run: run, of: network.runs)
            all.append(figures)
        }
        reporter.finish(
            all,
            title:
                "slow: 1 reader, \(Int(rate)) orders/s for \(Int(seconds)) s, alone and with \(stuck) viewers that never read"
        )
        return isClean ? 0 : 1
    }

    static func runOnce(stuck: Int, rate: Double, count: Int, network: NetworkOptions) throws -> RunFigures {
        var setup = BenchServer.Setup()
        setup.cpu = network.serverCPU
        // The shipped defaults: conflation above 64 KiB queued, 1013 above 1 MiB.
        setup.viewerSoftBudgetBytes = 65_536
        setup.viewerHardBudgetBytes = 1_048_576
        let server = try BenchServer(setup)
        defer { server.stop() }
        let generator = try LoadGenerator(port: server.port)
        generator.sourceAddressCount = max(1, (stuck + 3999) / 4000)
        let deadline = monotonicNanoseconds() + UInt64(network.timeoutSeconds * 1e9)
        let driver = FanoutDriver(generator: generator, isPubSub: false, skuCount: setup.skuCount, capacity: count * 2)
        let viewerPath = "/ws?token=" + (try server.token(role: "viewer", subject: "bench-viewer"))
        let senderPath =
            "/ws?token=" + (try server.token(role: "connector", subject: "bench-connector", channel: "bench"))
        generator.connect(kind: .viewer, path: viewerPath)
        let sender = generator.connect(kind: .sender, path: senderPath)
        driver.sender = sender
        while (driver.readyViewers < 1 || sender.state != .open) && monotonicNanoseconds() < deadline {
            generator.poll(timeoutMilliseconds: 10)
        }
        driver.activeViewers = driver.readyViewers
        var figures = RunFigures()
        figures.set("scenario", name)
        figures.set("stuck", stuck)
        figures.set("rate", rate)
        figures.set("messages_per_phase", count)
        guard driver.activeViewers == 1 else {
            figures.set("end", "setup-failed")
            return figures
        }
        let alone = driver.publish(count: count, window: 0, rate: rate, deadline: deadline)
        let aloneHistogram = driver.histogram
        driver.histogram = LatencyHistogram()
        _ = generator.connectMany(
            count: stuck, kind: .stuck, path: { _ in viewerPath }, timeoutSeconds: 30, receiveBuffer: 4096)
        figures.set("stuck_open", generator.openCount - 2)
        // Let the server finish their upgrades and snapshots.
        let settle = monotonicNanoseconds() + 1_000_000_000
        while monotonicNanoseconds() < settle { generator.poll(timeoutMilliseconds: 10) }
        let serverCPU = server.cpuSeconds()
        let start = monotonicNanoseconds()
        let withStuck = driver.publish(count: count, window: 0, rate: rate, deadline: deadline)
        let wall = Double(monotonicNanoseconds() - start) / 1e9
        let faults = driver.streamFaults()
        figures.set("alone_p50_ns", aloneHistogram.quantile(0.5))
        figures.set("alone_p99_ns", aloneHistogram.quantile(0.99))
        figures.set("alone_max_ns", Double(aloneHistogram.maximum))
        figures.set("stuck_p50_ns", driver.histogram.quantile(0.5))
        figures.set("stuck_p99_ns", driver.histogram.quantile(0.99))
        figures.set("stuck_max_ns", Double(driver.histogram.maximum))
        figures.set("p50_ratio", driver.histogram.quantile(0.5) / max(1, aloneHistogram.quantile(0.5)))
        figures.set("p99_ratio", driver.histogram.quantile(0.99) / max(1, aloneHistogram.quantile(0.99)))
        figures.set("stuck_server_cpu_pct", (server.cpuSeconds() - serverCPU) / wall * 100)
        figures.set("delivered", driver.deliveries)
        figures.set("coalesced", driver.coalesced)
        figures.set("lost", max(0, 2 * count - driver.reflected))
        figures.set("gaps", faults.gaps)
        figures.set("out_of_order", faults.outOfOrder)
        figures.set("end", alone == "complete" && withStuck == "complete" ? "complete" : "\(alone)/\(withStuck)")
        generator.closeAll()
        return figures
    }
}
