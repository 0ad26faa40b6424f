@testable import LiveGateAlerts
import Testing
import LiveGateTestSupport

/// The ring's incremental window sums against a brute-force reference.
struct SalesBucketsTests {
    /// Incremental and virtual window sums equal a brute-force reference over random gaps and amounts.
    @Test(arguments: [(7, 14), (7, 20), (1, 2), (30, 61)])
    func incrementalSumsMatchTheReference(window: Int, capacity: Int) {
        var random = SplitMix64(seed: UInt64(window * 1000 + capacity))
        var buckets = SalesBuckets(capacity: capacity)
        buckets.appendRing()
        buckets.appendRing()  // a neighbour ring that must stay untouched
        var sums = WindowSums(window: window)
        var history: [Int64: Int64] = [:]
        var second: Int64 = 1_000
        for _ in 0..<5_000 {
            let roll = random.unit()
            second += roll < 0.6 ? 0 : (roll < 0.95 ? 1 + Int64(random.unit() * 3) : Int64(random.unit() * Double(3 * capacity)))
            // A virtual look-ahead must agree with the reference before the ring moves.
            let ahead = second + Int64(random.unit() * Double(2 * window))
            let virtual = buckets.sums(ring: 0, of: sums, at: ahead)
            #expect(virtual.recent == reference(history, at: ahead, from: ahead - Int64(window) + 1, to: ahead))
            #expect(virtual.previous == reference(history, at: ahead, from: ahead - Int64(2 * window) + 1, to: ahead - Int64(window)))
            buckets.advance(ring: 0, sums: &sums, to: second)
            let units = Int64(random.unit() * 5)
            buckets.add(ring: 0, sums: &sums, units: units)
            history[second, default: 0] += units
            #expect(sums.recent == reference(history, at: second, from: second - Int64(window) + 1, to: second))
            #expect(sums.previous == reference(history, at: second, from: second - Int64(2 * window) + 1, to: second - Int64(window)))
        }
        #expect(buckets.counts[capacity...].allSatisfy { $0 == 0 })
        var recomputed = sums
        buckets.recompute(ring: 0, sums: &recomputed, window: window)
        #expect(recomputed == sums)
    }

    /// Units sold in the seconds `from ... to`.
    func reference(_ history: [Int64: Int64], at now: Int64, from: Int64, to: Int64) -> Int64 {
        history.reduce(0) { $1.key >= from && $1.key <= to ? $0 + $1.value : $0 }
    }

    /// A one-second bucket saturates at `UInt32.max` instead of trapping.
    @Test func aBucketSaturatesInsteadOfOverflowing() {
        var buckets = SalesBuckets(capacity: 4)
        buckets.appendRing()
        var sums = WindowSums(window: 2)
        buckets.advance(ring: 0, sums: &sums, to: 0)
        buckets.add(ring: 0, sums: &sums, units: Int64(UInt32.max) - 1)
        buckets.add(ring: 0, sums: &sums, units: 10)
        #expect(buckets.count(ring: 0, second: 0) == UInt32.max)
        #expect(sums.recent == Int64(UInt32.max))
    }
}
