import Dispatch
import Foundation
import Glibc
import LiveGateCore
import Synchronization

/// Counters of a running core, for the benchmark and for metrics.
public struct StockEngineStatistics: Sendable, Hashable {
    /// Durable batches committed.
    public var batches = 0
    /// Journaled commands committed.
    public var records = 0
    /// `batchSizes[k]` counts batches of 2^k ... 2^(k+1)-1 journaled commands.
    public var batchSizes = [Int](repeating: 0, count: 24)
    /// Nanoseconds the writer thread spent applying and writing batches.
    public var writerBusyNanoseconds: UInt64 = 0
    /// Nanoseconds the writer thread waited for the sync thread (pipeline full).
    public var writerWaitNanoseconds: UInt64 = 0
    /// Nanoseconds the sync thread spent in `fdatasync`.
    public var syncNanoseconds: UInt64 = 0
    /// Nanoseconds the sync thread spent calling completions and the publication sink.
    public var releaseNanoseconds: UInt64 = 0
}

/// The stock core: one writer thread that owns a ``StockLedger``, a bounded inbox that any thread
/// submits ``StockCommand``s to, and a ``Journal`` with pipelined group commit.
///
/// Three threads, each handing batches to the next in order:
/// - **writer** (`stock-core`, the only one that touches stock state, without locks): takes
///   everything waiting in the inbox as one batch, stamps each command with core time, applies it,
///   and appends the batch's records to the journal with one `write`;
/// - **sync** (`stock-sync`): makes every batch written so far durable with one `fdatasync`, while
///   the writer already applies the next batch;
/// - **release** (`stock-release`): only then calls each command's completion and the publication
///   sink, in commit order, while the next `fdatasync` runs.
///
/// Nothing leaves the core before it is durable. At most three batches are in flight; a full
/// inbox answers `busy`. If the journal fails, the core logs why, answers the batches not yet
/// durable and every later command ``StockOutcome/unavailable`` (and ``submit(_:wakesWriter:completion:)``
/// returns ``SubmitStatus/unavailable``); it never reports success for what is not durable.
///
/// Use:
/// ```swift
/// let core = try StockEngine.open(dataDirectory: "/var/lib/livegate", configuration: .init()) { publications in
///     // fan out; called on the release thread after each durable batch: do not block
/// }
/// core.start()
/// _ = core.submit(.order(OrderEvent(.placed, sku: "tea", channel: "douyin", orderId: "A1"))) { result in … }
/// core.stop()
/// ```
/// A new subscriber's starting state comes from ``StockCommand/readSkus(_:)``, answered in commit
/// order with the other commands, so it is consistent with the publications that follow it.
public final class StockEngine: @unchecked Sendable {
    // @unchecked: `ledger`, `keys` and `nextSnapshotRev` are touched by the opening thread before
    // `start()` and after `stop()` returns, and in between only by the writer thread (thread start and
    // the join in `stop()` order those accesses). `journal` likewise, except `Journal.sync()`, which
    // the sync thread calls (a journal allows that). Everything else shared is in a Mutex, an Atomic,
    // a semaphore or a `Handoff`.

    /// One submitted command waiting in the inbox.
    struct Entry: Sendable {
        /// The command.
        var command: StockCommand
        /// Called once with its durable result.
        var completion: @Sendable (StockResult) -> Void
        /// The order key, computed by the submitting thread (order events only).
        var key = OrderKey(low: 0, high: 0)
    }

    /// One shard of the inbox: submitters are spread over shards by thread, so that several
    /// submitting threads rarely contend for the same lock.
    final class InboxShard: Sendable {
        /// Commands waiting, in submission order within the shard; and whether ``stop()`` closed it.
        let state = Mutex<(entries: [Entry], isClosed: Bool)>(([], false))
    }

    /// The configuration.
    public let configuration: StockConfiguration
    /// The data directory's order-key seed (fixed at creation), so submitters hash order ids
    /// on their own threads rather than on the writer's.
    private let keySeed: UInt64
    /// The state, owned by the writer thread while it runs.
    private var ledger: StockLedger
    /// The journal, owned by the writer thread while it runs.
    private let journal: any Journal
    /// The sink for each durable batch's changed SKU states.
    /// Receives each durable batch's publications and the observer's annotation (release thread).
    private let release: @Sendable ([StockPublication], (any Sendable)?) -> Void
    /// The inbox: ``shardCount`` shards. Commands from one thread keep their order; commands from
    /// different threads have no order until the writer takes them.
    private let shards: [InboxShard] = (0..<StockEngine.shardCount).map { _ in InboxShard() }
    /// The number of inbox shards, a power of two.
    static let shardCount = 8
    /// Commands in the inbox, for the capacity check.
    private let pending = Atomic<Int>(0)
    /// Whether the writer waits on ``wakeup`` (the first submitter to clear it signals once).
    private let isWriterSleeping = Atomic<Bool>(false)
    /// Whether ``stop()`` was called (set after every shard is closed).
    private let isStopping = Atomic<Bool>(false)
    /// Signalled when the writer sleeps and a command arrives (or on stop).
    private let wakeup = DispatchSemaphore(value: 0)
    /// Signalled when the writer thread exits.
    private let finished = DispatchSemaphore(value: 0)
    /// Whether the journal has failed.
    private let hasFailed = Atomic<Bool>(false)
    /// Set while the journal cannot take the next batch (no space for a new segment, say): commands
    /// are refused with `unavailable` and the writer retries every second until it can.
    private let isStorageDown = Atomic<Bool>(false)
    /// Why the core is not accepting commands, and since when (wall clock, ns); nil while it is.
    private let downReason = Mutex<(reason: String, since: Int64)?>(nil)
    /// Whether ``start()`` was called.
    private let isStarted = Atomic<Bool>(false)
    /// The rev of the last durable batch.
    private let committed = Atomic<UInt64>(0)
    /// Statistics, updated once per batch.
    private let stats = Mutex(StockEngineStatistics())
    /// The rev at or after which the next snapshot is written (``snapshotSpacing(every:orders:)``).
    private var nextSnapshotRev: UInt64 = 0
    /// The order keys of the batch being processed (writer thread only).
    private var keys: [OrderKey] = []
    /// The observer beside the ledger (the alert engine), writer thread only.
    private let observer: (any StockObserver)?
    /// Core time the observer last saw (writer thread only).
    private var lastObservedAt: Int64 = 0

    /// A batch applied and written, waiting for its sync before its results are released.
    struct PendingBatch: Sendable {
        /// The entries, in order.
        var segments: [[Entry]]
        /// One result per entry.
        var results: [StockResult]
        /// The changed SKUs' states after the batch.
        var publications: [StockPublication]
        /// The rev after the batch.
        var rev: UInt64
        /// The number of journaled commands.
        var recordCount: Int
        /// Whether writing it failed (its entries are answered `unavailable`).
        var isFailed: Bool
        /// What the observer attached to the batch, published after the publications.
        var annotation: (any Sendable)? = nil
    }

    /// Batches handed from the writer thread to the sync thread, in order.
    private let toSyncer = Handoff<PendingBatch>()
    /// Synced batches (and whether the sync succeeded) handed to the release thread, in order.
    private let toReleaser = Handoff<(batches: [PendingBatch], isDurable: Bool)>()
    /// Bounds the batches written but not yet released to three: while one is being released and
    /// one synced, the writer applies and writes the next, then waits.
    private let pipelineSlots = DispatchSemaphore(value: 3)
    /// Signalled when the release thread, the last of the three, exits.
    private let releaserFinished = DispatchSemaphore(value: 0)
    /// Emptied segment arrays returned by the sync thread, for the inbox shards to reuse.
    private let recycled = Mutex<[[Entry]]>([])

    /// Opens the data directory (creating and locking it), recovers, and returns a core that is not
    /// yet running.
    ///
    /// - Parameters:
    ///   - dataDirectory: The data directory (config `dataDir`).
    ///   - configuration: The configuration.
    ///   - publications: Called on the release thread after each durable batch with the changed SKUs'
    ///     states (at most once per SKU per batch, stamped with the batch's rev); must not block.
    /// - Throws: ``JournalError`` if the directory is locked by another process, unreadable, or corrupt.
    public static func open(
        dataDirectory: String, configuration: StockConfiguration = StockConfiguration(),
        publications: @escaping @Sendable ([StockPublication]) -> Void = { _ in }
    ) throws -> StockEngine {
        try open(dataDirectory: dataDirectory, configuration: configuration, observer: nil) { pubs, _ in
            if !pubs.isEmpty { publications(pubs) }
        }
    }

    /// Opens the data directory as above, with `observer` beside the ledger (the alert engine):
    /// `batchDurable` gets each durable batch's publications together with what the observer
    /// attached to that batch, typed.
    public static func open<Observer: StockObserver>(
        dataDirectory: String, configuration: StockConfiguration = StockConfiguration(), observer: Observer,
        batchDurable: @escaping @Sendable (DurableBatch<Observer.Annotation>) -> Void
    ) throws -> StockEngine {
        try open(dataDirectory: dataDirectory, configuration: configuration, observer: observer) { publications, annotation in
            batchDurable(DurableBatch(publications: publications, annotation: annotation.map { $0 as! Observer.Annotation }))
        }
    }

    private static func open(
        dataDirectory: String, configuration: StockConfiguration, observer: (any StockObserver)?,
        release: @escaping @Sendable ([StockPublication], (any Sendable)?) -> Void
    ) throws -> StockEngine {
        let journal = try FileJournal(
            directory: dataDirectory, segmentSize: configuration.segmentSize, isDurable: configuration.isDurable)
        do {
            return try StockEngine(journal: journal, configuration: configuration, observer: observer, release: release)
        } catch {
            journal.close()
            throw error
        }
    }

    /// Recovers from `journal` (or starts it fresh, with a new key seed and an initial snapshot) and
    /// returns a core that is not yet running.
    ///
    /// - Parameters:
    ///   - journal: The journal; the core owns it from now on.
    ///   - configuration: The configuration.
    ///   - publications: Called on the release thread after each durable batch with the changed SKUs'
    ///     states (at most once per SKU per batch, stamped with the batch's rev); must not block.
    /// - Throws: ``JournalError`` if recovery fails.
    public convenience init(
        journal: any Journal, configuration: StockConfiguration = StockConfiguration(),
        publications: @escaping @Sendable ([StockPublication]) -> Void = { _ in }
    ) throws {
        try self.init(journal: journal, configuration: configuration, observer: nil) { pubs, _ in
            if !pubs.isEmpty { publications(pubs) }
        }
    }

    /// Recovers from `journal` as above, with `observer` beside the ledger; `batchDurable` gets each
    /// durable batch's publications with the observer's annotation of that batch.
    public convenience init<Observer: StockObserver>(
        journal: any Journal, configuration: StockConfiguration = StockConfiguration(), observer: Observer,
        batchDurable: @escaping @Sendable (DurableBatch<Observer.Annotation>) -> Void
    ) throws {
        try self.init(journal: journal, configuration: configuration, observer: observer) { publications, annotation in
            batchDurable(DurableBatch(publications: publications, annotation: annotation.map { $0 as! Observer.Annotation }))
        }
    }

    private init(
        journal: any Journal, configuration: StockConfiguration, observer: (any StockObserver)?,
        release: @escaping @Sendable ([StockPublication], (any Sendable)?) -> Void
    ) throws {
        self.configuration = configuration
        self.journal = journal
        self.release = release
        self.observer = observer
        var recovered: StockLedger? = nil
        let last = try journal.recover(
            snapshot: { bytes in
                recovered = try StockLedger.decodeSnapshot(bytes, retention: configuration.retention)
                if let observer {
                    recovered!.recordsChanges = true
                    observer.restore(from: recovered!.snapshotExtension, ledger: recovered!)
                }
            },
            record: { payload in
                guard recovered != nil else {
                    throw JournalError.corrupt(path: "journal", offset: 0, reason: "records without a snapshot")
                }
                let record = try CommandRecord.decode(payload: payload)
                _ = recovered!.apply(record)
                if let observer {
                    let changes = recovered!.takeChanges()
                    _ = observer.observe(changes, ledger: recovered!, time: recovered!.time, isReplay: true)
                }
            })
        if var ledger = recovered {
            _ = ledger.takeChangedSkus()
            precondition(last == nil || last == ledger.rev)
            self.ledger = ledger
            nextSnapshotRev = ledger.rev + Self.snapshotSpacing(every: configuration.snapshotEvery, orders: ledger.orderCount)
        } else {
            var seed: UInt64 = 0
            while seed == 0 { seed = UInt64.random(in: .min ... .max) }
            ledger = StockLedger(
                keySeed: seed, retention: configuration.retention, expectedOrders: configuration.expectedOrders,
                time: configuration.clock == .live ? Self.wallClock() : 0)
            if let observer {
                ledger.recordsChanges = true
                observer.restore(from: SnapshotExtension(), ledger: ledger)
                ledger.snapshotExtension = observer.snapshotExtension()
            }
            try journal.writeSnapshot(ledger.encodeSnapshot(), rev: 0)
            nextSnapshotRev = UInt64(max(1, configuration.snapshotEvery))
        }
        committed.store(ledger.rev, ordering: .releasing)
        keySeed = ledger.keySeed
        if let violation = ledger.invariantViolation() {
            throw JournalError.corrupt(path: "journal", offset: 0, reason: "recovered state breaks an invariant: \(violation)")
        }
    }

    /// The current wall-clock time, nanoseconds since the Unix epoch.
    static func wallClock() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// Monotonic nanoseconds, for the statistics.
    static func monotonicClock() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    // MARK: Public interface

    /// The rev of the last durable batch.
    public var committedRev: UInt64 { committed.load(ordering: .acquiring) }

    /// Whether the core still accepts commands (false after a journal failure or ``stop()``).
    public var isAvailable: Bool {
        !hasFailed.load(ordering: .acquiring) && !isStorageDown.load(ordering: .acquiring) && !isStopping.load(ordering: .acquiring)
    }

    /// Why ``isAvailable`` is false, for `/readyz` and the logs: the storage error and since when,
    /// and whether the core comes back by itself.
    public var unavailableReason: String? {
        if isStopping.load(ordering: .acquiring) { return "the stock core is stopping" }
        guard let (reason, since) = downReason.withLock({ $0 }) else { return nil }
        let seconds = max(0, (Self.wallClock() - since) / 1_000_000_000)
        if hasFailed.load(ordering: .acquiring) {
            return "\(reason) (for \(seconds) s); the core refuses commands until it is restarted"
        }
        return "\(reason) (for \(seconds) s); commands are refused and retried every second: it comes back by itself"
    }

    /// Counters of committed batches.
    public var statistics: StockEngineStatistics { stats.withLock { $0 } }

    /// Queues `command`; `completion` is called once, on the release thread, with its durable result.
    ///
    /// Callable from any thread; takes one inbox shard's lock briefly and makes at most one wake-up
    /// system call. Commands submitted before ``start()`` wait for it. Commands submitted from one
    /// thread are applied in submission order.
    /// - Parameters:
    ///   - command: The command.
    ///   - wakesWriter: Whether to wake the writer now. An event loop that reads several commands in
    ///     one turn passes `false` and calls ``wakeWriter()`` once it has submitted them all, so that
    ///     they share a durable batch: on one CPU the woken writer would otherwise preempt the loop
    ///     and write the first command alone.
    ///   - completion: Receives the result; must not block (it runs on the release thread).
    /// - Returns: Whether the command was queued; if not, `completion` is never called.
    @discardableResult
    public func submit(
        _ command: StockCommand, wakesWriter: Bool = true, completion: @escaping @Sendable (StockResult) -> Void
    ) -> SubmitStatus {
        if hasFailed.load(ordering: .relaxed) || isStorageDown.load(ordering: .relaxed) { return .unavailable }
        if pending.wrappingAdd(1, ordering: .relaxed).newValue > configuration.inboxCapacity {
            pending.wrappingSubtract(1, ordering: .relaxed)
            return .busy
        }
        var entry = Entry(command: command, completion: completion)
        if case .order(let event) = command {
            entry.key = OrderKey(channel: event.channel, orderId: event.orderId, seed: keySeed)
        }
        let shard = shards[Self.shardIndex()]
        let isOpen = shard.state.withLock { state -> Bool in
            if state.isClosed { return false }
            state.entries.append(entry)
            return true
        }
        guard isOpen else {
            pending.wrappingSubtract(1, ordering: .relaxed)
            return .unavailable
        }
        if wakesWriter { wakeWriterIfSleeping() }
        return .accepted
    }

    /// Wakes the writer for commands submitted with `wakesWriter: false`. Two atomic loads when
    /// nothing waits or the writer is awake; call it from the thread that submitted them.
    public func wakeWriter() {
        guard pending.load(ordering: .relaxed) > 0 else { return }
        wakeWriterIfSleeping()
    }

    @inline(__always)
    private func wakeWriterIfSleeping() {
        if isWriterSleeping.load(ordering: .sequentiallyConsistent),
            isWriterSleeping.exchange(false, ordering: .sequentiallyConsistent)
        {
            wakeup.signal()
        }
    }

    /// The inbox shard of the calling thread.
    @inline(__always)
    private static func shardIndex() -> Int {
        let thread = UInt64(pthread_self())
        return Int(truncatingIfNeeded: (thread &* 0x9E37_79B9_7F4A_7C15) >> 61) & (shardCount - 1)
    }

    /// Starts the writer, sync and release threads. Call once.
    public func start() {
        precondition(!isStarted.exchange(true, ordering: .acquiringAndReleasing), "StockEngine.start() called twice")
        let thread = Thread { [self] in self.run() }
        thread.name = "stock-core"
        thread.start()
        let syncer = Thread { [self] in self.runSyncer() }
        syncer.name = "stock-sync"
        syncer.start()
        let releaser = Thread { [self] in self.runReleaser() }
        releaser.name = "stock-release"
        releaser.start()
    }

    /// Stops accepting commands, lets the writer finish what is queued, waits for it to exit, and
    /// closes the journal. Idempotent.
    public func stop() {
        for shard in shards { shard.state.withLock { $0.isClosed = true } }
        isStopping.store(true, ordering: .sequentiallyConsistent)
        if isWriterSleeping.exchange(false, ordering: .sequentiallyConsistent) { wakeup.signal() }
        if isStarted.exchange(false, ordering: .acquiringAndReleasing) {
            finished.wait()
        }
        journal.close()
    }

    /// Runs `body` with the state; only while the writer thread is not running (before ``start()``
    /// or after ``stop()``), e.g. to inspect a recovered state.
    public func withLedger<Result>(_ body: (StockLedger) throws -> Result) rethrows -> Result {
        precondition(!isStarted.load(ordering: .acquiring), "the ledger belongs to the writer thread while it runs")
        return try body(ledger)
    }

    // MARK: The writer thread

    /// The writer thread's loop.
    private func run() {
        var segments: [[Entry]] = []
        var spares: [[Entry]] = []
        var encoder = ByteWriter(capacity: 1 << 20)
        while true {
            if spares.count < Self.shardCount {
                spares.append(contentsOf: recycled.withLock { recycled in
                    let taken = recycled
                    recycled.removeAll()
                    return taken
                })
            }
            guard takeBatch(into: &segments, spares: &spares) else { break }
            process(segments, encoder: &encoder)
            segments = []
        }
        toSyncer.finish()
        releaserFinished.wait()
        finished.signal()
    }

    /// Moves the waiting entries of every shard into `segments`, one array per non-empty shard
    /// (swapped out, never copied; the shard gets an empty array from `spares`).
    /// - Returns: Whether it took any.
    private func drain(into segments: inout [[Entry]], spares: inout [[Entry]]) -> Bool {
        var taken = 0
        for shard in shards {
            shard.state.withLock { state in
                if state.entries.isEmpty { return }
                var fresh = spares.popLast() ?? []
                swap(&state.entries, &fresh)
                taken += fresh.count
                segments.append(fresh)
            }
        }
        if taken == 0 { return false }
        pending.wrappingSubtract(taken, ordering: .relaxed)
        return true
    }

    /// Moves every waiting entry into `segments`, sleeping while there is none; in live mode wakes
    /// up by itself to run reservation expiries.
    /// - Returns: False once stopping and the inbox is empty.
    private func takeBatch(into segments: inout [[Entry]], spares: inout [[Entry]]) -> Bool {
        while true {
            if drain(into: &segments, spares: &spares) { return true }
            if isStopping.load(ordering: .sequentiallyConsistent) {
                // Every shard was closed before `isStopping` was set: this pass sees the last entries.
                return drain(into: &segments, spares: &spares)
            }
            isWriterSleeping.store(true, ordering: .sequentiallyConsistent)
            if drain(into: &segments, spares: &spares) || isStopping.load(ordering: .sequentiallyConsistent) {
                // A submitter that saw the flag will signal once: consume that signal.
                if !isWriterSleeping.exchange(false, ordering: .sequentiallyConsistent) { wakeup.wait() }
                if segments.isEmpty { continue }
                return true
            }
            if isStorageDown.load(ordering: .relaxed) {
                // Nothing is accepted while the journal cannot take a batch: look again every second.
                if wakeup.wait(timeout: .now() + .seconds(1)) == .timedOut {
                    if !isWriterSleeping.exchange(false, ordering: .sequentiallyConsistent) { wakeup.wait() }
                    probeStorage()
                }
            } else if configuration.clock == .live, ledger.nextExpiryAt != Int64.max || observer != nil {
                let wanted = min(ledger.nextExpiryAt, observer?.nextTickAt ?? .max)
                let wait = max(0, min(wanted - Self.wallClock(), 1_000_000_000))
                if wakeup.wait(timeout: .now() + .nanoseconds(Int(wait) + 1_000_000)) == .timedOut {
                    if !isWriterSleeping.exchange(false, ordering: .sequentiallyConsistent) { wakeup.wait() }
                    // Expiries fall due; or the observer (alert engine) has not seen time move for a
                    // second: a journaled tick, so a replay sees time move at the same moments.
                    let now = Self.wallClock()
                    if ledger.nextExpiryAt <= now || (observer?.nextTickAt ?? .max) <= now
                        || (observer != nil && now - lastObservedAt >= 1_000_000_000)
                    {
                        segments.append([Entry(command: .tick(to: 0), completion: { _ in })])
                        return true
                    }
                }
            } else {
                wakeup.wait()
            }
        }
    }

    /// Calls every entry's completion with `result(index)`, in order.
    @inline(__always)
    private func complete(_ segments: [[Entry]], _ result: (Int) -> StockResult) {
        var index = 0
        for segment in segments {
            for position in segment.indices {
                segment[position].completion(result(index))
                index += 1
            }
        }
    }

    /// Applies and writes one batch (the segments in order), then hands it to the sync thread.
    private func process(_ segments: [[Entry]], encoder: inout ByteWriter) {
        let waitStart = Self.monotonicClock()
        pipelineSlots.wait()
        let start = Self.monotonicClock()
        defer {
            let end = Self.monotonicClock()
            stats.withLock { stats in
                stats.writerWaitNanoseconds += start - waitStart
                stats.writerBusyNanoseconds += end - start
            }
        }
        let count = segments.reduce(0) { $0 + $1.count }
        var results: [StockResult] = []
        results.reserveCapacity(count)
        encoder.removeAll()
        if hasFailed.load(ordering: .relaxed) {
            handOff(PendingBatch(segments: segments, results: [], publications: [], rev: 0, recordCount: 0, isFailed: true))
            return
        }
        // Room for the batch first: if the journal cannot take it, nothing is applied and every
        // command is answered `unavailable` (the ledger never holds what the disk does not).
        let bound = segments.reduce(0) { sum, segment in segment.reduce(sum) { $0 + Self.journalBound(of: $1.command) } }
        do {
            try journal.reserve(bytes: bound)
        } catch {
            storageFailed(error)
            handOff(PendingBatch(segments: segments, results: [], publications: [], rev: 0, recordCount: 0, isFailed: true))
            return
        }
        if isStorageDown.load(ordering: .relaxed) { storageRecovered() }
        let external = configuration.clock == .external
        let now = external ? ledger.time : Self.wallClock()
        keys.removeAll(keepingCapacity: true)
        for segment in segments {
            for position in segment.indices { keys.append(segment[position].key) }
        }
        let recordCount = ledger.applyBatch(
            segments.lazy.joined().map(\.command), time: now, externalClock: external, keys: &keys,
            journal: &encoder, encodes: true, results: &results, keysArePrepared: true)
        var isFailed = false
        if recordCount > 0 {
            do {
                try encoder.bytes.withUnsafeBytes { try journal.write($0, recordCount: recordCount) }
            } catch {
                fail(because: "journal write failed", error)
                isFailed = true
            }
        }
        let changed = ledger.takeChangedSkus()
        let publications = changed.map { ledger.publication(ofIndex: Int($0)) }
        var annotation: (any Sendable)? = nil
        if let observer {
            annotation = observer.observe(ledger.takeChanges(), ledger: ledger, time: ledger.time, isReplay: false)
            lastObservedAt = ledger.time
        }
        handOff(
            PendingBatch(
                segments: segments, results: results, publications: publications, rev: ledger.rev,
                recordCount: recordCount, isFailed: isFailed, annotation: annotation))
        if !isFailed, ledger.rev >= nextSnapshotRev {
            if let observer { ledger.snapshotExtension = observer.snapshotExtension() }
            do {
                try journal.writeSnapshot(ledger.encodeSnapshot(), rev: ledger.rev)
                nextSnapshotRev = ledger.rev + Self.snapshotSpacing(every: configuration.snapshotEvery, orders: ledger.orderCount)
            } catch {
                configuration.log("snapshot at rev \(ledger.rev) failed (will retry): \(error)")
                nextSnapshotRev = ledger.rev + UInt64(configuration.snapshotEvery)
            }
        }
    }

    /// Records from one snapshot to the next: `snapshotEvery`, or as many as there are orders
    /// remembered when that is more. A snapshot encodes every remembered order, so its cost per
    /// record stays constant as a flash sale fills the order table (every 100,000 records with
    /// 1.5 M orders remembered, half the writer's time went to snapshots), and a replay after a
    /// crash reads at most about as many records as the last snapshot held orders.
    private static func snapshotSpacing(every: Int, orders: Int) -> UInt64 {
        UInt64(max(1, every, orders))
    }

    /// Marks the core failed and logs why (once).
    private func fail(because reason: String, _ error: any Error) {
        if !hasFailed.exchange(true, ordering: .acquiringAndReleasing) {
            downReason.withLock { $0 = ("\(reason): \(error)", Self.wallClock()) }
            configuration.log("\(reason), the stock core stops acknowledging and answers `unavailable` until it is restarted: \(error)")
        }
    }

    /// The most bytes `command` can add to the journal (0 for a read).
    @inline(__always)
    static func journalBound(of command: StockCommand) -> Int {
        // Fixed fields take well under 512 bytes; a string may grow up to 3× when a clipped
        // one is decoded with replacement characters.
        switch command {
        case .order: StockLedger.orderRecordSize
        case .readSkus, .readOrder: 0
        case .createSku(let sku, _, let policy), .setPolicy(let sku, let policy):
            512 + 3 * (sku.utf8.count + (policy.substitute?.utf8.count ?? 0))
        case .restock(let sku, _, let text), .adjust(let sku, _, let text), .setNote(let sku, let text):
            512 + 3 * (sku.utf8.count + text.utf8.count)
        case .hold, .release, .pause, .resume, .tick: 512
        }
    }

    /// The journal could not take a batch: refuse commands until it can (writer thread). A journal
    /// closed by an earlier failure (a failed sync) does not come back.
    private func storageFailed(_ error: any Error) {
        if let error = error as? JournalError, error == .closed {
            fail(because: "journal closed", error)
            return
        }
        if !isStorageDown.exchange(true, ordering: .acquiringAndReleasing) {
            downReason.withLock { $0 = ("journal: \(error)", Self.wallClock()) }
            configuration.log("the journal cannot take the next batch, commands are refused with `unavailable` and retried every second: \(error)")
        }
    }

    /// The journal takes batches again (writer thread).
    private func storageRecovered() {
        let since = downReason.withLock { reason -> Int64 in
            defer { reason = nil }
            return reason?.since ?? Self.wallClock()
        }
        isStorageDown.store(false, ordering: .releasing)
        configuration.log("the journal takes batches again after \((Self.wallClock() - since) / 1_000_000_000) s; the stock core accepts commands")
    }

    /// While storage is down: can the journal take a batch of one order again? (writer thread)
    private func probeStorage() {
        do {
            try journal.reserve(bytes: StockLedger.orderRecordSize * 1024)
            storageRecovered()
        } catch {
            storageFailed(error)
        }
    }

    /// Queues a batch for the sync thread.
    private func handOff(_ batch: PendingBatch) { toSyncer.put(batch) }

    /// The sync thread's loop: takes every batch handed off, makes them all durable with one sync,
    /// and hands them on to the release thread, so the next sync can start at once.
    private func runSyncer() {
        while let batches = toSyncer.takeAll() {
            var isDurable = !hasFailed.load(ordering: .acquiring)
            if isDurable, batches.contains(where: { $0.recordCount > 0 && !$0.isFailed }) {
                do {
                    let start = Self.monotonicClock()
                    try journal.sync()
                    let elapsed = Self.monotonicClock() - start
                    stats.withLock { $0.syncNanoseconds += elapsed }
                } catch {
                    fail(because: "journal sync failed", error)
                    isDurable = false
                }
            }
            toReleaser.put((batches, isDurable))
        }
        toReleaser.finish()
    }

    /// The release thread's loop: calls the completions and the publication sink of synced batches,
    /// in order (or answers `unavailable` if their sync failed).
    private func runReleaser() {
        while let groups = toReleaser.takeAll() {
            let start = Self.monotonicClock()
            var emptied: [[Entry]] = []
            for (batches, isDurable) in groups {
                for batch in batches {
                    if batch.isFailed || !isDurable {
                        let rev = committed.load(ordering: .relaxed)
                        complete(batch.segments) { _ in StockResult(outcome: .unavailable, rev: rev) }
                    } else {
                        committed.store(batch.rev, ordering: .releasing)
                        batch.results.withUnsafeBufferPointer { results in complete(batch.segments) { results[$0] } }
                        if !batch.publications.isEmpty || batch.annotation != nil { release(batch.publications, batch.annotation) }
                        if batch.recordCount > 0 {
                            stats.withLock { stats in
                                stats.batches += 1
                                stats.records += batch.recordCount
                                stats.batchSizes[min(23, Int.bitWidth - 1 - batch.recordCount.leadingZeroBitCount)] += 1
                            }
                        }
                    }
                    pipelineSlots.signal()
                    for var segment in batch.segments {
                        segment.removeAll(keepingCapacity: true)
                        emptied.append(segment)
                    }
                }
            }
            recycled.withLock { recycled in
                if recycled.count < 4 * Self.shardCount { recycled.append(contentsOf: emptied) }
            }
            let elapsed = Self.monotonicClock() - start
            stats.withLock { $0.releaseNanoseconds += elapsed }
        }
        releaserFinished.signal()
    }
}

/// A hand-off queue from one of the core's threads to the next (writer → sync → release): a
/// Mutex-protected array and a semaphore the single consumer sleeps on while it is empty.
final class Handoff<Item: Sendable>: Sendable {
    /// The items in order; whether the producer has finished; whether the consumer sleeps.
    private let state = Mutex<(items: [Item], isFinished: Bool, isSleeping: Bool)>(([], false, false))
    /// Wakes the consumer.
    private let wakeup = DispatchSemaphore(value: 0)

    /// Appends `item`, waking the consumer if it sleeps.
    func put(_ item: Item) {
        let mustWake = state.withLock { state -> Bool in
            state.items.append(item)
            defer { state.isSleeping = false }
            return state.isSleeping
        }
        if mustWake { wakeup.signal() }
    }

    /// Tells the consumer that no more items come.
    func finish() {
        let mustWake = state.withLock { state -> Bool in
            state.isFinished = true
            defer { state.isSleeping = false }
            return state.isSleeping
        }
        if mustWake { wakeup.signal() }
    }

    /// Takes every queued item, sleeping while there is none.
    /// - Returns: The items, or nil once the producer has finished and nothing is left.
    func takeAll() -> [Item]? {
        while true {
            let (items, isFinished) = state.withLock { state -> ([Item], Bool) in
                if state.items.isEmpty {
                    if !state.isFinished { state.isSleeping = true }
                    return ([], state.isFinished)
                }
                let taken = state.items
                state.items.removeAll(keepingCapacity: true)
                return (taken, false)
            }
            if !items.isEmpty { return items }
            if isFinished { return nil }
            wakeup.wait()
        }
    }
}
