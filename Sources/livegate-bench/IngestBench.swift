import Foundation
import Glibc

/// `livegate-bench ingest`: orders per second end to end over N connector sockets, each counted
/// when its `result` arrives (the server answers only after the journal batch is durable).
///
/// Every socket keeps `--window` orders in flight (`paid`, quantity 1, unique order ids, one hot
/// SKU by default). Ack latency is from writing an order to reading its result.
enum IngestBench: BenchScenario {
    static let name = "ingest"
    static let summary =
        "orders/s over N connector sockets, each acknowledged after durable commit  [--sockets 16] [--count 100000] [--window 256] [--skus 1] [--runs 3] [--json]"
    static let isHidden = false

    static func run(_ options: BenchOptions) throws -> Int32 {
        let network = try NetworkOptions(options)
        prepareLoadGenerator(cpu: network.generatorCPU)
        let sockets = try options.integer("--sockets", default: 16)
        let count = try options.integer("--count", default: 100_000)
        let window = try options.integer("--window", default: sockets == 1 ? 2048 : 256)
        let skus = try options.integer("--skus", default: 1)
        guard sockets >= 1, sockets <= 1000, count >= sockets, window >= 1, skus >= 1, skus <= 1000 else {
            throw BenchUsageError(description: "--sockets 1…1000, --count ≥ sockets, --window ≥ 1, --skus 1…1000")
        }
        let reporter = RunReporter(
            isJSON: network.isJSON,
            rows: [
                ("orders_per_s", "durable orders/s", .count),
                ("ack_p50_ns", "ack p50", .nanoseconds),
                ("ack_p99_ns", "ack p99", .nanoseconds),
                ("ack_max_ns", "ack max", .nanoseconds),
                ("server_cpu_pct", "server CPU (all threads)", .percent),
                ("loadgen_cpu_pct", "load generator CPU", .percent),
                ("acked", "acknowledged", .plain),
                ("rejected", "rejected or errors", .plain),
            ])
        var all: [RunFigures] = []
        var isClean = true
        for run in 0..<network.runs {
            let figures = try runOnce(sockets: sockets, count: count, window: window, skus: skus, network: network)
            isClean = isClean && figures.text("end") == "complete"
            reporter.runFinished(figures, run: run, of: network.runs)
            all.append(figures)
        }
        reporter.finish(
            all,
            title: "ingest: \(count) orders over \(sockets) connector socket(s), window \(window) each, \(skus) SKU(s)")
        return isClean ? 0 : 1
    }

    /// Per-socket sending state.
    private final class Sender {
        let connection: LoadConnection
        /// Orders of this socket: global ids `base + k × stride`.
        var sent = 0
        var acked = 0
        let quota: Int
        init(connection: LoadConnection, quota: Int) {
            self.connection = connection
            self.quota = quota
        }
    }

    static func runOnce(sockets: Int, count: Int, window: Int, skus: Int, network: NetworkOptions) throws -> RunFigures
    {
        var setup = BenchServer.Setup()
        setup.skuCount = skus
        setup.cpu = network.serverCPU
        let server = try BenchServer(setup)
        defer { server.stop() }
        let generator = try LoadGenerator(port: server.port)
        let path = "/ws?token=" + (try server.token(role: "connector", subject: "bench-connector", channel: "bench"))
        let deadline = monotonicNanoseconds() + UInt64(network.timeoutSeconds * 1e9)
        var sentAt = [UInt64](repeating: 0, count: count)
        var histogram = LatencyHistogram()
        var senders: [Sender] = []
        var acked = 0
        var rejected = 0
        var errors = 0
        var ready = 0
        var lastAck: UInt64 = 0
        generator.onMessage = { connection, payload, now in
            if PayloadScanner.hasPrefix(payload, "{\"type\":\"result\"") {
                guard let id = PayloadScanner.integer(after: "\"id\":", in: payload), id.value >= 0,
                    Int(id.value) < count
                else {
                    errors += 1
                    return
                }
                histogram.record(now &- sentAt[Int(id.value)])
                acked += 1
                lastAck = now
                senders[connection.index].acked += 1
                // A result carries "ok":true right after "command":"order".
                if !PayloadScanner.contains(payload, "\"ok\":true") { rejected += 1 }
            } else if PayloadScanner.hasPrefix(payload, "{\"type\":\"error\"") {
                errors += 1
            } else if PayloadScanner.hasPrefix(payload, "{\"type\":\"snapshot\"") {
                if !connection.isReady {
                    connection.isReady = true
                    ready += 1
                }
            }
        }
        for index in 0..<sockets {
            let quota = count / sockets + (index < count % sockets ? 1 : 0)
            senders.append(Sender(connection: generator.connect(kind: .sender, path: path), quota: quota))
        }
        while ready < sockets && monotonicNanoseconds() < deadline && generator.failedCount == 0 {
            generator.poll(timeoutMilliseconds: 10)
        }
        var figures = RunFigures()
        figures.set("scenario", name)
        figures.set("sockets", sockets)
        figures.set("orders", count)
        figures.set("window", window)
        figures.set("skus", skus)
        guard ready == sockets else {
            figures.set("end", "setup-failed")
            return figures
        }
        // Order ids are global: socket s sends ids s, s + sockets, s + 2 × sockets, …
        let serverCPU = server.cpuSeconds()
        let ownCPU = ownCPUSeconds()
        let start = monotonicNanoseconds()
        var batch: [UInt8] = []
        var payload: [UInt8] = []
        var end = "complete"
        while acked + errors < count {
            let now = monotonicNanoseconds()
            for (index, sender) in senders.enumerated()
            where sender.sent < sender.quota && sender.sent - sender.acked < window / 2 + 1 {
                batch.removeAll(keepingCapacity: true)
                while sender.sent < sender.quota && sender.sent - sender.acked < window {
                    let id = index + sender.sent * sockets
                    payload.removeAll(keepingCapacity: true)
                    payload.append(contentsOf: #"{"type":"order","id":"#.utf8)
                    appendDecimal(id, to: &payload)
                    payload.append(contentsOf: #","orderId":"in-"#.utf8)
                    appendDecimal(id, to: &payload)
                    payload.append(contentsOf: #"","sku":""#.utf8)
                    payload.append(contentsOf: BenchServer.skuName(id % skus).utf8)
                    payload.append(contentsOf: #"","qty":1,"state":"paid"}"#.utf8)
                    LoadGenerator.appendFrame(payload: payload, to: &batch)
                    sentAt[id] = now
                    sender.sent += 1
                }
                generator.send(sender.connection, batch)
            }
            if now > deadline {
                end = "timeout"
                break
            }
            if generator.closedCount > 0 {
                end = "connector-closed"
                break
            }
            generator.poll(timeoutMilliseconds: 10)
        }
        let wall = Double(max(lastAck, start + 1) - start) / 1e9
        figures.set("acked", acked)
        figures.set("rejected", rejected + errors)
        figures.set("orders_per_s", Double(acked) / wall)
        figures.set("ack_p50_ns", histogram.quantile(0.5))
        figures.set("ack_p99_ns", histogram.quantile(0.99))
        figures.set("ack_max_ns", Double(histogram.maximum))
        let elapsed = Double(monotonicNanoseconds() - start) / 1e9
        figures.set("server_cpu_pct", (server.cpuSeconds() - serverCPU) / elapsed * 100)
        figures.set("loadgen_cpu_pct", (ownCPUSeconds() - ownCPU) / elapsed * 100)
        figures.set("run_s", wall)
        figures.set("end", end)
        generator.closeAll()
        return figures
    }
}
