import Foundation
import LiveGateStock

/// `livegate-bench faults`: seeded storage-fault simulation of the stock core on real journal
/// files (see ``FaultSimulation``): process crashes, power cuts with torn writes, failed
/// `fdatasync`, flipped bytes and stray temporaries, each followed by the core's own recovery
/// and the invariants. Exits 1 if any invariant broke.
enum FaultsBench: BenchScenario {
    static let name = "faults"
    static let summary = "storage faults: crash-restarts with torn writes, failed syncs, bit flips; invariants  [--restarts N] [--seed S] [--json]"
    static let isHidden = false

    static func run(_ options: BenchOptions) throws -> Int32 {
        let restarts = try options.integer("--restarts", default: 100_000)
        let seed = UInt64(try options.integer("--seed", default: 1))
        guard restarts >= 1 else { throw BenchUsageError(description: "--restarts ≥ 1") }
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let directory = base + "/livegate-faults-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let start = Date()
        let report = try FaultSimulation.run(seed: seed, restarts: restarts, directory: directory)
        let seconds = Date().timeIntervalSince(start)
        if options.flag("--json") {
            var fields: [String] = [
                "\"restarts\":\(report.restarts)", "\"seed\":\(seed)", "\"seconds\":\(String(format: "%.1f", seconds))",
                "\"acknowledged\":\(report.acknowledgedCommands)", "\"acknowledgedLost\":\(report.acknowledgedLost)",
                "\"stateMismatches\":\(report.stateMismatches)", "\"invariantViolations\":\(report.invariantViolations)",
                "\"corruptionDetected\":\(report.corruptionDetected)", "\"lastRecordFlipsCut\":\(report.lastRecordFlipsCut)",
                "\"corruptionApplied\":\(report.corruptionApplied)", "\"clean\":\(report.isClean)",
            ]
            for fault in FaultSimulation.Fault.allCases { fields.append("\"\(fault.rawValue)\":\(report.faults[fault] ?? 0)") }
            writeStandardOutput("{" + fields.joined(separator: ",") + "}\n")
        } else {
            var text = "faults: \(report.restarts) crash-restarts (seed \(seed)) in \(String(format: "%.1f", seconds)) s, journal in \(base)\n"
            for fault in FaultSimulation.Fault.allCases {
                text += "  " + fault.rawValue.padding(toLength: 24, withPad: " ", startingAt: 0) + "\(report.faults[fault] ?? 0)\n"
            }
            let rows: [(String, Int)] = [
                ("acknowledged commands", report.acknowledgedCommands), ("acknowledged lost", report.acknowledgedLost),
                ("state ≠ replay", report.stateMismatches), ("invariant violations", report.invariantViolations),
                ("corruption detected", report.corruptionDetected), ("last-record flips cut", report.lastRecordFlipsCut),
                ("corruption applied", report.corruptionApplied),
            ]
            for (label, value) in rows { text += label.padding(toLength: 26, withPad: " ", startingAt: 0) + "\(value)\n" }
            for failure in report.failures { text += "FAILED: \(failure)\n" }
            text += report.isClean ? "all invariants held\n" : "INVARIANTS BROKEN\n"
            writeStandardOutput(text)
        }
        return report.isClean ? 0 : 1
    }
}
