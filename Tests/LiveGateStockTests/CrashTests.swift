import Foundation
import Synchronization
import Testing
@testable import LiveGateStock
import LiveGateTestSupport

/// SIGKILL the core at random moments; after every restart each acknowledged change is there once.
struct CrashTests {
    /// The `livegate-bench` binary, next to this test binary in the build directory.
    static var benchBinary: String? { BuiltExecutable.path("livegate-bench") }

    /// Runs the child until it has printed `started`, waits `delay`, SIGKILLs it, and returns its
    /// complete output lines.
    static func runAndKill(binary: String, directory: String, prefix: String, delay: Double) throws -> [Substring] {
        let child = try ChildProcess.spawn(binary, ["crash-child", "--data-dir", directory, "--prefix", prefix])
        let output = Mutex(Data())
        let readerDone = DispatchSemaphore(value: 0)
        Thread {
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = child.read(into: &chunk)
                if count == 0 { break }
                output.withLock { $0.append(contentsOf: chunk[..<count]) }
            }
            readerDone.signal()
        }.start()
        let startDeadline = Date().addingTimeInterval(20)
        while Date() < startDeadline, kill(child.pid, 0) == 0,
            !output.withLock({ String(decoding: $0, as: UTF8.self).contains("started\n") })
        {
            usleep(2_000)
        }
        usleep(UInt32(delay * 1_000_000))
        kill(child.pid, SIGKILL)
        _ = child.wait()
        readerDone.wait()
        let text = output.withLock { String(decoding: $0, as: UTF8.self) }
        // Only complete lines count: a line cut by the kill was never fully reported.
        let complete = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n") ?? text.startIndex)])
        return complete.split(separator: "\n")
    }

    @Test(.timeLimit(.minutes(2)))
    func acknowledgedOrdersSurviveSIGKILL() throws {
        guard let binary = Self.benchBinary else {
            Issue.record("livegate-bench is not built next to the test binary; run `swift build` first")
            return
        }
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var generator = SplitMix64(seed: 2026)
        var acknowledged: [String: Character] = [:]
        var acknowledgedTotal = 0
        let rounds = 22
        for round in 0..<rounds {
            let delay = Double.random(in: 0.02...0.35, using: &generator)
            let lines = try Self.runAndKill(binary: binary, directory: directory.path, prefix: "r\(round)", delay: delay)
            #expect(lines.first == "started", "round \(round): \(lines.prefix(3))")
            for line in lines.dropFirst() {
                let kind = line.first!
                let id = String(line.dropFirst(2))
                // Later acknowledgements of an order supersede its reservation.
                if kind != "R" || acknowledged[id] == nil { acknowledged[id] = kind }
                acknowledgedTotal += 1
            }
            let configuration = StockConfiguration(clock: .live, log: { _ in })
            let core = try StockEngine.open(dataDirectory: directory.path, configuration: configuration)
            core.withLedger { ledger in
                if let violation = ledger.invariantViolation() { Issue.record("round \(round): \(violation)") }
                var problems = 0
                for (id, kind) in acknowledged {
                    let state = ledger.order(channel: CrashChildNames.channel, orderId: id)?.state
                    let fine: Bool =
                        switch kind {
                        case "S": state == .sold
                        case "C": state == .cancelled
                        default: state == .reserved || state == .sold || state == .cancelled
                        }
                    if !fine {
                        problems += 1
                        if problems <= 5 { Issue.record("round \(round): \(id) acknowledged \(kind) but recovered as \(String(describing: state))") }
                    }
                }
                // Exactly once: the SKU's counters equal the sums over the remembered orders.
                var reserved: Int64 = 0
                var sold: Int64 = 0
                for entry in ledger.orders.entries {
                    if entry.state == .reserved { reserved += Int64(entry.quantity) }
                    if entry.state == .sold { sold += Int64(entry.quantity) }
                }
                let sku = ledger.publication(of: "crash")
                #expect(sku?.reserved == reserved && sku?.sold == sold, "round \(round)")
            }
            core.stop()
        }
        #expect(acknowledgedTotal > rounds * 10, "the children acknowledged too little to mean anything: \(acknowledgedTotal)")
    }
}

/// Names shared with `livegate-bench crash-child`.
enum CrashChildNames {
    /// The sales channel the child uses.
    static let channel = "crash"
}
