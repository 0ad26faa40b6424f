import LiveGateAlerts
import LiveGateCore

/// Nanoseconds of core time in `value` seconds.
func seconds(_ value: Double) -> Int64 { Int64(value * 1_000_000_000) }

/// Nanoseconds of core time in `value` minutes.
func minutes(_ value: Double) -> Int64 { seconds(value * 60) }

/// A minimal stock ledger that drives an engine the way the stock core will: it applies a change, refuses
/// what would oversell, and reports every applied change as a ``StockObservation``.
struct TestLedger {
    /// The engine under test.
    var engine: AlertEngine
    /// Figures per SKU index.
    var figures: [StockFigures] = []
    /// Every event the engine produced, in order.
    var events: [AlertEvent] = []
    /// Core time of the last call.
    var now: Int64 = 0

    /// Creates a ledger over a fresh engine.
    init(configuration: AlertConfiguration = AlertConfiguration()) throws {
        engine = try AlertEngine(configuration: configuration)
    }

    /// Adds a SKU with `onHand` units.
    @discardableResult
    mutating func addSku(_ id: String, name: String? = nil, onHand: Int64, policy: SkuPolicy? = nil) throws -> Int {
        let figures = StockFigures(onHand: onHand)
        let index = try engine.addSku(id, name: name, policy: policy, figures: figures, at: now)
        if index == self.figures.count { self.figures.append(figures) }
        return index
    }

    /// Reports the change to the engine.
    private mutating func observe(_ sku: Int, _ kind: StockChangeKind, _ quantity: Int64, at time: Int64) {
        now = max(now, time)
        let observation = StockObservation(sku: sku, time: time, kind: kind, quantity: quantity, figures: figures[sku])
        engine.record(observation, into: &events)
    }

    /// Recomputes sellable.
    private mutating func settle(_ sku: Int) {
        let f = figures[sku]
        figures[sku] = StockFigures(onHand: f.onHand, reserved: f.reserved, held: f.held, sold: f.sold)
    }

    /// Places an order: reserves `quantity` if sellable, else refuses (nothing is observed).
    @discardableResult
    mutating func place(_ sku: Int, _ quantity: Int64 = 1, at time: Int64) -> Bool {
        guard figures[sku].sellable >= quantity else { return false }
        figures[sku].reserved += quantity
        settle(sku)
        observe(sku, .placed, quantity, at: time)
        return true
    }

    /// Pays a reserved order.
    mutating func pay(_ sku: Int, _ quantity: Int64 = 1, at time: Int64) {
        figures[sku].reserved -= quantity
        figures[sku].sold += quantity
        settle(sku)
        observe(sku, .paid, quantity, at: time)
    }

    /// Sells at once (paid with no reservation) if sellable.
    @discardableResult
    mutating func sell(_ sku: Int, _ quantity: Int64 = 1, at time: Int64) -> Bool {
        guard figures[sku].sellable >= quantity else { return false }
        figures[sku].sold += quantity
        settle(sku)
        observe(sku, .paidUnreserved, quantity, at: time)
        return true
    }

    /// Releases a reservation (`cancelled` or `expired`).
    mutating func release(_ sku: Int, _ quantity: Int64 = 1, kind: StockChangeKind = .cancelled, at time: Int64) {
        figures[sku].reserved -= quantity
        settle(sku)
        observe(sku, kind, quantity, at: time)
    }

    /// Adds units on hand.
    mutating func restock(_ sku: Int, _ quantity: Int64, at time: Int64) {
        figures[sku].onHand += quantity
        settle(sku)
        observe(sku, .restock, quantity, at: time)
    }

    /// Holds back units (or releases them, with a negative quantity and kind `.release`).
    mutating func hold(_ sku: Int, _ quantity: Int64, at time: Int64) {
        figures[sku].held += quantity
        settle(sku)
        observe(sku, quantity >= 0 ? .hold : .release, abs(quantity), at: time)
    }

    /// Moves sellable to exactly `sellable` by changing held units, reported as a plain change (kind `other`,
    /// which never re-arms like a restock).
    mutating func setSellable(_ sku: Int, _ sellable: Int64, at time: Int64) {
        let f = figures[sku]
        figures[sku].held = f.onHand - f.reserved - f.sold - sellable
        settle(sku)
        observe(sku, .other, 0, at: time)
    }

    /// Advances core time.
    mutating func tick(at time: Int64) {
        now = max(now, time)
        engine.tick(now: time, into: &events)
    }

    /// The events since index `start`, as (level, transition) pairs, for compact expectations.
    func transitions(from start: Int = 0) -> [String] {
        events[start...].map { "\($0.previousLevel)→\($0.level)" }
    }
}

/// A small-number policy for hand-built streams: one-minute windows, 10-minute lead time, one-minute cooldown.
func handPolicy(
    cooldown: Int64 = minutes(1), margin: Double = 0.2, watchMark: Int64 = 0, substitute: String? = "tee-white"
) -> SkuPolicy {
    SkuPolicy(
        safetyMinimum: 20, restockLeadTime: minutes(10), safetyFactor: 1.5, trendFactor: 2, trendWindow: minutes(1),
        trendMinimumVolume: 10, watchMark: watchMark, emergencyLine: 5, cooldown: cooldown,
        hysteresisMargin: margin, reservationTimeout: minutes(15), substitute: substitute
    )
}
