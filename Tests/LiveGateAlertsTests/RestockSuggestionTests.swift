import LiveGateAlerts
import LiveGateCore
import Testing

/// The suggested restock quantity is bounded by something an operator believes (issue #17: a sold-out
/// alert suggested "restock 12,935" for a lot of 500 after a launch spike).
struct RestockSuggestionTests {
    /// A two-hour lead time, a lot of 500.
    static func policy() -> SkuPolicy {
        SkuPolicy(safetyMinimum: 20, restockLeadTime: minutes(120), safetyFactor: 1.5, emergencyLine: 5)
    }

    @Test func aSpikeOverALongLeadTimeIsCappedAtOneMoreLotAndSaysSo() throws {
        var ledger = try TestLedger()
        let sku = try ledger.addSku("hoodie", name: "Hoodie", onHand: 500, policy: Self.policy())
        // 500 units in five minutes: about 100/min, which over 120 min would be about 12,000.
        for second in 0..<300 where ledger.figures[sku].sellable > 0 {
            ledger.sell(sku, min(2, ledger.figures[sku].sellable), at: seconds(Double(second)))
            ledger.tick(at: seconds(Double(second)))
        }
        let metrics = ledger.engine.metrics(forSku: sku, now: ledger.now)
        #expect(metrics.ratePerMinute * 120 > 5_000, "the uncapped figure would be in the thousands")
        #expect(metrics.suggestedRestockQuantity == 500, "one more lot: on hand 500, sold included")
        let soldOut = try #require(ledger.events.last { $0.level == .soldout })
        #expect(soldOut.suggestedRestockQuantity <= 500)
        #expect(soldOut.why.contains("restock 500: the 120 min lead time's expected sales at"), "\(soldOut.why)")
        #expect(soldOut.why.contains("capped at one more lot of 500"), "\(soldOut.why)")
    }

    @Test func belowTheCapTheSuggestionIsTheLeadTimesExpectedSalesLessSellable() throws {
        var ledger = try TestLedger()
        var policy = Self.policy()
        policy.restockLeadTime = minutes(10)
        let sku = try ledger.addSku("cap", name: "Cap", onHand: 1_000, policy: policy)
        for second in 0..<120 { ledger.sell(sku, 1, at: seconds(Double(second))) }
        let metrics = ledger.engine.metrics(forSku: sku, now: seconds(119))
        let expected = Int64((metrics.ratePerMinute * 10).rounded(.up)) - metrics.sellable
        #expect(metrics.suggestedRestockQuantity == max(0, expected))
        // A restock grows the lot, and with it the cap.
        ledger.restock(sku, 1_000, at: seconds(120))
        #expect(ledger.figures[sku].onHand == 2_000)
    }
}
