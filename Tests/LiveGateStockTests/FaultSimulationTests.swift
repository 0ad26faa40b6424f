import Foundation
import Testing
@testable import LiveGateStock
import LiveGateTestSupport

/// A short seeded run of the storage-fault simulation (`livegate-bench faults` runs 100,000).
struct FaultSimulationTests {
    @Test(arguments: [1, 2, 3] as [UInt64])
    func invariantsHoldUnderStorageFaults(seed: UInt64) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let report = try FaultSimulation.run(seed: seed, restarts: 400, directory: directory.path + "/data")
        #expect(report.restarts == 400)
        #expect(report.isClean, "\(report.failures)")
        #expect(report.acknowledgedLost == 0 && report.stateMismatches == 0 && report.invariantViolations == 0)
        #expect(report.corruptionApplied == 0)
        // Every kind of fault was injected, and flips were caught.
        for fault in FaultSimulation.Fault.allCases { #expect((report.faults[fault] ?? 0) > 20, "\(fault)") }
        #expect(report.corruptionDetected > 0)
        #expect(report.acknowledgedCommands > 1_000)
    }
}
