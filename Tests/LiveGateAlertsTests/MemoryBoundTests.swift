import LiveGateAlerts
import LiveGateCore
import LiveGateTestSupport
import Testing

/// The memory bound: 10,000 SKUs and a million events leave the engine's storage exactly as allocated.
struct MemoryBoundTests {
    /// 10,000 SKUs and 1,000,000 events: bucket and state storage do not grow past what adding the SKUs allocated.
    @Test func tenThousandSkusAndAMillionEventsStayWithinTheirRings() throws {
        let skuCount = 10_000
        var engine = try AlertEngine()
        var figures: [StockFigures] = []
        figures.reserveCapacity(skuCount)
        var random = SplitMix64(seed: 77)
        for index in 0..<skuCount {
            let onHand = 20 + Int64(random.unit() * 400)
            figures.append(StockFigures(onHand: onHand))
            try engine.addSku("sku-\(index)", policy: SkuPolicy(trendWindow: SkuPolicy.minute * 5), figures: figures[index])
        }
        let allocated = engine.storage
        #expect(allocated.skuCount == skuCount)
        #expect(allocated.bucketsPerSku == 600)
        #expect(allocated.bucketCount == skuCount * 600)
        #expect(allocated.bucketBytes <= skuCount * 600 * 4 * 5 / 4, "2.4 KB per SKU, at most a quarter of slack")
        var reserved = try AlertEngine()
        reserved.reserveCapacity(skus: skuCount)
        for index in 0..<skuCount { try reserved.addSku("sku-\(index)") }
        #expect(reserved.storage.bucketCapacity < skuCount * 600 + 1_024, "exact (to the allocator's rounding) when the SKU count is known")

        var events: [AlertEvent] = []
        events.reserveCapacity(4 * skuCount)
        var transitions = 0
        let eventCount = 1_000_000
        for event in 0..<eventCount {
            // Skewed demand: a few SKUs take most orders, as in a live room.
            let r = random.unit()
            let index = Int(r * r * r * Double(skuCount))
            let time = Int64(event) * 1_000_000  // one event per millisecond of core time: 1000 s in all
            var f = figures[index]
            let kind: StockChangeKind
            if f.sellable == 0 {
                f.onHand += 200
                kind = .restock
            } else if f.reserved > 0 && random.unit() < 0.45 {
                f.reserved -= 1
                f.sold += 1
                kind = .paid
            } else {
                f.reserved += 1
                kind = .placed
            }
            f = StockFigures(onHand: f.onHand, reserved: f.reserved, held: f.held, sold: f.sold)
            figures[index] = f
            engine.record(StockObservation(sku: index, time: time, kind: kind, quantity: kind == .restock ? 200 : 1, figures: f), into: &events)
            if event % 100_000 == 99_999 {
                engine.tick(now: time, into: &events)
                transitions += events.count
                events.removeAll(keepingCapacity: true)
            }
        }
        let after = engine.storage
        #expect(after == allocated, "no bucket or state storage grew")
        #expect(transitions > 100, "the stream drives real transitions")
        #expect(engine.time == Int64(eventCount - 1) * 1_000_000)
    }
}
