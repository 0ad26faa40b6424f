/// What a command did. See ``StockCommand`` for which command answers what.
public enum StockOutcome: UInt8, Sendable, Codable, CaseIterable {
    /// `placed`: the quantity is reserved.
    case reserved = 1
    /// `paid`: the quantity is sold.
    case sold = 2
    /// `cancelled`: the reservation is released.
    case released = 3
    /// `cancelled` before any other event of the order: remembered so a later placed/paid is refused.
    case tombstoned = 4
    /// Not enough sellable units; nothing changed.
    case insufficient = 5
    /// Sales of the SKU are paused; nothing changed.
    case paused = 6
    /// No SKU has this id; nothing changed.
    case unknownSku = 7
    /// The quantity is out of range; nothing changed.
    case invalidQuantity = 8
    /// The order was cancelled before this event; nothing changed.
    case alreadyCancelled = 9
    /// The order's reservation expired before this event; nothing changed.
    case alreadyExpired = 10
    /// The order is already sold; nothing changed.
    case alreadySold = 11
    /// The order was refused at its first event; nothing changed.
    case alreadyRejected = 12
    /// An operator command or a read was applied.
    case ok = 13
    /// `createSku` for an id that exists; nothing changed.
    case skuExists = 14
    /// `adjust` below the units already reserved, held or sold; nothing changed.
    case belowCommitted = 15
    /// `setPolicy` with values outside their range; nothing changed.
    case invalidPolicy = 16
    /// The core cannot make results durable (journal write or fsync failed) and stopped; this
    /// command may or may not have been applied in memory, but it was never acknowledged.
    case unavailable = 17

    /// Whether the outcome reports a change (or a successful read) rather than a refusal.
    public var isSuccess: Bool {
        switch self {
        case .reserved, .sold, .released, .tombstoned, .ok: true
        default: false
        }
    }
}

/// The state of an order in the core's order table.
public enum OrderState: UInt8, Sendable, Codable {
    /// Placed and unpaid: its quantity is reserved.
    case reserved = 1
    /// Paid: its quantity is sold.
    case sold = 2
    /// Cancelled (with or without a reservation to release).
    case cancelled = 3
    /// Its reservation timed out.
    case expired = 4
    /// Its first event was refused (insufficient stock or paused sales).
    case rejected = 5
}

/// An order as the core remembers it, returned by ``StockCommand/readOrder(channel:orderId:)``.
public struct OrderStatus: Sendable, Hashable {
    /// The order's state.
    public var state: OrderState
    /// The SKU the order is for.
    public var sku: String
    /// The order's quantity.
    public var quantity: Int64
}

/// The answer to one command, released only once the command is durable.
///
/// Small and cheap to copy on the hot path: the payloads of reads live behind one optional
/// reference that order events never allocate.
public struct StockResult: Sendable, Hashable {
    /// The payload of a read, boxed.
    final class Details: Sendable, Hashable {
        /// See ``StockResult/skus``.
        let skus: [StockPublication]
        /// See ``StockResult/order``.
        let order: OrderStatus?

        /// Boxes a read's payload.
        init(skus: [StockPublication], order: OrderStatus?) {
            self.skus = skus
            self.order = order
        }

        /// Equal payloads.
        static func == (lhs: Details, rhs: Details) -> Bool { lhs.skus == rhs.skus && lhs.order == rhs.order }

        /// Hashes the payload.
        func hash(into hasher: inout Hasher) {
            hasher.combine(skus)
            hasher.combine(order)
        }
    }

    /// What the command did.
    public var outcome: StockOutcome
    /// The core's commit number after this command (the journal sequence number of the command, or
    /// for a read the last committed one).
    public var rev: UInt64
    /// Whether this repeats an event already applied to the order: the outcome is the first one's.
    public var isDuplicate: Bool
    /// The read payload, if any.
    private var details: Details?

    /// For ``StockCommand/readSkus(_:)``: the SKU states read.
    public var skus: [StockPublication] { details?.skus ?? [] }
    /// For ``StockCommand/readOrder(channel:orderId:)``: the order, if remembered.
    public var order: OrderStatus? { details?.order }

    /// Creates a result.
    public init(
        outcome: StockOutcome, rev: UInt64, isDuplicate: Bool = false, skus: [StockPublication] = [],
        order: OrderStatus? = nil
    ) {
        self.outcome = outcome
        self.rev = rev
        self.isDuplicate = isDuplicate
        self.details = skus.isEmpty && order == nil ? nil : Details(skus: skus, order: order)
    }
}

/// The state of one SKU as published after a durable batch (and as read for a new subscriber).
public struct StockPublication: Sendable, Hashable {
    /// The SKU id.
    public var sku: String
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
    /// Whether sales are paused.
    public var isPaused: Bool
    /// The core's commit number of the batch this state is from.
    public var rev: UInt64
}

/// Whether ``StockEngine/submit(_:wakesWriter:completion:)`` took the command.
public enum SubmitStatus: Sendable, Hashable {
    /// Queued: the completion will be called exactly once, after the command is durable.
    case accepted
    /// The inbox is full: try again later; the completion will not be called.
    case busy
    /// The core has stopped (journal failure, or ``StockEngine/stop()``); the completion will not be called.
    case unavailable
}
