/// One change the ledger made to a SKU, as the alert engine needs to see it: what happened,
/// how many units, at what core time.
///
/// The ledger records these only while ``StockLedger/recordsChanges`` is on (the engine turns
/// it on when an observer is attached), for live batches and for the journal records replayed
/// at start-up alike, so an observer rebuilds exactly the state it had.
public struct StockChange: Sendable, Hashable {
    /// What happened to the SKU.
    public enum Kind: UInt8, Sendable, Hashable {
        /// Units reserved by a placed order.
        case placed
        /// A reservation paid (reserved → sold).
        case paid
        /// Units sold at once by a `paid` without a live reservation.
        case paidUnreserved
        /// A reservation released by a cancellation.
        case cancelled
        /// A reservation released because it expired.
        case expired
        /// The SKU was created with `quantity` units.
        case created
        /// `quantity` units arrived.
        case restock
        /// On-hand was set by a count; `quantity` is the change (may be negative).
        case adjust
        /// `quantity` units held back.
        case hold
        /// `quantity` held units released.
        case release
        /// Sales paused.
        case pause
        /// Sales resumed.
        case resume
        /// The policy was replaced.
        case policy
    }

    /// The SKU's index in the ledger (creation order).
    public var sku: Int
    /// What happened.
    public var kind: Kind
    /// Units (see ``Kind``).
    public var quantity: Int64
    /// Core time, nanoseconds.
    public var time: Int64
}

/// Code that runs on the stock core's writer thread beside the ledger, such as the alert
/// engine: it sees every change (live and replayed), adds its own state to every snapshot,
/// and may attach something to publish with each durable batch.
///
/// Called on the writer thread only (and on the thread that opens the core, during recovery).
public protocol StockObserver: AnyObject {
    /// What the observer attaches to a batch, handed out with the batch once it is durable.
    associatedtype Annotation: Sendable

    /// Restores the observer's state from a recovered snapshot's extension section (which is
    /// empty, version 0, for a fresh data directory or a snapshot without one).
    func restore(from snapshotExtension: SnapshotExtension, ledger: StockLedger)

    /// The changes of one batch (or of one replayed record, with `isReplay`), with the ledger
    /// after them. Returns what to publish once the batch is durable (ignored when replaying).
    func observe(_ changes: [StockChange], ledger: StockLedger, time: Int64, isReplay: Bool) -> Annotation?

    /// The observer's state for the snapshot about to be written.
    func snapshotExtension() -> SnapshotExtension

    /// Core time (ns) by which the observer wants to see time move again even if nothing
    /// changes (a throttled publication falls due), or `Int64.max`. With the live clock the
    /// writer then runs a journaled tick by that time (at most one a second otherwise).
    var nextTickAt: Int64 { get }
}

extension StockObserver {
    public var nextTickAt: Int64 { .max }
}

/// A durable batch as the release thread hands it out: the changed SKUs' states, then what the
/// observer attached to the same batch.
public struct DurableBatch<Annotation: Sendable>: Sendable {
    /// The changed SKUs' states (at most one per SKU), stamped with the batch's rev.
    public var publications: [StockPublication]
    /// The observer's annotation of the batch, if it attached one.
    public var annotation: Annotation?

    public init(publications: [StockPublication], annotation: Annotation?) {
        self.publications = publications
        self.annotation = annotation
    }
}
