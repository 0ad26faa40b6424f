import Foundation
import LiveGateCore
import Synchronization
import Testing
@testable import LiveGateStock
import LiveGateTestSupport

/// Collects publications delivered on the writer thread.
final class PublicationCollector: Sendable {
    /// The batches delivered.
    let batches = Mutex<[[StockPublication]]>([])

    /// The sink to give the engine.
    var sink: @Sendable ([StockPublication]) -> Void { { batch in self.batches.withLock { $0.append(batch) } } }
}

/// The running core: inbox, writer thread, group commit, results, publications, failure.
struct EngineTests {
    static let external = StockConfiguration(clock: .external, log: { _ in })

    @Test func resultsAndPublicationsAfterDurableCommit() throws {
        let journal = InMemoryJournal()
        let publications = PublicationCollector()
        let core = try StockEngine(journal: journal, configuration: Self.external, publications: publications.sink)
        core.start()
        #expect(core.run(.createSku(sku: "tea", onHand: 5)).outcome == .ok)
        let placed = core.run(.order(OrderEvent(.placed, sku: "tea", channel: "douyin", orderId: "A", quantity: 2)))
        #expect(placed.outcome == .reserved && placed.rev == 2)
        #expect(journal.lastRev == 2)
        // A re-sent order is answered from the idempotency table: no journal record, no new rev.
        for _ in 0..<100 {
            let duplicate = core.run(.order(OrderEvent(.placed, sku: "tea", channel: "douyin", orderId: "A", quantity: 2)))
            #expect(duplicate.outcome == .reserved && duplicate.isDuplicate && duplicate.rev == 2)
        }
        #expect(journal.lastRev == 2)
        let read = core.run(.readSkus(nil))
        #expect(read.skus.first?.reserved == 2 && read.skus.first?.sellable == 3 && read.rev == 2)
        core.stop()
        let batches = publications.batches.withLock { $0 }
        // One publication per batch that changed the SKU (the duplicate changed nothing).
        #expect(batches.count == 2)
        #expect(batches.last?.first == StockPublication(sku: "tea", onHand: 5, reserved: 2, held: 0, sold: 0, sellable: 3, isPaused: false, rev: 2))
        #expect(core.committedRev == 2)
        #expect(core.submit(.tick(to: 1)) { _ in } == .unavailable)
    }

    @Test func restartRecoversTheSameStateFromSnapshotAndJournal() throws {
        let journal = InMemoryJournal()
        var configuration = Self.external
        configuration.snapshotEvery = 7
        let core = try StockEngine(journal: journal, configuration: configuration)
        core.start()
        core.run(.createSku(sku: "tea", onHand: 100))
        for index in 0..<20 {
            core.run(.order(OrderEvent(.placed, sku: "tea", channel: "douyin", orderId: "o\(index)")))
        }
        core.run(.order(OrderEvent(.paid, sku: "tea", channel: "douyin", orderId: "o3")))
        core.stop()
        // Snapshots are spaced by at least as many records as orders remembered: at rev 7 (6 orders
        // remembered, so the next 7 records on), at rev 14 (13 orders: the next at 27), not at 21. The
        // restart reads the snapshot and replays the 8 records after it.
        #expect(journal.snapshot?.rev == 14)
        let before = core.withLedger { ($0.allPublications, $0.rev, $0.keySeed) }
        let again = try StockEngine(journal: journal, configuration: configuration)
        again.withLedger { ledger in
            #expect(ledger.allPublications == before.0)
            #expect(ledger.rev == before.1 && ledger.rev == 22)
            #expect(ledger.keySeed == before.2)
        }
        again.start()
        let repeatPaid = again.run(.order(OrderEvent(.paid, sku: "tea", channel: "douyin", orderId: "o3")))
        #expect(repeatPaid.outcome == .sold && repeatPaid.isDuplicate)
        again.stop()
    }

    @Test func notesAreJournaledAndSnapshotted() throws {
        let journal = InMemoryJournal()
        var configuration = Self.external
        configuration.snapshotEvery = 3
        let core = try StockEngine(journal: journal, configuration: configuration)
        core.start()
        core.run(.createSku(sku: "tea", onHand: 5))
        #expect(core.run(.setNote(key: "room.a.featured", value: "tea")).outcome == .ok)
        core.run(.setNote(key: "room.b.featured", value: "cup\ttea"))
        core.run(.setNote(key: "room.a.featured", value: ""))  // removes it
        core.run(.setNote(key: "room.c.featured", value: "pot"))
        core.stop()
        // A snapshot was taken at rev 3; the last two notes are replayed from the journal.
        #expect(journal.snapshot?.rev == 3)
        let again = try StockEngine(journal: journal, configuration: configuration)
        again.withLedger { ledger in
            #expect(ledger.notes == ["room.b.featured": "cup\ttea", "room.c.featured": "pot"])
            #expect(ledger.rev == 5)
            #expect(ledger.publication(of: "tea")?.onHand == 5)
        }
    }

    @Test func journalFailureMakesTheCoreUnavailable() throws {
        let journal = InMemoryJournal()
        let messages = Mutex<[String]>([])
        var configuration = Self.external
        configuration.log = { message in messages.withLock { $0.append(message) } }
        let core = try StockEngine(journal: journal, configuration: configuration)
        core.start()
        #expect(core.run(.createSku(sku: "tea", onHand: 5)).outcome == .ok)
        journal.failure = .io(operation: "fdatasync", path: "memory", errno: ENOSPC)
        let failed = core.run(.order(OrderEvent(.placed, sku: "tea", channel: "douyin", orderId: "A")))
        #expect(failed.outcome == .unavailable)
        #expect(!core.isAvailable)
        #expect(core.submit(.readSkus(nil)) { _ in } == .unavailable)
        #expect(messages.withLock { $0.contains { $0.contains("fdatasync") && $0.contains("unavailable") } })
        core.stop()
        // Nothing that was not durable is recovered.
        let again = try StockEngine(journal: journal, configuration: configuration)
        again.withLedger { #expect($0.publication(of: "tea")?.reserved == 0) }
    }

    @Test func syncFailureAnswersUnavailableAndRecoversOnlyWhatWasSynced() throws {
        let journal = InMemoryJournal()
        let core = try StockEngine(journal: journal, configuration: Self.external)
        core.start()
        #expect(core.run(.createSku(sku: "tea", onHand: 5)).outcome == .ok)
        journal.syncFailure = .io(operation: "fdatasync", path: "memory", errno: EIO)
        let result = core.run(.order(OrderEvent(.placed, sku: "tea", channel: "douyin", orderId: "A")))
        #expect(result.outcome == .unavailable)
        #expect(core.submit(.tick(to: 1)) { _ in } == .unavailable)
        core.stop()
        #expect(core.committedRev == 1)
    }

    @Test func fullInboxSaysBusy() throws {
        var configuration = Self.external
        configuration.inboxCapacity = 4
        let core = try StockEngine(journal: InMemoryJournal(), configuration: configuration)
        // Not started: nothing drains the inbox.
        let statuses = (0..<6).map { _ in core.submit(.tick(to: 1)) { _ in } }
        #expect(statuses == [.accepted, .accepted, .accepted, .accepted, .busy, .busy])
        let collector = ResultCollector()
        core.start()
        // The writer drains the inbox; a retry is then accepted.
        var status = SubmitStatus.busy
        for _ in 0..<1_000 where status == .busy {
            status = core.submit(.readSkus(nil)) { collector.add($0) }
            if status == .busy { usleep(1_000) }
        }
        #expect(status == .accepted)
        #expect(collector.wait(for: 1).count == 1)
        core.stop()
    }

    @Test func liveClockStampsMonotonicWallTimeAndExpiresByItself() throws {
        var configuration = StockConfiguration(clock: .live, log: { _ in })
        configuration.snapshotEvery = 1_000
        let core = try StockEngine(journal: InMemoryJournal(), configuration: configuration)
        core.start()
        let millisecond: Int64 = 1_000_000
        core.run(.createSku(sku: "tea", onHand: 5, policy: SkuPolicy(reservationTimeout: 50 * millisecond)))
        core.run(.order(OrderEvent(.placed, sku: "tea", channel: "douyin", orderId: "A", quantity: 2)))
        // No command arrives; the writer wakes up for the expiry by itself.
        let deadline = Date().addingTimeInterval(5)
        var reserved: Int64 = -1
        while Date() < deadline {
            reserved = core.run(.readSkus(["tea"])).skus[0].reserved
            if reserved == 0 { break }
            usleep(20_000)
        }
        #expect(reserved == 0)
        core.stop()
        core.withLedger { ledger in
            let now = StockEngine.wallClock()
            #expect(ledger.time <= now && ledger.time > now - 60_000_000_000)
            #expect(ledger.order(channel: "douyin", orderId: "A")?.state == .expired)
        }
    }

    /// Four threads submit 100,000 orders of one unit against 50,000 units: exactly 50,000 succeed.
    @Test func concurrentOrdersNeverOversell() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var configuration = StockConfiguration(clock: .live, log: { _ in })
        configuration.expectedOrders = 120_000
        configuration.segmentSize = 4 << 20
        let core = try StockEngine.open(dataDirectory: directory.path, configuration: configuration)
        core.start()
        #expect(core.run(.createSku(sku: "hot", onHand: 50_000)).outcome == .ok)
        let reserved = Atomic<Int>(0)
        let insufficient = Atomic<Int>(0)
        let answered = Atomic<Int>(0)
        let threads = 4
        let perThread = 25_000
        let group = DispatchGroup()
        for thread in 0..<threads {
            group.enter()
            Thread {
                for index in 0..<perThread {
                    let event = OrderEvent(.placed, sku: "hot", channel: "ch\(thread % 2)", orderId: "t\(thread)-\(index)")
                    while true {
                        let status = core.submit(.order(event)) { result in
                            switch result.outcome {
                            case .reserved: reserved.add(1, ordering: .relaxed)
                            case .insufficient: insufficient.add(1, ordering: .relaxed)
                            default: break
                            }
                            answered.add(1, ordering: .releasing)
                        }
                        if status == .accepted { break }
                        usleep(100)
                    }
                }
                group.leave()
            }.start()
        }
        group.wait()
        let deadline = Date().addingTimeInterval(60)
        while answered.load(ordering: .acquiring) < threads * perThread, Date() < deadline { usleep(1_000) }
        let state = core.run(.readSkus(["hot"])).skus[0]
        core.stop()
        #expect(answered.load(ordering: .acquiring) == 100_000)
        #expect(reserved.load(ordering: .relaxed) == 50_000)
        #expect(insufficient.load(ordering: .relaxed) == 50_000)
        #expect(state.reserved == 50_000 && state.sellable == 0)
        // And the same after recovery from the directory.
        let again = try StockEngine.open(dataDirectory: directory.path, configuration: configuration)
        again.withLedger { ledger in
            #expect(ledger.publication(of: "hot")?.reserved == 50_000)
            #expect(ledger.invariantViolation() == nil)
        }
        again.stop()
    }
}
