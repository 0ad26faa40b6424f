import Foundation
import LiveGateCore
import Testing
@testable import LiveGateStock

/// Snapshots written by earlier versions still load, every policy field in its place.
struct LegacySnapshotTests {
    /// The bytes of `Fixtures/<name>`.
    static func fixture(_ name: String) throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
        return Array(try Data(contentsOf: url))
    }

    /// The snapshot of Fixtures/README.md: format 2 with version-2 policies, written by commit 7e96b5a.
    @Test func aFormat2SnapshotLoadsWithEveryPolicyField() throws {
        let bytes = try Self.fixture("stock-snapshot-v2.bin")
        let ledger = try bytes.withUnsafeBytes { try StockLedger.decodeSnapshot($0) }
        let second: Int64 = 1_000_000_000
        let odd = try #require(ledger.policy(of: "odd"))
        #expect(odd.reservationTimeout == 901 * second)
        #expect(odd.safetyMinimum == 21)
        #expect(odd.restockLeadTime == 601 * second)
        #expect(odd.trendFactor == 2.5)
        #expect(odd.trendWindow == 60 * second)
        #expect(odd.trendMinimumVolume == 11)
        #expect(odd.safetyFactor == 1.25)
        #expect(odd.watchMark == 123)
        #expect(odd.emergencyLine == 7)
        #expect(odd.cooldown == 61 * second)
        #expect(odd.hysteresisMargin == 0.3)
        #expect(odd.substitute == "tea")
        // Written when the stock core's default had no safety line and no lead time.
        #expect(ledger.policy(of: "tea") == SkuPolicy(safetyMinimum: 0, restockLeadTime: 0))
        #expect(ledger.publication(of: "odd")?.reserved == 3)
        #expect(ledger.publication(of: "tea")?.sold == 2)
        #expect(ledger.encodeSnapshot() == bytes, "this code writes format 2 byte for byte")
    }
}
