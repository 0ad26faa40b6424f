import LiveGateCore
import Testing
@testable import LiveGateStock
import LiveGateTestSupport

/// Every command and result of the ledger, including duplicates and out-of-order events.
struct LedgerTests {
    /// A harness with SKU "tea" holding `onHand` units.
    func harness(onHand: Int64 = 10, policy: SkuPolicy = SkuPolicy()) -> LedgerHarness {
        var harness = LedgerHarness()
        #expect(harness.run(.createSku(sku: "tea", onHand: onHand, policy: policy)).outcome == .ok)
        return harness
    }

    /// An order finds its SKU among many (the byte-hashed lookup grows past its first table), an
    /// id written in another Unicode normalization form finds the same SKU, and an unknown id none.
    @Test func ordersFindTheirSkuAmongManyAndInAnyNormalizationForm() {
        var h = LedgerHarness()
        for index in 0..<300 { #expect(h.run(.createSku(sku: "sku-\(index)", onHand: 5)).outcome == .ok) }
        #expect(h.run(.createSku(sku: "caf\u{E9}", onHand: 5)).outcome == .ok)  // é precomposed
        #expect(h.run(.createSku(sku: "cafe\u{301}", onHand: 5)).outcome == .skuExists)  // the same id, decomposed
        for index in stride(from: 299, through: 0, by: -7) {
            let result = h.run(.order(OrderEvent(.placed, sku: "sku-\(index)", channel: "douyin", orderId: "o\(index)")))
            #expect(result.outcome == .reserved, "sku-\(index)")
        }
        let decomposed = h.run(.order(OrderEvent(.placed, sku: "cafe\u{301}", channel: "douyin", orderId: "c1", quantity: 2)))
        #expect(decomposed.outcome == .reserved)
        #expect(h.ledger.publication(of: "caf\u{E9}")?.reserved == 2)
        let unknown = h.run(.order(OrderEvent(.placed, sku: "sku-300", channel: "douyin", orderId: "u1")))
        #expect(unknown.outcome == .unknownSku)
    }

    @Test func placedReservesAndDuplicateChangesNothing() {
        var h = harness()
        #expect(h.order(.placed, "A", quantity: 3) == .reserved)
        #expect(h.state().reserved == 3 && h.state().sellable == 7)
        let again = h.run(.order(OrderEvent(.placed, sku: "tea", channel: "douyin", orderId: "A", quantity: 5)))
        #expect(again.outcome == .reserved && again.isDuplicate)
        #expect(h.state().reserved == 3)
        // The same order id on another channel is another order.
        #expect(h.order(.placed, "A", quantity: 2, channel: "taobao") == .reserved)
        #expect(h.state().reserved == 5)
    }

    @Test func placedInsufficientAndPausedAreRejectedAndRemembered() {
        var h = harness(onHand: 2)
        #expect(h.order(.placed, "big", quantity: 3) == .insufficient)
        #expect(h.run(.restock(sku: "tea", quantity: 10, source: "warehouse")).outcome == .ok)
        // The first result is returned for the repeat, even though stock now allows it.
        let repeatBig = h.run(.order(OrderEvent(.placed, sku: "tea", channel: "douyin", orderId: "big", quantity: 3)))
        #expect(repeatBig.outcome == .insufficient && repeatBig.isDuplicate)
        #expect(h.run(.pause(sku: "tea")).outcome == .ok)
        #expect(h.order(.placed, "P") == .paused)
        #expect(h.state().isPaused)
        #expect(h.run(.resume(sku: "tea")).outcome == .ok)
        #expect(h.order(.placed, "P") == .paused)
        #expect(h.order(.placed, "Q") == .reserved)
        #expect(h.ledger.order(channel: "douyin", orderId: "big")?.state == .rejected)
        // paid for a rejected order sells if stock allows.
        #expect(h.order(.paid, "big") == .sold)
        #expect(h.state().sold == 3)
    }

    @Test func paidMovesReservedToSold() {
        var h = harness()
        #expect(h.order(.placed, "A", quantity: 4) == .reserved)
        #expect(h.order(.paid, "A", quantity: 99) == .sold)
        let state = h.state()
        #expect(state.reserved == 0 && state.sold == 4 && state.sellable == 6 && state.onHand == 10)
        let repeatPaid = h.run(.order(OrderEvent(.paid, sku: "tea", channel: "douyin", orderId: "A")))
        #expect(repeatPaid.outcome == .sold && repeatPaid.isDuplicate)
        #expect(h.state().sold == 4)
        // placed repeated after paid: still the first placed result.
        let repeatPlaced = h.run(.order(OrderEvent(.placed, sku: "tea", channel: "douyin", orderId: "A", quantity: 4)))
        #expect(repeatPlaced.outcome == .reserved && repeatPlaced.isDuplicate)
        #expect(h.order(.cancelled, "A") == .alreadySold)
        #expect(h.state().sold == 4)
    }

    @Test func paidForReservedOrderSellsEvenWhenPaused() {
        var h = harness()
        h.order(.placed, "A", quantity: 2)
        h.run(.pause(sku: "tea"))
        #expect(h.order(.paid, "A") == .sold)
        #expect(h.order(.paid, "B") == .paused)
    }

    @Test func paidForUnknownOrderSellsAtOnceIfStockAllows() {
        var h = harness(onHand: 3)
        #expect(h.order(.paid, "A", quantity: 2) == .sold)
        #expect(h.state().sold == 2 && h.state().reserved == 0)
        #expect(h.order(.paid, "B", quantity: 2) == .insufficient)
        #expect(h.ledger.order(channel: "douyin", orderId: "B")?.state == .rejected)
        // placed arriving after its paid: nothing changes.
        #expect(h.order(.placed, "A", quantity: 2) == .alreadySold)
        #expect(h.state().sold == 2 && h.state().reserved == 0)
    }

    @Test func cancelledReleasesAndRepeatsAreDuplicates() {
        var h = harness()
        h.order(.placed, "A", quantity: 5)
        #expect(h.order(.cancelled, "A") == .released)
        #expect(h.state().reserved == 0 && h.state().sellable == 10)
        let again = h.run(.order(OrderEvent(.cancelled, sku: "tea", channel: "douyin", orderId: "A")))
        #expect(again.outcome == .released && again.isDuplicate)
        #expect(h.order(.paid, "A") == .alreadyCancelled)
        #expect(h.state().sold == 0)
    }

    @Test func cancelBeforePlacedIsATombstone() {
        var h = harness()
        #expect(h.order(.cancelled, "A") == .tombstoned)
        #expect(h.order(.placed, "A") == .alreadyCancelled)
        #expect(h.order(.paid, "A") == .alreadyCancelled)
        #expect(h.state().reserved == 0 && h.state().sold == 0)
        let again = h.run(.order(OrderEvent(.cancelled, sku: "tea", channel: "douyin", orderId: "A")))
        #expect(again.outcome == .tombstoned && again.isDuplicate)
    }

    @Test func unknownSkuAndBadQuantitiesAreNotRemembered() {
        var h = harness()
        #expect(h.order(.placed, "A", sku: "nope") == .unknownSku)
        #expect(h.order(.placed, "A", quantity: 0) == .invalidQuantity)
        #expect(h.order(.placed, "A", quantity: StockLedger.maximumQuantity + 1) == .invalidQuantity)
        #expect(h.order(.placed, "A", quantity: 1) == .reserved)
        #expect(h.run(.restock(sku: "nope", quantity: 1, source: "")).outcome == .unknownSku)
        #expect(h.run(.hold(sku: "nope", quantity: 1)).outcome == .unknownSku)
    }

    @Test func reservationsExpireOnCoreTime() {
        let minute: Int64 = 60_000_000_000
        var h = harness(policy: SkuPolicy(reservationTimeout: 15 * minute))
        h.order(.placed, "A", quantity: 2)
        h.run(.tick(to: 5 * minute))
        h.order(.placed, "B", quantity: 3)
        h.order(.paid, "B")
        h.order(.placed, "C", quantity: 1)
        h.run(.tick(to: 15 * minute - 1))
        #expect(h.state().reserved == 3)
        h.run(.tick(to: 15 * minute))
        #expect(h.state().reserved == 1)
        #expect(h.ledger.order(channel: "douyin", orderId: "A")?.state == .expired)
        #expect(h.order(.cancelled, "A") == .alreadyExpired)
        // paid after expiry sells if stock allows.
        #expect(h.order(.paid, "A") == .sold)
        #expect(h.state().sold == 5)
        // A tick never moves time backwards.
        h.run(.tick(to: 1))
        #expect(h.ledger.time == 15 * minute)
        // A shorter timeout applies to reservations already held.
        #expect(h.run(.setPolicy(sku: "tea", policy: SkuPolicy(reservationTimeout: minute))).outcome == .ok)
        h.run(.tick(to: 15 * minute + 1))
        #expect(h.state().reserved == 0)
        #expect(h.ledger.order(channel: "douyin", orderId: "C")?.state == .expired)
    }

    @Test func orderKeysAreForgottenAfterTheRetention() {
        let hour: Int64 = 3_600_000_000_000
        var h = LedgerHarness(retention: 48 * hour)
        h.run(.createSku(sku: "tea", onHand: 10))
        h.order(.placed, "A")
        h.order(.paid, "A")
        h.run(.tick(to: 47 * hour))
        #expect(h.ledger.orderCount == 1)
        h.run(.tick(to: 48 * hour))
        #expect(h.ledger.orderCount == 0)
        // The id is now a new order.
        #expect(h.order(.placed, "A") == .reserved)
        #expect(h.state().sold == 1 && h.state().reserved == 1)
    }

    @Test func operatorCommands() {
        var h = harness(onHand: 10)
        #expect(h.run(.createSku(sku: "tea", onHand: 5)).outcome == .skuExists)
        #expect(h.run(.createSku(sku: "cup", onHand: -1)).outcome == .invalidQuantity)
        #expect(h.run(.restock(sku: "tea", quantity: 5, source: "nearby warehouse")).outcome == .ok)
        #expect(h.run(.restock(sku: "tea", quantity: 0, source: "")).outcome == .invalidQuantity)
        #expect(h.state().onHand == 15)
        #expect(h.run(.hold(sku: "tea", quantity: 4)).outcome == .ok)
        #expect(h.run(.hold(sku: "tea", quantity: 12)).outcome == .insufficient)
        #expect(h.state().held == 4 && h.state().sellable == 11)
        #expect(h.run(.release(sku: "tea", quantity: 5)).outcome == .invalidQuantity)
        #expect(h.run(.release(sku: "tea", quantity: 3)).outcome == .ok)
        h.order(.placed, "A", quantity: 6)
        #expect(h.run(.adjust(sku: "tea", onHand: 6, reason: "count")).outcome == .belowCommitted)
        #expect(h.run(.adjust(sku: "tea", onHand: 8, reason: "count")).outcome == .ok)
        #expect(h.state().onHand == 8 && h.state().sellable == 1)
        #expect(h.run(.setPolicy(sku: "tea", policy: SkuPolicy(reservationTimeout: 0))).outcome == .invalidPolicy)
        #expect(h.run(.setPolicy(sku: "tea", policy: SkuPolicy(reservationTimeout: StockLedger.defaultRetention))).outcome == .invalidPolicy)
        let policy = SkuPolicy(safetyMinimum: 20, restockLeadTime: 7, reservationTimeout: 60_000_000_000)
        #expect(h.run(.setPolicy(sku: "tea", policy: policy)).outcome == .ok)
        #expect(h.ledger.policy(of: "tea") == policy)
        #expect(h.ledger.invariantViolation() == nil)
    }

    @Test func readsAreAnsweredWithoutARev() {
        var h = harness()
        h.order(.placed, "A", quantity: 2)
        let rev = h.ledger.rev
        let skus = h.run(.readSkus(nil))
        #expect(skus.outcome == .ok && skus.rev == rev && skus.skus.map(\.sku) == ["tea"])
        #expect(skus.skus[0].reserved == 2 && skus.skus[0].rev == rev)
        let order = h.run(.readOrder(channel: "douyin", orderId: "A"))
        #expect(order.order == OrderStatus(state: .reserved, sku: "tea", quantity: 2))
        #expect(h.run(.readOrder(channel: "douyin", orderId: "Z")).order == nil)
        #expect(h.ledger.rev == rev)
    }

    @Test func everyCommandTakesOneRevAndSellableNeverGoesNegative() {
        var h = harness(onHand: 1)
        let start = h.ledger.rev
        h.order(.placed, "A")
        h.order(.placed, "B")
        h.order(.placed, "A")
        #expect(h.ledger.rev == start + 3)
        #expect(h.state().sellable == 0)
    }

    @Test func snapshotRoundTripsTheWholeState() throws {
        var h = harness(onHand: 100)
        h.run(.createSku(sku: "cup", onHand: 7))
        for index in 0..<50 { h.order(.placed, "o\(index)", quantity: 1) }
        for index in 0..<20 { h.order(.paid, "o\(index)") }
        for index in 20..<30 { h.order(.cancelled, "o\(index)") }
        h.order(.cancelled, "tomb")
        h.run(.hold(sku: "cup", quantity: 2))
        h.run(.pause(sku: "cup"))
        h.ledger.snapshotExtension = SnapshotExtension(version: 3, bytes: [1, 2, 3])
        let bytes = h.ledger.encodeSnapshot()
        var restored = try bytes.withUnsafeBytes { try StockLedger.decodeSnapshot($0) }
        #expect(restored.allPublications == h.ledger.allPublications)
        #expect(restored.snapshotExtension == SnapshotExtension(version: 3, bytes: [1, 2, 3]))
        #expect(restored.rev == h.ledger.rev && restored.keySeed == 42)
        #expect(restored.encodeSnapshot() == bytes)
        // Both continue identically.
        var copy = LedgerHarness()
        copy.ledger = restored
        for id in ["o5", "o25", "o45", "new", "tomb"] {
            #expect(copy.order(.paid, id) == h.order(.paid, id))
        }
        restored = copy.ledger
        #expect(restored.allPublications == h.ledger.allPublications)
        // A flipped byte is detected.
        var damaged = bytes
        damaged[damaged.count / 2] ^= 0x40
        #expect(throws: ByteDecodingError.self) { try damaged.withUnsafeBytes { try StockLedger.decodeSnapshot($0) } }
    }

    @Test func recordsRoundTripThroughTheirEncoding() throws {
        var h = harness()
        h.run(.createSku(sku: "cup", onHand: 3, policy: SkuPolicy(safetyMinimum: 9)))
        h.order(.placed, "A", quantity: 2)
        h.run(.restock(sku: "tea", quantity: 4, source: "warehouse 2"))
        h.run(.adjust(sku: "tea", onHand: 9, reason: "recount"))
        h.run(.hold(sku: "tea", quantity: 1))
        h.run(.release(sku: "tea", quantity: 1))
        h.run(.pause(sku: "tea"))
        h.run(.resume(sku: "tea"))
        h.run(.setPolicy(sku: "tea", policy: SkuPolicy(reservationTimeout: 5)))
        h.run(.tick(to: 99))
        // Replaying the encoded records into an empty ledger gives the same state.
        var replay = StockLedger(keySeed: 42, expectedOrders: 16)
        var count = 0
        try h.journal.bytes.withUnsafeBytes { buffer in
            let (_, stop) = try RecordFraming.scan(buffer, from: 0) { payload, _ in
                _ = replay.apply(try CommandRecord.decode(payload: payload))
                count += 1
            }
            #expect(stop == .clean)
        }
        #expect(count == Int(h.ledger.rev))
        #expect(replay.encodeSnapshot() == h.ledger.encodeSnapshot())
    }

    @Test func orderTableMatchesADictionary() {
        var generator = SplitMix64(seed: 99)
        var table = OrderTable(expected: 4)
        var reference: [OrderKey: UInt32] = [:]
        for step in 0..<20_000 {
            // Few distinct low bits, so probe chains and wrap-around are exercised.
            let key = OrderKey(low: UInt64.random(in: 1...300, using: &generator) << 1, high: UInt64.random(in: 0...3, using: &generator))
            if let slot = table.find(key) {
                #expect(reference[key] == table[slot: slot].quantity)
                if Bool.random(using: &generator) {
                    table.remove(slot: slot)
                    reference[key] = nil
                }
            } else {
                #expect(reference[key] == nil)
                var entry = OrderEntry.empty
                entry.key = key
                entry.quantity = UInt32(step)
                table.insert(entry)
                reference[key] = UInt32(step)
            }
            #expect(table.count == reference.count)
        }
        for (key, quantity) in reference { #expect(table.find(key).map { table[slot: $0].quantity } == quantity) }
    }
}
