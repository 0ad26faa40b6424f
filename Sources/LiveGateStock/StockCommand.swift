import LiveGateCore
/// The kind of a sales-channel order event.
public enum OrderEventKind: UInt8, Sendable, Codable {
    /// The buyer placed the order: reserve its quantity.
    case placed = 1
    /// The buyer paid: the reservation becomes a sale (or, for an order the core holds no
    /// reservation for, stock is sold at once if it allows).
    case paid = 2
    /// The order was cancelled: release its reservation.
    case cancelled = 3
}

/// One order event from a sales channel.
///
/// The idempotency key is (``channel``, ``orderId``). ``quantity`` and ``sku`` are read from the
/// first event the core accepts for the order; later events of the same order use the order's
/// recorded SKU and quantity, whatever they carry.
public struct OrderEvent: Sendable, Hashable {
    /// Placed, paid or cancelled.
    public var kind: OrderEventKind
    /// The SKU id.
    public var sku: String
    /// The sales channel (platform), e.g. `"douyin"`; at most 255 bytes.
    public var channel: String
    /// The platform's order id, unique within the channel.
    public var orderId: String
    /// Units ordered, 1 ... ``StockLedger/maximumQuantity``.
    public var quantity: Int64
    /// The platform's own timestamp (nanoseconds), kept as data only: never used as the clock.
    public var platformTimestamp: Int64

    /// Creates an order event.
    public init(
        _ kind: OrderEventKind, sku: String, channel: String, orderId: String, quantity: Int64 = 1,
        platformTimestamp: Int64 = 0
    ) {
        self.kind = kind
        self.sku = sku
        self.channel = channel
        self.orderId = orderId
        self.quantity = quantity
        self.platformTimestamp = platformTimestamp
    }
}

/// A command to the stock core: every state change enters through one of these, through the single
/// writer, and is journaled before its result leaves the core.
///
/// ## Order events and their results
///
/// Every order follows the state machine `placed → paid | cancelled | expired` (plus `rejected` for an
/// order refused at its first event). For each order and each event kind the core remembers the
/// *first* result; a repeat of an event kind already seen for that order returns that first result
/// with ``StockResult/isDuplicate`` set, and changes nothing. The first event of a kind, by the
/// state the order is in:
///
/// | event \ state | unknown | reserved | sold | cancelled | expired | rejected |
/// | --- | --- | --- | --- | --- | --- | --- |
/// | `placed` | `reserved`, or `paused` / `insufficient` (order → rejected) | — | `alreadySold` | `alreadyCancelled` | — | `alreadyRejected` |
/// | `paid` | `sold` (sells at once), or `paused` / `insufficient` (→ rejected) | `sold` (even when paused) | — | `alreadyCancelled` | `sold` if stock allows, else `insufficient` / `paused` (stays expired) | `sold` if stock allows, else `insufficient` / `paused` |
/// | `cancelled` | `tombstoned` (order → cancelled: a later placed/paid is refused) | `released` | `alreadySold` (a return is a restock) | — | `alreadyExpired` | `alreadyRejected` |
///
/// "—" cannot happen as a first event of that kind (the order only reaches the state through it).
/// Events for an unknown SKU answer `unknownSku`, quantities outside 1 ... 10⁹ answer
/// `invalidQuantity`; neither is remembered. Keys are remembered for the core's retention (default
/// 48 h of core time) from the order's first event; after that the same id is a new order.
/// A reservation expires when core time reaches its placement time plus the SKU's reservation
/// timeout *as currently set* (a policy change applies to reservations already held).
///
/// ## Operator commands and their results
///
/// | command | result |
/// | --- | --- |
/// | `createSku` | `ok`; `skuExists` if the id is taken (nothing changes); `invalidQuantity` if onHand < 0; `invalidPolicy` as for `setPolicy` |
/// | `restock` | `ok` (onHand += quantity); `invalidQuantity` unless quantity ≥ 1 |
/// | `adjust` | `ok` (onHand := count); `belowCommitted` if count < reserved + held + sold |
/// | `hold` | `ok` (held += quantity); `insufficient` if sellable < quantity |
/// | `release` | `ok` (held -= quantity); `invalidQuantity` if quantity > held |
/// | `pause` / `resume` | `ok` (idempotent) |
/// | `setPolicy` | `ok`; `invalidPolicy` unless 0 < reservationTimeout < retention |
/// | `tick` | `ok`; core time := max(core time, `to`) with `clock: external`; in live mode only expiries run |
/// | `setNote` | `ok`; notes[key] := value (an empty value removes the key); stock is untouched |
/// | `readSkus` / `readOrder` | `ok` with the states in the result; not journaled, no `rev` change |
///
/// Operator commands on an unknown SKU answer `unknownSku`. Every command but the two reads is
/// journaled and takes one `rev`, whatever its result.
public enum StockCommand: Sendable, Hashable {
    /// An order event from a sales channel.
    case order(OrderEvent)
    /// Creates a SKU with `onHand` units (the "initial" of the accounting invariant).
    case createSku(sku: String, onHand: Int64, policy: SkuPolicy = SkuPolicy())
    /// Adds `quantity` units that arrived from `source` (e.g. a nearby warehouse).
    case restock(sku: String, quantity: Int64, source: String)
    /// Sets onHand to `onHand` after a count, for `reason`.
    case adjust(sku: String, onHand: Int64, reason: String)
    /// Holds back `quantity` sellable units.
    case hold(sku: String, quantity: Int64)
    /// Releases `quantity` held units.
    case release(sku: String, quantity: Int64)
    /// Pauses sales of the SKU: new orders are answered `paused`.
    case pause(sku: String)
    /// Resumes sales of the SKU.
    case resume(sku: String)
    /// Replaces the SKU's policy.
    case setPolicy(sku: String, policy: SkuPolicy)
    /// Advances core time to `to` (nanoseconds) with `clock: external`; runs due expiries.
    case tick(to: Int64)
    /// Records state that lives beside the stock, such as a room's featured SKU after a
    /// switchover, in the same journal: the latest value per key (at most 1024 bytes each) is in
    /// ``StockLedger/notes`` after a restart. An empty value removes the key.
    case setNote(key: String, value: String)
    /// Reads the states of `skus` (all SKUs when nil) into ``StockResult/skus``.
    case readSkus([String]?)
    /// Reads one order's state into ``StockResult/order``.
    case readOrder(channel: String, orderId: String)
}
