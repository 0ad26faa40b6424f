import LiveGateCore
import Testing
@testable import LiveGateStock
import LiveGateTestSupport

/// A deliberately naive model of the documented semantics: dictionaries, linear scans, no indexes.
struct ReferenceModel {
    /// One SKU.
    struct Sku: Equatable {
        var onHand: Int64
        var reserved: Int64 = 0
        var held: Int64 = 0
        var sold: Int64 = 0
        var isPaused = false
        var timeout: Int64
        var sellable: Int64 { onHand - reserved - held - sold }
    }

    /// One order.
    struct Order {
        var sku: String
        var quantity: Int64
        var state: OrderState
        var firstSeenAt: Int64
        var results: [OrderEventKind: StockOutcome] = [:]
    }

    var skus: [String: Sku] = [:]
    var orders: [String: Order] = [:]
    var time: Int64 = 0
    let retention: Int64

    /// Advances time: expire, then forget.
    mutating func advance(to newTime: Int64) {
        time = max(time, newTime)
        for (key, order) in orders where order.state == .reserved {
            if order.firstSeenAt + skus[order.sku]!.timeout <= time {
                orders[key]!.state = .expired
                skus[order.sku]!.reserved -= order.quantity
            }
        }
        for (key, order) in orders where order.firstSeenAt <= time - retention && order.state != .reserved {
            orders[key] = nil
        }
    }

    /// Tries to take `quantity` from the SKU's sellable units.
    mutating func take(_ sku: String, _ quantity: Int64, selling: Bool) -> StockOutcome {
        if skus[sku]!.isPaused { return .paused }
        if skus[sku]!.sellable < quantity { return .insufficient }
        if selling { skus[sku]!.sold += quantity } else { skus[sku]!.reserved += quantity }
        return selling ? .sold : .reserved
    }

    /// Applies a command; returns the outcome and whether it was a duplicate.
    mutating func apply(_ command: StockCommand) -> (StockOutcome, Bool) {
        if case .tick(let to) = command { advance(to: to); return (.ok, false) }
        advance(to: time)
        switch command {
        case .order(let event):
            guard skus[event.sku] != nil else { return (.unknownSku, false) }
            let key = event.channel + "\u{0}" + event.orderId
            guard var order = orders[key] else {
                guard (1...StockLedger.maximumQuantity).contains(event.quantity) else { return (.invalidQuantity, false) }
                var order = Order(sku: event.sku, quantity: event.quantity, state: .rejected, firstSeenAt: time)
                let outcome: StockOutcome
                switch event.kind {
                case .placed:
                    outcome = take(event.sku, event.quantity, selling: false)
                    if outcome == .reserved { order.state = .reserved }
                case .paid:
                    outcome = take(event.sku, event.quantity, selling: true)
                    if outcome == .sold { order.state = .sold }
                case .cancelled:
                    outcome = .tombstoned
                    order.state = .cancelled
                }
                order.results[event.kind] = outcome
                orders[key] = order
                return (outcome, false)
            }
            if let first = order.results[event.kind] { return (first, true) }
            let outcome: StockOutcome
            switch (event.kind, order.state) {
            case (.placed, .sold), (.cancelled, .sold), (.paid, .sold): outcome = .alreadySold
            case (_, .cancelled): outcome = .alreadyCancelled
            case (.placed, .rejected), (.cancelled, .rejected): outcome = .alreadyRejected
            case (.placed, .expired), (.cancelled, .expired): outcome = .alreadyExpired
            case (.placed, .reserved): outcome = .reserved
            case (.paid, .reserved):
                skus[order.sku]!.reserved -= order.quantity
                skus[order.sku]!.sold += order.quantity
                order.state = .sold
                outcome = .sold
            case (.paid, _):
                outcome = take(order.sku, order.quantity, selling: true)
                if outcome == .sold { order.state = .sold }
            case (.cancelled, .reserved):
                skus[order.sku]!.reserved -= order.quantity
                order.state = .cancelled
                outcome = .released
            }
            order.results[event.kind] = outcome
            orders[key] = order
            return (outcome, false)
        case .createSku(let sku, let onHand, let policy):
            if skus[sku] != nil { return (.skuExists, false) }
            if onHand < 0 { return (.invalidQuantity, false) }
            if policy.reservationTimeout <= 0 || policy.reservationTimeout >= retention { return (.invalidPolicy, false) }
            skus[sku] = Sku(onHand: onHand, timeout: policy.reservationTimeout)
            return (.ok, false)
        case .restock(let sku, let quantity, _):
            guard skus[sku] != nil else { return (.unknownSku, false) }
            guard quantity >= 1 else { return (.invalidQuantity, false) }
            skus[sku]!.onHand += quantity
        case .adjust(let sku, let count, _):
            guard let state = skus[sku] else { return (.unknownSku, false) }
            guard count >= 0 else { return (.invalidQuantity, false) }
            guard count >= state.reserved + state.held + state.sold else { return (.belowCommitted, false) }
            skus[sku]!.onHand = count
        case .hold(let sku, let quantity):
            guard let state = skus[sku] else { return (.unknownSku, false) }
            guard quantity >= 1 else { return (.invalidQuantity, false) }
            guard state.sellable >= quantity else { return (.insufficient, false) }
            skus[sku]!.held += quantity
        case .release(let sku, let quantity):
            guard let state = skus[sku] else { return (.unknownSku, false) }
            guard quantity >= 1, quantity <= state.held else { return (.invalidQuantity, false) }
            skus[sku]!.held -= quantity
        case .pause(let sku):
            guard skus[sku] != nil else { return (.unknownSku, false) }
            skus[sku]!.isPaused = true
        case .resume(let sku):
            guard skus[sku] != nil else { return (.unknownSku, false) }
            skus[sku]!.isPaused = false
        case .setPolicy(let sku, let policy):
            guard skus[sku] != nil else { return (.unknownSku, false) }
            guard policy.reservationTimeout > 0, policy.reservationTimeout < retention else { return (.invalidPolicy, false) }
            skus[sku]!.timeout = policy.reservationTimeout
            // The new timeout applies at once to reservations already held.
            advance(to: time)
        default:
            break
        }
        return (.ok, false)
    }
}

/// Random command sequences against ``ReferenceModel``: every result and every state must agree.
struct PropertyTests {
    static let minute: Int64 = 60_000_000_000

    /// A random command over a small world, so that collisions, duplicates and expiries are frequent.
    static func randomCommand(_ g: inout SplitMix64, time: Int64) -> StockCommand {
        let skus = ["a", "b", "c", "nope"]
        let sku = skus[Int.random(in: 0..<4, using: &g)]
        let quantity = Int64.random(in: -1...4, using: &g)
        switch Int.random(in: 0..<100, using: &g) {
        case 0..<30:
            let id = "o\(Int.random(in: 0..<40, using: &g))"
            let channel = Bool.random(using: &g) ? "douyin" : "taobao"
            return .order(OrderEvent(.placed, sku: sku, channel: channel, orderId: id, quantity: quantity))
        case 30..<45:
            let id = "o\(Int.random(in: 0..<40, using: &g))"
            let channel = Bool.random(using: &g) ? "douyin" : "taobao"
            return .order(OrderEvent(.paid, sku: sku, channel: channel, orderId: id, quantity: quantity))
        case 45..<58:
            let id = "o\(Int.random(in: 0..<40, using: &g))"
            let channel = Bool.random(using: &g) ? "douyin" : "taobao"
            return .order(OrderEvent(.cancelled, sku: sku, channel: channel, orderId: id, quantity: quantity))
        case 58..<70: return .tick(to: time + Int64.random(in: 0...3, using: &g) * minute / 2)
        case 70..<75: return .restock(sku: sku, quantity: quantity * 3, source: "w")
        case 75..<79: return .adjust(sku: sku, onHand: Int64.random(in: -1...20, using: &g), reason: "count")
        case 79..<84: return .hold(sku: sku, quantity: quantity)
        case 84..<88: return .release(sku: sku, quantity: quantity)
        case 88..<91: return .pause(sku: sku)
        case 91..<94: return .resume(sku: sku)
        case 94..<97:
            return .setPolicy(sku: sku, policy: SkuPolicy(reservationTimeout: Int64.random(in: -1...12, using: &g) * minute))
        default:
            return .createSku(sku: sku, onHand: quantity * 2, policy: SkuPolicy(reservationTimeout: 5 * minute))
        }
    }

    @Test(arguments: 1...40)
    func ledgerAgreesWithTheReferenceModel(seed: UInt64) throws {
        var g = SplitMix64(seed: seed)
        let retention = 20 * Self.minute
        var harness = LedgerHarness(retention: retention)
        var model = ReferenceModel(retention: retention)
        for sku in ["a", "b"] {
            let command = StockCommand.createSku(sku: sku, onHand: 8, policy: SkuPolicy(reservationTimeout: 5 * Self.minute))
            _ = model.apply(command)
            harness.run(command)
        }
        for step in 0..<600 {
            let command = Self.randomCommand(&g, time: harness.ledger.time)
            let expected = model.apply(command)
            let actual = harness.run(command)
            var problems: [String] = []
            if actual.outcome != expected.0 || actual.isDuplicate != expected.1 {
                problems.append("result \(actual.outcome) dup \(actual.isDuplicate), model \(expected.0) dup \(expected.1)")
            }
            for (id, sku) in model.skus {
                let state = harness.ledger.publication(of: id)
                if !(state?.onHand == sku.onHand && state?.reserved == sku.reserved && state?.held == sku.held
                    && state?.sold == sku.sold && state?.isPaused == sku.isPaused)
                {
                    problems.append("sku \(id): \(String(describing: state)) vs model \(sku)")
                }
            }
            if harness.ledger.orderCount != model.orders.count {
                problems.append("orders \(harness.ledger.orderCount) vs model \(model.orders.count)")
            }
            if let violation = harness.ledger.invariantViolation() { problems.append(violation) }
            if !problems.isEmpty {
                Issue.record("seed \(seed) step \(step) \(command): \(problems.joined(separator: "; "))")
                return
            }
        }
        // Replaying the journal of the run from scratch reproduces the state exactly.
        var replay = StockLedger(keySeed: 42, retention: retention, expectedOrders: 16)
        try harness.journal.bytes.withUnsafeBytes { buffer in
            _ = try RecordFraming.scan(buffer, from: 0) { payload, _ in
                _ = replay.apply(try CommandRecord.decode(payload: payload))
            }
        }
        #expect(replay.allPublications == harness.ledger.allPublications)
        #expect(replay.orderCount == harness.ledger.orderCount)
    }
}
