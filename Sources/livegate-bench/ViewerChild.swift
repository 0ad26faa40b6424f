import Foundation
import Glibc

// Viewers past one process's descriptors (`cluster --viewers 57000`): the parent keeps the
// sender (orders to the core) and spreads the viewers over `viewer-child` processes, each with
// its own descriptor limit (at most 19,000 viewers a child), pinned to the load generator's CPU.
//
// The pipe protocol, one text line each way (never per delivered message):
//   parent → child (stdin):  `T n ns`      orders 0..<n written by the parent at `ns` (monotonic)
//                            `K ns port`   the edge on `port` is SIGKILLed at `ns`
//                            `E`           report and exit
//   child → parent (stdout): `R ready open failed`   every viewer has its snapshot (or gave up)
//                            `F n`         orders 0..<n reached every viewer of this child
//                            `P deliveries`  still receiving (every 0.5 s while it changes)
//                            `S key=value …` the child's figures, then `H <histogram>`, then `X`
// CLOCK_MONOTONIC is one clock for every process, so a child times each delivery against the
// parent's send time.

/// `livegate-bench viewer-child` (hidden): one child's viewers, reporting to its parent.
enum ViewerChild: BenchScenario {
    static let name = "viewer-child"
    static let summary = "(internal: the viewers of one load-generator child process)"
    static let isHidden = true

    static func run(_ options: BenchOptions) throws -> Int32 {
        prepareLoadGenerator(cpu: try options.integer("--cpu", default: -1))
        let ports = (options.string("--ports") ?? "").split(separator: ",").compactMap { UInt16($0) }
        let viewers = try options.integer("--viewers", default: 0)
        let skus = try options.integer("--skus", default: 32)
        let capacity = try options.integer("--capacity", default: 1)
        let sourceBase = try options.integer("--source-base", default: 1)
        let connectTimeout = Double(try options.integer("--connect-timeout", default: 120))
        let resumes = options.flag("--resume")
        let resumeInflight = try options.integer("--resume-inflight", default: 1024)
        guard let path = options.string("--path"), !ports.isEmpty, viewers >= 1, viewers <= 19_900 else {
            throw BenchUsageError(description: "viewer-child: --ports P,… --viewers 1…19900 --path /ws?token=… needed")
        }
        let generator = try LoadGenerator(port: Int(ports[0]))
        generator.viewerPorts = ports
        generator.sourceAddressBase = UInt32(sourceBase)
        generator.sourceAddressCount = max(1, (viewers + 3999) / 4000)
        let driver = FanoutDriver(generator: generator, isPubSub: false, skuCount: skus, capacity: capacity)

        // Control pipe (stdin), read whenever epoll says so, or when a delivery names an order
        // this child has not heard of yet (the parent writes `T` before the orders, so the
        // line is always there by then).
        _ = fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK)
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var isEnding = false
        var killedAt: UInt64 = 0
        var deadPorts: Set<UInt16> = []
        func readControl() {
            while true {
                let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if count == 0 { isEnding = true }  // the parent is gone
                if count <= 0 { break }
                pending.append(contentsOf: chunk[0..<count])
            }
            while let newline = pending.firstIndex(of: 10) {
                let fields = String(decoding: pending[0..<newline], as: UTF8.self).split(separator: " ")
                pending.removeSubrange(0...newline)
                switch fields.first {
                case "T":
                    if fields.count == 3, let count = Int(fields[1]), let at = UInt64(fields[2]) {
                        driver.noteSent(upTo: count, at: at)
                    }
                case "K":
                    if fields.count == 3, let at = UInt64(fields[1]), let port = UInt16(fields[2]) {
                        killedAt = at
                        deadPorts.insert(port)
                    }
                case "E": isEnding = true
                default: break
                }
            }
        }
        generator.watch(fd: 0) { readControl() }
        driver.onUnknownOrder = { readControl() }

        // The edge-kill drill: a viewer whose edge went away reconnects to the next live one
        // with since/epoch, at most `--resume-inflight` (default 1024) connecting at a time: the
        // surviving edges are busy fanning out, so a handshake takes a loop turn or more there, and
        // 256 at a time (the start's pace) would take many turns for thousands of viewers.
        var lostViewers = 0
        /// When the last viewer of the killed edge saw its socket close (monotonic ns), and reconnections tried.
        var lostAt: UInt64 = 0
        var resumeAttempts = 0
        var queue: [LoadConnection] = []
        var queueHead = 0
        if resumes {
            driver.onViewerLost = { connection in
                guard connection.resumeAttempts < 20 else { return false }
                readControl()
                if connection.resumeAttempts == 0 && !connection.isResumed {
                    lostViewers += 1
                    lostAt = monotonicNanoseconds()
                }
                resumeAttempts += 1
                queue.append(connection)
                return true
            }
        }
        func reconnect() {
            while queueHead < queue.count && generator.pendingCount < resumeInflight {
                let old = queue[queueHead]
                queueHead += 1
                let alive = ports.filter { !deadPorts.contains($0) && $0 != old.port }
                let candidates = alive.isEmpty ? ports.filter { !deadPorts.contains($0) } : alive
                guard !candidates.isEmpty else { continue }
                let port = candidates[(old.index + old.resumeAttempts) % candidates.count]
                let replacement = generator.connect(
                    kind: .viewer, path: path + "&since=\(old.lastSeq)&epoch=\(driver.epoch)", port: port)
                driver.carryOver(from: old, to: replacement)
                if replacement.state == .closed { queue.append(replacement) }
            }
            if queueHead == queue.count {
                queue.removeAll(keepingCapacity: true)
                queueHead = 0
            }
        }

        func emit(_ line: String) {
            let bytes = Array((line + "\n").utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
                if written <= 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    exit(1)
                }
                offset += written
            }
        }

        _ = generator.connectMany(
            count: viewers, kind: .viewer, path: { _ in path }, timeoutSeconds: connectTimeout)
        let readyDeadline = monotonicNanoseconds() + UInt64(connectTimeout * 1e9)
        while driver.readyViewers - driver.closedViewers < generator.openCount && monotonicNanoseconds() < readyDeadline
            && !isEnding
        {
            generator.poll(timeoutMilliseconds: 10)
        }
        driver.activeViewers = driver.readyViewers
        emit("R \(driver.readyViewers) \(generator.openCount) \(generator.failedCount)")

        var reported = 0
        var lastPulse = monotonicNanoseconds()
        var pulsedDeliveries = 0
        while !isEnding {
            generator.poll(timeoutMilliseconds: 10)
            if resumes { reconnect() }
            if driver.fullyDelivered != reported {
                reported = driver.fullyDelivered
                emit("F \(reported)")
            }
            let now = monotonicNanoseconds()
            if now - lastPulse > 500_000_000 {
                lastPulse = now
                if driver.deliveries != pulsedDeliveries {
                    pulsedDeliveries = driver.deliveries
                    emit("P \(pulsedDeliveries)")
                }
            }
        }

        // The drill's figures: when each reconnected viewer was open again and got its first
        // message after the kill (the replay of what it missed, or the next live one).
        var resumedOpen = 0
        var resumeOpenMax: UInt64 = 0
        var resumeFirstMax: UInt64 = 0
        var resumedSilent = 0
        var stillReconnecting = 0
        var resumeTimes = LatencyHistogram()
        for connection in generator.connections where connection.isResumed && !connection.isExcluded {
            if connection.state == .open {
                resumedOpen += 1
                if killedAt > 0 {
                    resumeOpenMax = max(resumeOpenMax, connection.openedAt &- killedAt)
                    if connection.firstAfterResume > 0 {
                        resumeFirstMax = max(resumeFirstMax, connection.firstAfterResume &- killedAt)
                        resumeTimes.record(connection.firstAfterResume &- killedAt)
                    } else {
                        resumedSilent += 1
                    }
                }
            } else if connection.state != .closed {
                stillReconnecting += 1
            }
        }
        let faults = driver.streamFaults()
        emit(
            "S deliveries=\(driver.deliveries) reflected=\(driver.reflected) coalesced=\(driver.coalesced)"
                + " unmatched=\(driver.unmatched) gaps=\(faults.gaps) out_of_order=\(faults.outOfOrder)"
                + " closed=\(driver.closedViewers) active=\(driver.activeViewers) fully=\(driver.fullyDelivered)"
                + " last_delivery=\(driver.lastDelivery) bytes=\(driver.stockWireBytes)"
                + " lost_viewers=\(lostViewers) resumed_open=\(resumedOpen) resets=\(driver.resets)"
                + " resume_open_ns=\(resumeOpenMax) resume_first_ns=\(resumeFirstMax) resumed_silent=\(resumedSilent)"
                + " still_reconnecting=\(stillReconnecting) failed=\(generator.failedCount)"
                + " lost_at_ns=\(lostAt > killedAt && killedAt > 0 ? lostAt - killedAt : 0) resume_attempts=\(resumeAttempts)")
        emit("H " + driver.histogram.serialized())
        emit("J " + resumeTimes.serialized())
        emit("X")
        generator.closeAll()
        return 0
    }
}

/// The parent's side: starts the children, forwards send times, gathers their progress and figures.
final class ViewerChildren {
    final class Child {
        let process: Process
        /// The pipes (kept: their file handles own the descriptors).
        let pipes: (stdin: Pipe, stdout: Pipe)
        let input: CInt
        let output: CInt
        let viewers: Int
        var buffer: [UInt8] = []
        var ready: (ready: Int, open: Int, failed: Int)?
        var fullyDelivered = 0
        var stats: [String: Double] = [:]
        var histogramLine = ""
        var resumeLine = ""
        var isDone = false
        var isGone = false

        init(process: Process, pipes: (stdin: Pipe, stdout: Pipe), viewers: Int) {
            self.process = process
            self.pipes = pipes
            input = pipes.stdin.fileHandleForWriting.fileDescriptor
            output = pipes.stdout.fileHandleForReading.fileDescriptor
            self.viewers = viewers
        }
    }

    private(set) var children: [Child] = []
    /// Called when any child reports progress (the coordinator's idle clock).
    var onProgress: (UInt64) -> Void = { _ in }

    /// Starts ⌈viewers / perChild⌉ children, each on `ports` rotated by its number (so a child's
    /// viewers, and all viewers, spread evenly over the edges).
    init(
        viewers: Int, perChild: Int, ports: [UInt16], path: String, skus: Int, capacity: Int, cpu: Int, resumes: Bool,
        resumeInflight: Int = 1024, connectTimeout: Int
    ) throws {
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let count = (viewers + perChild - 1) / perChild
        for index in 0..<count {
            let share = viewers / count + (index < viewers % count ? 1 : 0)
            let rotated = (0..<ports.count).map { ports[(index + $0) % ports.count] }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments =
                [
                    "viewer-child", "--ports", rotated.map(String.init).joined(separator: ","), "--viewers", String(share),
                    "--path", path, "--skus", String(skus), "--capacity", String(capacity), "--cpu", String(cpu),
                    "--source-base", String(1 + index * 16), "--connect-timeout", String(connectTimeout),
                ] + (resumes ? ["--resume", "--resume-inflight", String(resumeInflight)] : [])
            let stdin = Pipe()
            let stdout = Pipe()
            process.standardInput = stdin
            process.standardOutput = stdout
            try process.run()
            let output = stdout.fileHandleForReading.fileDescriptor
            _ = fcntl(output, F_SETFL, fcntl(output, F_GETFL) | O_NONBLOCK)
            children.append(Child(process: process, pipes: (stdin, stdout), viewers: share))
        }
    }

    deinit { stop() }

    /// Watches every child's output on `generator`'s epoll.
    func attach(to generator: LoadGenerator) {
        self.generator = generator
        for child in children { generator.watch(fd: child.output) { [unowned self] in self.readLines(child) } }
    }

    private weak var generator: LoadGenerator?

    /// The smallest progress of any child: orders every viewer has.
    var fullyDelivered: Int { children.map(\.fullyDelivered).min() ?? 0 }
    var allReady: Bool { children.allSatisfy { $0.ready != nil || $0.isGone } }
    var allDone: Bool { children.allSatisfy { $0.isDone || $0.isGone } }
    var pids: [Int32] { children.map(\.process.processIdentifier) }

    /// Writes `line` to every child.
    func send(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        for child in children where !child.isGone {
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { write(child.input, $0.baseAddress, $0.count) }
                if written <= 0 {
                    if errno == EINTR { continue }
                    child.isGone = true
                    break
                }
                offset += written
            }
        }
    }

    private func readLines(_ child: Child) {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(child.output, $0.baseAddress, $0.count) }
            if count == 0 {
                if !child.isGone {
                    child.isGone = true
                    // Out of the epoll set: a closed pipe would report readable forever.
                    generator?.unwatch(fd: child.output)
                }
                break
            }
            if count < 0 { break }
            child.buffer.append(contentsOf: chunk[0..<count])
        }
        let now = monotonicNanoseconds()
        while let newline = child.buffer.firstIndex(of: 10) {
            let line = String(decoding: child.buffer[0..<newline], as: UTF8.self)
            child.buffer.removeSubrange(0...newline)
            let fields = line.split(separator: " ")
            switch fields.first {
            case "R":
                if fields.count == 4, let ready = Int(fields[1]), let open = Int(fields[2]), let failed = Int(fields[3]) {
                    child.ready = (ready, open, failed)
                }
            case "F":
                if fields.count == 2, let count = Int(fields[1]) { child.fullyDelivered = count }
                onProgress(now)
            case "P": onProgress(now)
            case "S":
                for field in fields.dropFirst() {
                    let parts = field.split(separator: "=")
                    if parts.count == 2, let value = Double(parts[1]) { child.stats[String(parts[0])] = value }
                }
            case "H": child.histogramLine = String(line.dropFirst(2))
            case "J": child.resumeLine = String(line.dropFirst(2))
            case "X": child.isDone = true
            default: break
            }
        }
    }

    /// Polls `generator` (and so the children's pipes) until `done()` or `deadline`.
    func wait(on generator: LoadGenerator, until deadline: UInt64, _ done: () -> Bool) {
        while !done() && monotonicNanoseconds() < deadline { generator.poll(timeoutMilliseconds: 10) }
    }

    /// The sum of a figure over the children.
    func sum(_ key: String) -> Double { children.reduce(0) { $0 + ($1.stats[key] ?? 0) } }
    func maximum(_ key: String) -> Double { children.map { $0.stats[key] ?? 0 }.max() ?? 0 }

    /// Every child's latency histogram, merged.
    func histogram() -> LatencyHistogram {
        var merged = LatencyHistogram()
        for child in children where !child.histogramLine.isEmpty { _ = merged.merge(serialized: child.histogramLine[...]) }
        return merged
    }

    /// Every child's resume times (kill → a resumed viewer's first message), merged.
    func resumeHistogram() -> LatencyHistogram {
        var merged = LatencyHistogram()
        for child in children where !child.resumeLine.isEmpty { _ = merged.merge(serialized: child.resumeLine[...]) }
        return merged
    }

    /// The children's CPU seconds so far (/proc).
    func cpuSeconds() -> Double { pids.reduce(0) { $0 + BenchServer.cpuSeconds(pid: $1) } }

    /// Kills any child still running (by its PID) and reaps it.
    func stop() {
        for child in children {
            if child.process.isRunning {
                kill(child.process.processIdentifier, SIGKILL)
            }
            child.process.waitUntilExit()
        }
        children.removeAll()
    }
}
