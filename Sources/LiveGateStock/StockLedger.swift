import LiveGateCore
/// The opaque, versioned section of the snapshot that the alert engine owns (its windows, levels and
/// cooldowns), carried through snapshots unchanged by the stock core.
public struct SnapshotExtension: Sendable, Hashable {
    /// The version of the extension's own format; 0 with no bytes means "none".
    public var version: UInt32
    /// The extension's bytes.
    public var bytes: [UInt8]

    /// Creates an extension section.
    public init(version: UInt32 = 0, bytes: [UInt8] = []) {
        self.version = version
        self.bytes = bytes
    }
}

/// The whole stock state and the pure logic that changes it: SKUs, remembered orders, reservations
/// awaiting expiry, core time and the commit number.
///
/// A value type with no I/O and no locks. In the running core it is owned by the writer thread
/// alone; tests and recovery drive it directly. Every change goes through ``apply(_:)`` with a
/// ``CommandRecord``, so the live core and journal replay run the same code.
public struct StockLedger {
    /// The largest quantity an order, restock, hold or release may carry: 10⁹.
    public static let maximumQuantity: Int64 = 1_000_000_000
    /// The default key retention: 48 hours of core time.
    public static let defaultRetention: Int64 = 48 * 3600 * 1_000_000_000

    /// One SKU's state and accounting.
    struct Sku {
        /// The SKU id.
        var id: String
        /// Physical units.
        var onHand: Int64
        /// Units reserved by placed, unpaid orders.
        var reserved: Int64 = 0
        /// Units held back by an operator.
        var held: Int64 = 0
        /// Units sold.
        var sold: Int64 = 0
        /// Whether sales are paused.
        var isPaused = false
        /// The SKU's policy.
        var policy: SkuPolicy
        /// onHand at creation (accounting invariant).
        var initial: Int64
        /// The sum of restocks (accounting invariant).
        var restocked: Int64 = 0
        /// The sum of adjustments, `count - onHand` each (accounting invariant).
        var adjusted: Int64 = 0
        /// Reservations in placement order, for expiry; entries whose order left `reserved` are
        /// skipped when they reach the front.
        var reservations = RingQueue<Reservation>()

        /// `onHand - reserved - held - sold`.
        @inline(__always) var sellable: Int64 { onHand - reserved - held - sold }
    }

    /// A reservation awaiting expiry.
    struct Reservation {
        /// The order's key.
        var key: OrderKey
        /// Core time of placement (the order's `firstSeenAt`).
        var placedAt: Int64
    }

    /// The SKUs, by index (indexes are assigned in creation order and never reused).
    var skus: [Sku] = []
    /// SKU id → index.
    var skuIndex: [String: UInt32] = [:]
    /// The same, for the per-order lookup (``SkuLookup``); kept with `skuIndex`.
    var skuLookup = SkuLookup()
    /// The remembered orders.
    var orders: OrderTable
    /// Orders in first-seen order, for forgetting them after the retention.
    var remembered = RingQueue<Reservation>()
    /// Core time of the last applied command, nanoseconds.
    public internal(set) var time: Int64 = 0
    /// The commit number of the last applied command.
    public internal(set) var rev: UInt64 = 0
    /// The seed of ``OrderKey`` hashing for this data directory.
    public internal(set) var keySeed: UInt64
    /// How long orders are remembered after their first event, nanoseconds of core time.
    public internal(set) var retention: Int64
    /// No reservation expires before this core time (a lower bound; a sweep recomputes it).
    var nextExpiryAt = Int64.max
    /// SKU indexes changed since ``takeChangedSkus()``.
    var changed: [UInt32] = []
    /// Per SKU: whether it is in ``changed``.
    var isChanged: [Bool] = []
    /// The SKU looked up last, and its index (SKU indexes never change).
    var lastSku: (id: String, index: UInt32)? = nil
    /// Where ``prepareKeys(_:into:)`` leaves the bits it read, so the reads are not optimised away.
    var prefetchSink: UInt64 = 0
    /// The values of ``StockCommand/setNote(key:value:)`` by key (state kept beside the stock,
    /// such as a room's featured SKU).
    public internal(set) var notes: [String: String] = [:]
    /// The alert engine's section of the snapshot.
    public var snapshotExtension = SnapshotExtension()
    /// Whether ``changes`` is filled (for an observer such as the alert engine).
    public var recordsChanges = false
    /// The changes since ``takeChanges()``, while ``recordsChanges`` is on.
    public internal(set) var changes: [StockChange] = []

    /// Returns and forgets the recorded changes.
    public mutating func takeChanges() -> [StockChange] {
        let taken = changes
        changes.removeAll(keepingCapacity: true)
        return taken
    }

    /// Records a change when ``recordsChanges`` is on.
    @inline(__always)
    mutating func note(_ index: Int, _ kind: StockChange.Kind, _ quantity: Int64) {
        if recordsChanges { changes.append(StockChange(sku: index, kind: kind, quantity: quantity, time: time)) }
    }

    /// The SKU id at `index`.
    public func skuID(ofIndex index: Int) -> String { skus[index].id }

    /// Creates an empty ledger.
    ///
    /// - Parameters:
    ///   - keySeed: The seed for order keys; keep it with the data (it is in every snapshot).
    ///   - retention: How long order keys are remembered, nanoseconds of core time.
    ///   - expectedOrders: Orders to size the order table for.
    ///   - time: The initial core time.
    public init(keySeed: UInt64, retention: Int64 = StockLedger.defaultRetention, expectedOrders: Int = 1024, time: Int64 = 0) {
        self.keySeed = keySeed
        self.retention = retention
        self.orders = OrderTable(expected: expectedOrders)
        self.remembered = RingQueue(minimumCapacity: expectedOrders)
        self.time = time
    }

    // MARK: Reading

    /// The number of SKUs.
    public var skuCount: Int { skus.count }
    /// The number of remembered orders.
    public var orderCount: Int { orders.count }

    /// The state of the SKU at `index` as a publication stamped with the current ``rev``.
    public func publication(ofIndex index: Int) -> StockPublication {
        let sku = skus[index]
        return StockPublication(
            sku: sku.id, onHand: sku.onHand, reserved: sku.reserved, held: sku.held, sold: sku.sold,
            sellable: max(0, sku.sellable), isPaused: sku.isPaused, rev: rev)
    }

    /// The state of the SKU `id`, or nil if it does not exist.
    public func publication(of id: String) -> StockPublication? {
        skuIndex[id].map { publication(ofIndex: Int($0)) }
    }

    /// The states of all SKUs, in creation order.
    public var allPublications: [StockPublication] { skus.indices.map { publication(ofIndex: $0) } }

    /// The policy of the SKU `id`, or nil if it does not exist.
    public func policy(of id: String) -> SkuPolicy? { skuIndex[id].map { skus[Int($0)].policy } }

    /// The remembered state of the order (`channel`, `orderId`), or nil.
    public func order(channel: String, orderId: String) -> OrderStatus? {
        order(key: OrderKey(channel: channel, orderId: orderId, seed: keySeed))
    }

    /// The remembered state of the order with `key`, or nil.
    func order(key: OrderKey) -> OrderStatus? {
        guard let slot = orders.find(key) else { return nil }
        let entry = orders[slot: slot]
        return OrderStatus(
            state: entry.state, sku: skus[Int(entry.sku)].id, quantity: Int64(entry.quantity))
    }

    /// Returns the SKU indexes changed since the last call, and forgets them.
    mutating func takeChangedSkus() -> [UInt32] {
        let result = changed
        for index in changed { isChanged[Int(index)] = false }
        changed.removeAll(keepingCapacity: true)
        return result
    }

    /// Checks the invariants of every SKU and of the order table; returns the first violation.
    ///
    /// `0 ≤ reserved, held, sold`; `reserved + held + sold ≤ onHand`;
    /// `initial + restocked + adjusted = onHand`; and `reserved` equals the sum of the quantities of
    /// the orders in state `reserved` (so no order is counted twice).
    /// - Complexity: O(SKUs + order table capacity).
    public func invariantViolation() -> String? {
        var reservedByOrders = [Int64](repeating: 0, count: skus.count)
        var soldByOrders = [Int64](repeating: 0, count: skus.count)
        for entry in orders.entries {
            if entry.state == .reserved { reservedByOrders[Int(entry.sku)] += Int64(entry.quantity) }
            if entry.state == .sold { soldByOrders[Int(entry.sku)] += Int64(entry.quantity) }
        }
        for (index, sku) in skus.enumerated() {
            if let violation = skuInvariantViolation(index) { return violation }
            if sku.reserved != reservedByOrders[index] {
                return "SKU \(sku.id): reserved \(sku.reserved) but reserved orders sum to \(reservedByOrders[index])"
            }
            if soldByOrders[index] > sku.sold {
                return "SKU \(sku.id): sold \(sku.sold) but remembered sold orders sum to \(soldByOrders[index])"
            }
        }
        return nil
    }

    /// Checks the per-SKU invariants of the SKU at `index`.
    func skuInvariantViolation(_ index: Int) -> String? {
        let sku = skus[index]
        if sku.reserved < 0 || sku.held < 0 || sku.sold < 0 {
            return "SKU \(sku.id): negative count (reserved \(sku.reserved), held \(sku.held), sold \(sku.sold))"
        }
        if sku.reserved + sku.held + sku.sold > sku.onHand {
            return "SKU \(sku.id): reserved \(sku.reserved) + held \(sku.held) + sold \(sku.sold) > onHand \(sku.onHand)"
        }
        if sku.initial + sku.restocked + sku.adjusted != sku.onHand {
            return "SKU \(sku.id): initial \(sku.initial) + restocked \(sku.restocked) + adjusted \(sku.adjusted) != onHand \(sku.onHand)"
        }
        return nil
    }

    // MARK: Resolving commands

    /// Turns a command into the record the ledger applies and the journal stores, or nil for a read.
    ///
    /// - Parameters:
    ///   - command: The command.
    ///   - time: The core time stamped on it (ignored for `tick`, which carries its own).
    ///   - externalClock: Whether `tick` sets core time (otherwise `time` stands).
    ///   - key: The order key if already computed (by ``prepareKeys(_:into:)`` or the submitter).
    mutating func makeRecord(_ command: StockCommand, time: Int64, externalClock: Bool, key: OrderKey? = nil) -> CommandRecord? {
        let next = rev &+ 1
        let stamp = Swift.max(self.time, time)
        switch command {
        case .order(let event):
            return makeOrderRecord(event, time: time, key: key)
        case .createSku(let sku, let onHand, let policy):
            var record = CommandRecord(tag: .createSku, rev: next, time: stamp)
            record.text = Self.clip(sku)
            record.quantity = onHand
            record.policy = policy
            return record
        case .restock(let sku, let quantity, let source):
            return skuRecord(.restock, sku, quantity, text: source, rev: next, time: stamp)
        case .adjust(let sku, let onHand, let reason):
            return skuRecord(.adjust, sku, onHand, text: reason, rev: next, time: stamp)
        case .hold(let sku, let quantity):
            return skuRecord(.hold, sku, quantity, rev: next, time: stamp)
        case .release(let sku, let quantity):
            return skuRecord(.release, sku, quantity, rev: next, time: stamp)
        case .pause(let sku):
            return skuRecord(.pause, sku, 0, rev: next, time: stamp)
        case .resume(let sku):
            return skuRecord(.resume, sku, 0, rev: next, time: stamp)
        case .setPolicy(let sku, let policy):
            var record = skuRecord(.setPolicy, sku, 0, rev: next, time: stamp)
            record.policy = policy
            return record
        case .tick(let to):
            return CommandRecord(tag: .tick, rev: next, time: externalClock ? Swift.max(self.time, to) : stamp)
        case .setNote(let key, let value):
            var record = CommandRecord(tag: .note, rev: next, time: stamp)
            record.text = Self.clip(key)
            record.value = Self.clip(value)
            return record
        case .readSkus, .readOrder:
            return nil
        }
    }

    /// The record of an order event at core time `time` (or the ledger's, when later), with its key
    /// if already computed.
    @inline(__always)
    mutating func makeOrderRecord(_ event: OrderEvent, time: Int64, key: OrderKey?) -> CommandRecord {
        let tag: CommandRecord.Tag =
            switch event.kind {
            case .placed: .placed
            case .paid: .paid
            case .cancelled: .cancelled
            }
        var record = CommandRecord(tag: tag, rev: rev &+ 1, time: Swift.max(self.time, time))
        record.sku = index(ofSku: event.sku)
        record.quantity = event.quantity
        record.key = key ?? OrderKey(channel: event.channel, orderId: event.orderId, seed: keySeed)
        record.platformTimestamp = event.platformTimestamp
        return record
    }

    /// The index of the SKU `id`, or ``CommandRecord/unknownSku``; remembers the last SKU looked up,
    /// since a live sale sends runs of orders for the same hot SKU (comparing two small strings costs
    /// far less than hashing one).
    @inline(__always)
    private mutating func index(ofSku id: String) -> UInt32 {
        if let last = lastSku, last.id == id { return last.index }
        // The byte-hashed table first; on a miss the dictionary, which also finds an id written in
        // another Unicode normalization form (Swift compares strings canonically).
        guard let index = skuLookup.find(id, isID: { skus[Int($0)].id == id }) ?? skuIndex[id] else {
            return CommandRecord.unknownSku
        }
        lastSku = (id, index)
        return index
    }

    /// A record for an operator command on one SKU.
    private func skuRecord(
        _ tag: CommandRecord.Tag, _ sku: String, _ quantity: Int64, text: String = "", rev: UInt64, time: Int64
    ) -> CommandRecord {
        var record = CommandRecord(tag: tag, rev: rev, time: time)
        record.sku = skuIndex[sku] ?? CommandRecord.unknownSku
        record.quantity = quantity
        record.text = Self.clip(text)
        return record
    }

    /// The first phase of a batch: computes every order command's key and touches its home slot in
    /// the order table, so that the cache misses of the whole batch overlap instead of stalling
    /// one command at a time. `keys[i]` is the key of the i-th command, or (0, 0) if it has none.
    mutating func prepareKeys(_ commands: some Sequence<StockCommand>, into keys: inout [OrderKey]) {
        keys.removeAll(keepingCapacity: true)
        for command in commands {
            if case .order(let event) = command {
                keys.append(OrderKey(channel: event.channel, orderId: event.orderId, seed: keySeed))
            } else {
                keys.append(OrderKey(low: 0, high: 0))
            }
        }
        touch(keys)
    }

    /// Touches the home slot of every key in the order table.
    ///
    /// A separate, tiny loop: its loads are independent and few instructions apart, so the CPU
    /// keeps many of them in flight at once (memory-level parallelism), which a load placed in the
    /// middle of the hashing work would not get.
    mutating func touch(_ keys: [OrderKey]) {
        var sink: UInt64 = 0
        keys.withUnsafeBufferPointer { buffer in
            for key in buffer { sink ^= orders.touch(key) }
        }
        prefetchSink ^= sink
    }

    /// Cuts `text` to at most 1024 bytes of UTF-8.
    private static func clip(_ text: String) -> String {
        text.utf8.count <= 1024 ? text : String(decoding: text.utf8.prefix(1024), as: UTF8.self)
    }

    /// Answers a read command from the current state (not journaled).
    func read(_ command: StockCommand) -> StockResult {
        switch command {
        case .readSkus(let ids):
            let states = ids.map { $0.compactMap { publication(of: $0) } } ?? allPublications
            return StockResult(outcome: .ok, rev: rev, skus: states)
        case .readOrder(let channel, let orderId):
            return StockResult(outcome: .ok, rev: rev, order: order(channel: channel, orderId: orderId))
        default:
            return StockResult(outcome: .ok, rev: rev)
        }
    }

    // MARK: Applying records

    /// Applies a command directly, without a journal: what the writer thread does for each command,
    /// minus durability. For tools (replay, inspection), tests and the in-memory benchmark.
    ///
    /// - Parameters:
    ///   - command: The command; reads are answered without changing anything.
    ///   - time: The core time to stamp it with (never less than ``time``); `tick` brings its own
    ///     when `externalClock` is true.
    ///   - externalClock: Whether `tick` sets core time.
    /// - Returns: The command's result.
    /// - Complexity: O(1) expected for order events.
    public mutating func execute(_ command: StockCommand, time: Int64, externalClock: Bool = true) -> StockResult {
        guard let record = makeRecord(command, time: time, externalClock: externalClock) else { return read(command) }
        let (outcome, isDuplicate) = apply(record)
        return StockResult(outcome: outcome, rev: record.rev, isDuplicate: isDuplicate)
    }

    /// Applies a batch of commands directly, without a journal, the way the writer thread does (keys
    /// first, so the order-table misses of the batch overlap, then each command in order).
    ///
    /// - Parameters:
    ///   - commands: The commands, in order.
    ///   - time: The core time to stamp them with.
    ///   - externalClock: Whether `tick` sets core time.
    ///   - results: Receives one result per command (cleared first).
    /// - Complexity: O(n) expected.
    public mutating func execute(
        batch commands: ArraySlice<StockCommand>, time: Int64, externalClock: Bool = true, results: inout [StockResult]
    ) {
        var keys: [OrderKey] = []
        keys.reserveCapacity(commands.count)
        var journal = ByteWriter()
        results.removeAll(keepingCapacity: true)
        applyBatch(commands, time: time, externalClock: externalClock, keys: &keys, journal: &journal, encodes: false, results: &results)
    }

    /// Applies a batch directly, without a journal, with the order keys its submitters computed
    /// (``OrderKey/init(channel:orderId:seed:)`` with this ledger's seed, zero for commands
    /// without one): exactly the writer thread's share of the work, since the engine hashes each
    /// order's key on the thread that submits it.
    ///
    /// - Parameters:
    ///   - commands: The commands, in order.
    ///   - keys: One key per command.
    ///   - time: The core time to stamp them with.
    ///   - results: Receives one result per command (cleared first).
    public mutating func execute(
        batch commands: ArraySlice<StockCommand>, keys: inout [OrderKey], time: Int64, externalClock: Bool = true,
        results: inout [StockResult]
    ) {
        precondition(keys.count == commands.count, "one key per command")
        var journal = ByteWriter()
        results.removeAll(keepingCapacity: true)
        applyBatch(
            commands, time: time, externalClock: externalClock, keys: &keys, journal: &journal, encodes: false, results: &results,
            keysArePrepared: true)
    }

    /// The seed this ledger's order keys are hashed with.
    public var orderKeySeed: UInt64 { keySeed }

    /// Applies a batch the way the writer thread does: keys first, then each command in order,
    /// appending each journaled command's framed record to `journal` (when `encodes`) and each
    /// result to `results`.
    ///
    /// - Returns: The number of journaled commands (reads are not journaled).
    @discardableResult
    mutating func applyBatch(
        _ commands: some Sequence<StockCommand>, time: Int64, externalClock: Bool, keys: inout [OrderKey],
        journal: inout ByteWriter, encodes: Bool, results: inout [StockResult], keysArePrepared: Bool = false
    ) -> Int {
        if keysArePrepared { touch(keys) } else { prepareKeys(commands, into: &keys) }
        var recordCount = 0
        var index = 0
        for command in commands {
            let key = keys[index]
            index += 1
            let record: CommandRecord
            if case .order(let event) = command {
                // A repeated order event is answered from the idempotency table: no record, no new rev.
                if let outcome = storedOutcome(of: event.kind, key: key) {
                    results.append(StockResult(outcome: outcome, rev: rev, isDuplicate: true))
                    continue
                }
                // The order's record straight from its event (the hot path: one look at the command).
                record = makeOrderRecord(event, time: time, key: key)
            } else {
                guard let made = makeRecord(command, time: time, externalClock: externalClock, key: key) else {
                    results.append(read(command))
                    continue
                }
                record = made
            }
            let (outcome, isDuplicate) = apply(record)
            if encodes { record.encode(into: &journal) }
            recordCount += 1
            results.append(StockResult(outcome: outcome, rev: record.rev, isDuplicate: isDuplicate))
        }
        return recordCount
    }

    /// The outcome already recorded for this event of the order with `key`, if it was applied.
    @inline(__always)
    func storedOutcome(of kind: OrderEventKind, key: OrderKey) -> StockOutcome? {
        guard let slot = orders.find(key) else { return nil }
        let entry = orders[slot: slot]
        let stored: UInt8 =
            switch kind {
            case .placed: entry.placedResult
            case .paid: entry.paidResult
            case .cancelled: entry.cancelledResult
            }
        return stored == 0 ? nil : StockOutcome(rawValue: stored)
    }

    /// The size in bytes of a journaled order event, frame included.
    public static let orderRecordSize = CommandRecord.frameHeaderSize + 8 + 8 + 1 + 4 + 8 + 16 + 8

    /// Applies one record: advances core time (running due expiries and forgetting old keys), then
    /// the command.
    ///
    /// - Parameter record: The next record; its `rev` must be ``rev`` + 1.
    /// - Returns: The command's outcome and whether it repeats an event already applied.
    /// - Complexity: O(1) expected for order events, plus any expiries that fall due.
    mutating func apply(_ record: CommandRecord) -> (StockOutcome, Bool) {
        precondition(record.rev == rev &+ 1, "record rev \(record.rev) does not follow \(rev)")
        rev = record.rev
        advance(to: record.time)
        let result: (StockOutcome, Bool)
        switch record.tag {
        case .placed, .paid, .cancelled:
            result = applyOrder(record)
        case .tick:
            result = (.ok, false)
        case .note:
            notes[record.text] = record.value.isEmpty ? nil : record.value
            result = (.ok, false)
        default:
            result = (applyOperator(record), false)
        }
        #if DEBUG
        if record.sku != CommandRecord.unknownSku, Int(record.sku) < skus.count,
            let violation = skuInvariantViolation(Int(record.sku))
        {
            preconditionFailure("invariant broken after rev \(record.rev): \(violation)")
        }
        #endif
        return result
    }

    /// Marks the SKU at `index` as changed.
    @inline(__always)
    private mutating func markChanged(_ index: Int) {
        if !isChanged[index] {
            isChanged[index] = true
            changed.append(UInt32(index))
        }
    }

    /// Applies an order event (see the table on ``StockCommand``).
    private mutating func applyOrder(_ record: CommandRecord) -> (StockOutcome, Bool) {
        let skuNumber = Int(record.sku)
        guard record.sku != CommandRecord.unknownSku, skuNumber < skus.count else { return (.unknownSku, false) }
        guard let slot = orders.find(record.key) else {
            // First event of this order.
            guard record.quantity >= 1, record.quantity <= Self.maximumQuantity else { return (.invalidQuantity, false) }
            var entry = OrderEntry(
                key: record.key, sku: record.sku, quantity: UInt32(record.quantity),
                state: .rejected, placedResult: 0, paidResult: 0, cancelledResult: 0)
            let outcome: StockOutcome
            switch record.tag {
            case .placed:
                outcome = reserveOrSell(skuNumber, record.quantity, selling: false)
                entry.state = outcome == .reserved ? .reserved : .rejected
                entry.placedResult = outcome.rawValue
                if outcome == .reserved {
                    note(skuNumber, .placed, record.quantity)
                    let timeout = skus[skuNumber].policy.reservationTimeout
                    skus[skuNumber].reservations.append(Reservation(key: record.key, placedAt: record.time))
                    nextExpiryAt = Swift.min(nextExpiryAt, record.time &+ timeout)
                }
            case .paid:
                outcome = reserveOrSell(skuNumber, record.quantity, selling: true)
                entry.state = outcome == .sold ? .sold : .rejected
                entry.paidResult = outcome.rawValue
                if outcome == .sold { note(skuNumber, .paidUnreserved, record.quantity) }
            default:
                outcome = .tombstoned
                entry.state = .cancelled
                entry.cancelledResult = outcome.rawValue
            }
            orders.insert(entry)
            remembered.append(Reservation(key: record.key, placedAt: record.time))
            return (outcome, false)
        }
        var entry = orders[slot: slot]
        let stored: UInt8 =
            switch record.tag {
            case .placed: entry.placedResult
            case .paid: entry.paidResult
            default: entry.cancelledResult
            }
        if stored != 0 { return (StockOutcome(rawValue: stored)!, true) }
        let index = Int(entry.sku)
        let quantity = Int64(entry.quantity)
        let outcome: StockOutcome
        switch (record.tag, entry.state) {
        case (.placed, .sold), (.cancelled, .sold): outcome = .alreadySold
        case (.placed, .cancelled), (.paid, .cancelled), (.cancelled, .cancelled): outcome = .alreadyCancelled
        case (.placed, .rejected), (.cancelled, .rejected): outcome = .alreadyRejected
        case (.placed, .expired), (.cancelled, .expired): outcome = .alreadyExpired
        case (.placed, .reserved): outcome = .reserved
        case (.paid, .reserved):
            skus[index].reserved -= quantity
            skus[index].sold += quantity
            markChanged(index)
            entry.state = .sold
            outcome = .sold
            note(index, .paid, quantity)
        case (.paid, .expired), (.paid, .rejected):
            outcome = reserveOrSell(index, quantity, selling: true)
            if outcome == .sold {
                entry.state = .sold
                note(index, .paidUnreserved, quantity)
            }
        case (.paid, .sold): outcome = .alreadySold
        case (.cancelled, .reserved):
            skus[index].reserved -= quantity
            markChanged(index)
            entry.state = .cancelled
            outcome = .released
            note(index, .cancelled, quantity)
        default: outcome = .alreadyCancelled
        }
        switch record.tag {
        case .placed: entry.placedResult = outcome.rawValue
        case .paid: entry.paidResult = outcome.rawValue
        default: entry.cancelledResult = outcome.rawValue
        }
        orders[slot: slot] = entry
        return (outcome, false)
    }

    /// Reserves (or sells, when `selling`) `quantity` units of the SKU at `index` if sales are not
    /// paused and enough units are sellable.
    @inline(__always)
    private mutating func reserveOrSell(_ index: Int, _ quantity: Int64, selling: Bool) -> StockOutcome {
        if skus[index].isPaused { return .paused }
        if skus[index].sellable < quantity { return .insufficient }
        if selling { skus[index].sold += quantity } else { skus[index].reserved += quantity }
        markChanged(index)
        return selling ? .sold : .reserved
    }

    /// Applies an operator command (see the table on ``StockCommand``).
    private mutating func applyOperator(_ record: CommandRecord) -> StockOutcome {
        if record.tag == .createSku {
            guard skuIndex[record.text] == nil else { return .skuExists }
            guard record.quantity >= 0, record.quantity <= Int64(1) << 50 else { return .invalidQuantity }
            let policy = record.policy ?? SkuPolicy()
            guard policy.reservationTimeout > 0, policy.reservationTimeout < retention else { return .invalidPolicy }
            let index = skus.count
            skus.append(Sku(id: record.text, onHand: record.quantity, policy: policy, initial: record.quantity))
            isChanged.append(false)
            skuIndex[record.text] = UInt32(index)
            skuLookup.insert(record.text, index: UInt32(index))
            markChanged(index)
            note(index, .created, record.quantity)
            return .ok
        }
        let index = Int(record.sku)
        guard record.sku != CommandRecord.unknownSku, index < skus.count else { return .unknownSku }
        let quantity = record.quantity
        switch record.tag {
        case .restock:
            guard quantity >= 1, quantity <= Self.maximumQuantity else { return .invalidQuantity }
            skus[index].onHand += quantity
            skus[index].restocked += quantity
            note(index, .restock, quantity)
        case .adjust:
            guard quantity >= 0, quantity <= Int64(1) << 50 else { return .invalidQuantity }
            let sku = skus[index]
            guard quantity >= sku.reserved + sku.held + sku.sold else { return .belowCommitted }
            skus[index].adjusted += quantity - sku.onHand
            skus[index].onHand = quantity
            note(index, .adjust, quantity - sku.onHand)
        case .hold:
            guard quantity >= 1, quantity <= Self.maximumQuantity else { return .invalidQuantity }
            guard skus[index].sellable >= quantity else { return .insufficient }
            skus[index].held += quantity
            note(index, .hold, quantity)
        case .release:
            guard quantity >= 1, quantity <= skus[index].held else { return .invalidQuantity }
            skus[index].held -= quantity
            note(index, .release, quantity)
        case .pause:
            skus[index].isPaused = true
            note(index, .pause, 0)
        case .resume:
            skus[index].isPaused = false
            note(index, .resume, 0)
        case .setPolicy:
            let policy = record.policy ?? SkuPolicy()
            guard policy.reservationTimeout > 0, policy.reservationTimeout < retention else { return .invalidPolicy }
            skus[index].policy = policy
            note(index, .policy, 0)
            // The new timeout applies at once to the reservations already held.
            expireReservations()
        default:
            return .ok
        }
        markChanged(index)
        return .ok
    }

    // MARK: Time

    /// Sets core time to `newTime` (never less than it was): expires due reservations, then forgets
    /// orders older than the retention.
    @inline(__always)
    mutating func advance(to newTime: Int64) {
        time = newTime
        if newTime >= nextExpiryAt { expireReservations() }
        if let oldest = remembered.first, oldest.placedAt <= newTime &- retention { forgetOldOrders() }
    }

    /// Forgets the orders whose first event is older than the retention.
    private mutating func forgetOldOrders() {
        while let oldest = remembered.first, oldest.placedAt <= time &- retention {
            remembered.removeFirst()
            guard let slot = orders.find(oldest.key) else { continue }
            let entry = orders[slot: slot]
            // Each remembered key has exactly one entry in this queue, and a reservation always
            // expires before the retention ends (timeout < retention), so the order found is the one
            // queued. A reservation still held (the retention was lowered on a restart) is kept.
            if entry.state != .reserved {
                orders.remove(slot: slot)
            }
        }
    }

    /// Expires every reservation whose deadline has passed and recomputes ``nextExpiryAt``.
    private mutating func expireReservations() {
        var next = Int64.max
        for index in skus.indices where !skus[index].reservations.isEmpty {
            let timeout = skus[index].policy.reservationTimeout
            while let head = skus[index].reservations.first {
                // An order leaves `reserved` for good, and its key cannot be forgotten (and reused)
                // before this entry is due, so a reserved order found here is the one queued.
                if let slot = orders.find(head.key), orders[slot: slot].state == .reserved {
                    guard head.placedAt &+ timeout <= time else {
                        next = Swift.min(next, head.placedAt &+ timeout)
                        break
                    }
                    orders[slot: slot].state = .expired
                    skus[index].reserved -= Int64(orders[slot: slot].quantity)
                    markChanged(index)
                    note(index, .expired, Int64(orders[slot: slot].quantity))
                }
                skus[index].reservations.removeFirst()
            }
        }
        nextExpiryAt = next
    }
}
