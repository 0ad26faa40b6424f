/// What happened to a SKU's stock, as the stock core reports it to the engine.
///
/// Only *applied* changes are observed: a refused order (insufficient, paused, duplicate) changes nothing and
/// is not reported. The raw values are part of the snapshot encoding.
public enum StockChangeKind: UInt8, Sendable, Hashable, Codable, CaseIterable {
    /// An order reserved `quantity` units (`placed` answered `reserved`). Counts as demand.
    case placed = 1
    /// A reserved order was paid (`paid` on a reservation). Not demand again; feeds the pay-through ratio.
    case paid = 2
    /// An order with no reservation was paid and sold at once (`paid` first, or after expiry). Counts as
    /// demand and as paid.
    case paidUnreserved = 3
    /// A reservation was cancelled and its units released. Feeds the pay-through ratio.
    case cancelled = 4
    /// A reservation expired and its units were released. Feeds the pay-through ratio.
    case expired = 5
    /// Units arrived (`restock`): re-arms the threshold, emergency and sold-out levels.
    case restock = 6
    /// On-hand units were set after a count (`adjust`); re-arms like a restock when sellable rose.
    case adjust = 7
    /// Units were held back by an operator.
    case hold = 8
    /// Held units were released by an operator; re-arms like a restock.
    case release = 9
    /// Any other change of the figures (SKU created, paused, resumed): only re-evaluates.
    case other = 10

    /// Whether the change takes sellable units away through a sale: the units counted in the velocity buckets.
    var isDemand: Bool { self == .placed || self == .paidUnreserved }
}

/// A SKU's stock figures after a change, in units.
public struct StockFigures: Sendable, Hashable, Codable {
    /// Physical units on hand.
    public var onHand: Int64
    /// Units reserved by placed, unpaid orders.
    public var reserved: Int64
    /// Units held back by an operator.
    public var held: Int64
    /// Units sold (paid).
    public var sold: Int64
    /// `onHand - reserved - held - sold`, never below zero.
    public var sellable: Int64

    /// Creates figures; `sellable` is computed.
    public init(onHand: Int64, reserved: Int64 = 0, held: Int64 = 0, sold: Int64 = 0) {
        self.onHand = onHand
        self.reserved = reserved
        self.held = held
        self.sold = sold
        self.sellable = max(0, onHand - reserved - held - sold)
    }

    /// Creates figures with a given `sellable` (as the stock core publishes it).
    public init(onHand: Int64, reserved: Int64, held: Int64, sold: Int64, sellable: Int64) {
        self.onHand = onHand
        self.reserved = reserved
        self.held = held
        self.sold = sold
        self.sellable = sellable
    }
}

/// One applied stock change of one SKU, stamped with core time.
public struct StockObservation: Sendable, Hashable {
    /// The SKU's index in the engine (from ``AlertEngine/addSku(_:name:policy:)``).
    public var sku: Int
    /// Core time of the command that made the change, in nanoseconds. Never decreases across calls.
    public var time: Int64
    /// What happened.
    public var kind: StockChangeKind
    /// The units the change moved (order quantity, restock quantity, held units); 0 when not applicable.
    public var quantity: Int64
    /// The SKU's figures after the change.
    public var figures: StockFigures

    /// Creates an observation.
    public init(sku: Int, time: Int64, kind: StockChangeKind, quantity: Int64, figures: StockFigures) {
        self.sku = sku
        self.time = time
        self.kind = kind
        self.quantity = quantity
        self.figures = figures
    }
}
