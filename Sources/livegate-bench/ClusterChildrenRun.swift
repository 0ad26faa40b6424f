import Foundation
import Glibc

/// A cluster run whose viewers live in `viewer-child` processes (``ViewerChildren``): the core,
/// `redis-server` and the edges as in ``runFanout(_:network:scenario:)``; this process only sends
/// the orders and adds up what the children report. With `killEdge`, the first edge is SIGKILLed
/// by its PID once half the orders are sent, and its viewers resume at the others.
func runClusterWithChildren(
    _ shape: FanoutShape, network: NetworkOptions, scenario: String, killEdge: Bool, resumeInflight: Int = 1024,
    viewersPerChild: Int = 19_000
) throws
    -> RunFigures
{
    let skuCount = max(shape.window, 32)
    var setup = BenchServer.Setup()
    setup.skuCount = skuCount
    setup.cpu = network.serverCPU
    let redis = try BenchRedis(cpu: network.serverCPU)
    defer { redis.stop() }
    setup.extraArguments = ["--redis", redis.url]
    let server = try BenchServer(setup)
    defer { server.stop() }
    var edges: [BenchServer] = []
    defer { for edge in edges { edge.stop() } }
    for index in 0..<shape.edges {
        var edgeSetup = setup
        edgeSetup.extraArguments += ["--edge", "--node", "edge-\(index + 1)"]
        let edge = try BenchServer(edgeSetup)
        edges.append(edge)
        try edge.waitUntilReady(seconds: 20)
    }
    let viewerPath = "/ws?token=" + (try server.token(role: "viewer", subject: "bench-viewer"))
    let senderPath = "/ws?token=" + (try server.token(role: "connector", subject: "bench-connector", channel: "bench"))
    var figures = RunFigures()
    figures.set("scenario", scenario)
    figures.set("mode", "room")
    figures.set("viewers", shape.viewers)
    figures.set("messages", shape.count)
    figures.set("edges", edges.count)
    if shape.rate > 0 { figures.set("rate", shape.rate) } else { figures.set("window", shape.window) }

    let generator = try LoadGenerator(port: server.port)
    let driver = FanoutDriver(generator: generator, isPubSub: false, skuCount: skuCount, capacity: shape.count)
    driver.isCoordinator = true
    let connectStart = monotonicNanoseconds()
    let children = try ViewerChildren(
        viewers: shape.viewers, perChild: viewersPerChild, ports: edges.map { UInt16($0.port) }, path: viewerPath,
        skus: skuCount, capacity: shape.count, cpu: network.generatorCPU, resumes: killEdge,
        resumeInflight: resumeInflight, connectTimeout: 120)
    defer { children.stop() }
    children.attach(to: generator)
    children.wait(on: generator, until: connectStart + 240_000_000_000) { children.allReady }
    let ready = children.children.reduce(0) { $0 + ($1.ready?.ready ?? 0) }
    let open = children.children.reduce(0) { $0 + ($1.ready?.open ?? 0) }
    let failed = children.children.reduce(0) { $0 + ($1.ready?.failed ?? 0) }
    figures.set("children", children.children.count)
    figures.set("open", open)
    figures.set("ready", ready)
    figures.set("connect_failures", failed)
    figures.set("connect_s", Double(monotonicNanoseconds() - connectStart) / 1e9)
    let sender = generator.connect(kind: .sender, path: senderPath)
    driver.sender = sender
    let deadline = monotonicNanoseconds() + UInt64(network.timeoutSeconds * 1e9)
    while sender.state != .open && sender.state != .closed && monotonicNanoseconds() < deadline {
        generator.poll(timeoutMilliseconds: 10)
    }
    guard ready == shape.viewers, sender.state == .open else {
        figures.set("end", "setup-failed")
        return figures
    }

    let lags = EdgeLagSampler(port: server.port)
    lags.start()
    let nodesCPUStart = server.cpuSeconds() + edges.reduce(0) { $0 + $1.cpuSeconds() } + redis.cpuSeconds()
    let redisCPU = redis.cpuSeconds()
    let redisCommands = redis.commandsProcessed()
    let loadCPU = ownCPUSeconds() + children.cpuSeconds()
    children.onProgress = { [unowned driver, unowned children] now in
        driver.noteProgress(fullyDelivered: children.fullyDelivered, now: now)
    }
    // The send time goes down the pipes before the orders go out, so a child always knows it.
    driver.onSend = { [unowned children] first, count, now in children.send("T \(first + count) \(now)") }
    var killedAt: UInt64 = 0
    let start = monotonicNanoseconds()
    let end = driver.publish(count: shape.count, window: shape.window, rate: shape.rate, deadline: deadline) {
        guard killEdge, killedAt == 0, driver.sent >= shape.count / 2, let victim = edges.first else { return }
        killedAt = monotonicNanoseconds()
        children.send("K \(killedAt) \(victim.port)")
        kill(victim.pid, SIGKILL)
    }
    let stop = monotonicNanoseconds()
    let wall = Double(stop - start) / 1e9
    let nodesCPU = server.cpuSeconds() + edges.reduce(0) { $0 + $1.cpuSeconds() } + redis.cpuSeconds() - nodesCPUStart
    let loadCPUUsed = ownCPUSeconds() + children.cpuSeconds() - loadCPU
    let redisCPUUsed = redis.cpuSeconds() - redisCPU
    let commands = redis.commandsProcessed() - redisCommands
    lags.stop()
    children.send("E")
    children.wait(on: generator, until: monotonicNanoseconds() + 30_000_000_000) { children.allDone }

    let histogram = children.histogram()
    let active = Int(children.sum("active"))
    let expected = shape.count * active
    let reflected = Int(children.sum("reflected"))
    let deliveries = Int(children.sum("deliveries"))
    let lastDelivery = UInt64(children.maximum("last_delivery"))
    let span = lastDelivery > driver.firstSend ? Double(lastDelivery - driver.firstSend) / 1e9 : 0
    figures.set("sent", driver.sent)
    figures.set("expected", expected)
    figures.set("delivered", deliveries)
    figures.set("reflected", reflected)
    figures.set("coalesced", Int(children.sum("coalesced")))
    figures.set("lost", max(0, expected - reflected))
    figures.set("gaps", Int(children.sum("gaps")))
    figures.set("out_of_order", Int(children.sum("out_of_order")))
    figures.set("closed_viewers", Int(children.sum("closed")))
    figures.set("unmatched", Int(children.sum("unmatched")))
    figures.set("acks", driver.acks)
    figures.set("rejected", driver.rejected + driver.errors)
    figures.set("deliveries_per_s", span > 0 ? Double(deliveries) / span : 0)
    figures.set("lat_p50_ns", histogram.quantile(0.5))
    figures.set("lat_p99_ns", histogram.quantile(0.99))
    figures.set("lat_p999_ns", histogram.quantile(0.999))
    figures.set("lat_max_ns", Double(histogram.maximum))
    figures.set("server_cpu_pct", nodesCPU / wall * 100)
    figures.set("redis_cpu_pct", redisCPUUsed / wall * 100)
    figures.set("redis_commands_per_message", Double(commands) / Double(max(1, driver.sent)))
    figures.set("loadgen_cpu_pct", loadCPUUsed / wall * 100)
    for (edge, lag) in lags.maxima() {
        figures.set("lag_ms_" + edge, lag.milliseconds)
        figures.set("lag_messages_" + edge, lag.messages)
    }
    if killEdge {
        figures.set("killed_viewers", Int(children.sum("lost_viewers")))
        figures.set("resumed_viewers", Int(children.sum("resumed_open")))
        figures.set("resets", Int(children.sum("resets")))
        figures.set("resumed_silent", Int(children.sum("resumed_silent")))
        figures.set("still_reconnecting", Int(children.sum("still_reconnecting")))
        figures.set("resume_open_ns", children.maximum("resume_open_ns"))
        figures.set("resume_first_ns", children.maximum("resume_first_ns"))
        let resumes = children.resumeHistogram()
        figures.set("resume_p50_ns", resumes.quantile(0.5))
        figures.set("resume_p99_ns", resumes.quantile(0.99))
        figures.set("lost_at_ns", children.maximum("lost_at_ns"))
        figures.set("resume_attempts", Int(children.sum("resume_attempts")))
    }
    figures.set("run_s", wall)
    figures.set("end", children.allDone ? end : end + "+children-silent")
    return figures
}

/// Samples the core's `/metrics` once a second (curl, off the sending thread) and keeps each
/// edge's largest lag in messages and ms (`livegate_edge_lag_*{edge="…"}`).
final class EdgeLagSampler: @unchecked Sendable {
    private let port: Int
    private let lock = NSLock()
    private var largest: [String: (messages: Double, milliseconds: Double)] = [:]
    private var isStopped = false
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    init(port: Int) { self.port = port }

    func start() {
        let thread = Thread { [self] in
            while !lock.withLock({ isStopped }) {
                sample()
                for _ in 0..<10 where !lock.withLock({ isStopped }) { usleep(100_000) }
            }
            finished.signal()
        }
        self.thread = thread
        thread.start()
    }

    func stop() {
        lock.withLock { isStopped = true }
        if thread != nil { finished.wait() }
        sample()
    }

    func maxima() -> [(String, (messages: Double, milliseconds: Double))] {
        lock.withLock { largest.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    }

    private func sample() {
        guard let result = try? BenchServer.runTool("/usr/bin/curl", ["-s", "http://127.0.0.1:\(port)/metrics"]) else { return }
        for line in result.output.split(separator: "\n") {
            let isMessages = line.hasPrefix("livegate_edge_lag_messages{edge=\"")
            let isMilliseconds = line.hasPrefix("livegate_edge_lag_milliseconds{edge=\"")
            guard isMessages || isMilliseconds, let open = line.firstIndex(of: "\""),
                let close = line[line.index(after: open)...].firstIndex(of: "\""),
                let value = Double(line.split(separator: " ").last ?? "")
            else { continue }
            let edge = String(line[line.index(after: open)..<close])
            lock.withLock {
                var entry = largest[edge] ?? (0, 0)
                if isMessages { entry.messages = max(entry.messages, value) } else { entry.milliseconds = max(entry.milliseconds, value) }
                largest[edge] = entry
            }
        }
    }
}
