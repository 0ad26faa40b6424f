import Foundation
import LiveGateCore
@testable import LiveGateStock

/// Drives a ``StockLedger`` directly, the way the writer thread does, with an external clock.
struct LedgerHarness {
    /// The ledger.
    var ledger: StockLedger
    /// Every record applied, encoded, as the journal would hold them.
    var journal = ByteWriter()

    /// Creates a harness over an empty ledger with a fixed seed.
    init(retention: Int64 = StockLedger.defaultRetention) {
        ledger = StockLedger(keySeed: 42, retention: retention, expectedOrders: 16)
    }

    /// Runs one command and returns its result.
    @discardableResult
    mutating func run(_ command: StockCommand) -> StockResult {
        guard let record = ledger.makeRecord(command, time: ledger.time, externalClock: true) else {
            return ledger.read(command)
        }
        let (outcome, isDuplicate) = ledger.apply(record)
        record.encode(into: &journal)
        return StockResult(outcome: outcome, rev: record.rev, isDuplicate: isDuplicate)
    }

    /// Runs an order event and returns its outcome.
    @discardableResult
    mutating func order(
        _ kind: OrderEventKind, _ orderId: String, sku: String = "tea", quantity: Int64 = 1, channel: String = "douyin"
    ) -> StockOutcome {
        run(.order(OrderEvent(kind, sku: sku, channel: channel, orderId: orderId, quantity: quantity))).outcome
    }

    /// The state of `sku`.
    func state(_ sku: String = "tea") -> StockPublication { ledger.publication(of: sku)! }
}

/// Collects results delivered on another thread, and lets the test wait for a number of them.
final class ResultCollector: @unchecked Sendable {
    // @unchecked: every field is accessed under `lock`.
    /// Guards the fields.
    private let lock = NSCondition()
    /// The results, in delivery order.
    private var storage: [StockResult] = []

    /// Records one result.
    func add(_ result: StockResult) {
        lock.lock()
        storage.append(result)
        lock.broadcast()
        lock.unlock()
    }

    /// Waits until `count` results arrived (or 30 s passed) and returns them.
    func wait(for count: Int) -> [StockResult] {
        lock.lock()
        defer { lock.unlock() }
        let deadline = Date().addingTimeInterval(30)
        while storage.count < count, lock.wait(until: deadline) {}
        return storage
    }
}

extension StockEngine {
    /// Submits `command` and waits for its durable result.
    @discardableResult
    func run(_ command: StockCommand) -> StockResult {
        let collector = ResultCollector()
        let status = submit(command) { collector.add($0) }
        precondition(status == .accepted, "submit returned \(status)")
        return collector.wait(for: 1)[0]
    }
}
