import Foundation
import Glibc
import LiveGateStock
import Synchronization

/// `livegate-bench stock`: the stock core in memory, durable under load, and the disk's own limit.
///
/// For one hot SKU and for 1000 SKUs:
/// - `inmem_cmds_per_s`: the writer thread's work: one thread calling
///   ``StockLedger/execute(batch:keys:time:externalClock:results:)`` on pre-built commands in batches of
///   256 (80 % `placed` of a new order, 20 % `paid` of an earlier one) with their order keys hashed
///   beforehand, as the engine's submitting threads do; no journal. (Before #20 this key hashed the
///   keys on the same thread: that figure is `inmem_with_keys_cmds_per_s` now.)
/// - `durable_cmds_per_s`: `--threads` submitting threads, each keeping `--window` orders in flight,
///   through ``StockEngine`` on a data directory under /tmp (a thread that has `--window` orders in
///   flight waits until half are answered, like a pipelined client), counted when the durable result
///   arrives;
///   `p50_ack_us`/`p99_ack_us` from submit to result; the batch-size distribution of that run;
/// - `disk_limit_records_per_s`: the same ``FileJournal`` appending and `fdatasync`-ing raw records of
///   the same size, in batches of the durable run's mean batch size, with no ledger.
/// Then the disk limit at fixed batches of 1, 16 and 256. `--no-fsync` skips every sync: the output
/// then says "NOT DURABLE".
enum StockBench: BenchScenario {
    /// The subcommand name.
    static let name = "stock"
    /// The usage line.
    static let summary = "stock core: in-memory and durable commands/s, ack latency, disk limit  [--json] [--count N] [--no-fsync]"
    /// Listed in the usage text.
    static let isHidden = false

    /// The figures of one SKU layout.
    struct Figures {
        /// `hot` or `skus1000`.
        var label: String
        /// In-memory commands per second.
        /// The writer thread's own work (order keys hashed by the submitters, as in the engine).
        var inMemory: Double = 0
        /// The same with the keys hashed on the one thread too.
        var inMemoryWithKeys: Double = 0
        /// Durable commands per second.
        var durable: Double = 0
        /// Median submit-to-result latency, µs.
        var p50: Double = 0
        /// 99th percentile submit-to-result latency, µs.
        var p99: Double = 0
        /// Journaled commands per durable batch, mean.
        var meanBatch: Double = 0
        /// The batch-size histogram (power-of-two buckets).
        var batchSizes: [Int] = []
        /// The disk's records per second at the mean batch size.
        var diskLimit: Double = 0
        /// Where the writer's time went, as text.
        var timing = ""
    }

    /// Runs the scenario; see the type's documentation.
    static func run(_ options: BenchOptions) throws -> Int32 {
        let count = try options.integer("--count", default: 1_000_000)
        let threads = try options.integer("--threads", default: 4)
        let window = try options.integer("--window", default: 512)
        let seconds = Double(try options.integer("--disk-ms", default: 1_500)) / 1000
        let isDurable = !options.flag("--no-fsync")
        let json = options.flag("--json")
        guard count >= 1_000, threads >= 1, window >= 1 else {
            throw BenchUsageError(description: "--count ≥ 1000, --threads ≥ 1, --window ≥ 1")
        }
        if options.flag("--inmem-only") {
            for skus in [1, 1000] {
                let writer = measureInMemory(count: count * 2, skus: skus, keysFromSubmitters: true)
                let whole = measureInMemory(count: count * 2, skus: skus)
                writeStandardOutput("inmem \(skus) SKU(s): writer \(format(writer)) cmds/s (keys hashed by the submitters), \(format(whole)) cmds/s with the keys hashed too\n")
            }
            return 0
        }
        if options.flag("--durable-only") {
            var figures = Figures(label: "hot")
            try measureDurable(count: count, skus: 1, threads: threads, window: window, isDurable: isDurable, into: &figures)
            writeStandardOutput("durable \(format(figures.durable))/s p50 \(figures.p50) µs p99 \(figures.p99) µs mean batch \(figures.meanBatch) \(figures.timing)\n")
            return 0
        }
        var layouts: [Figures] = []
        for skus in [1, 1000] {
            var figures = Figures(label: skus == 1 ? "hot" : "skus1000")
            figures.inMemory = measureInMemory(count: count * 2, skus: skus, keysFromSubmitters: true)
            figures.inMemoryWithKeys = measureInMemory(count: count * 2, skus: skus)
            try measureDurable(count: count, skus: skus, threads: threads, window: window, isDurable: isDurable, into: &figures)
            figures.diskLimit = try measureDiskLimit(batch: max(1, Int(figures.meanBatch.rounded())), seconds: seconds, isDurable: isDurable)
            layouts.append(figures)
        }
        var fixed: [(Int, Double)] = []
        for batch in [1, 16, 256] {
            fixed.append((batch, try measureDiskLimit(batch: batch, seconds: seconds, isDurable: isDurable)))
        }
        if json {
            writeStandardOutput(jsonReport(layouts, fixed: fixed, isDurable: isDurable, count: count, threads: threads, window: window) + "\n")
        } else {
            writeStandardOutput(table(layouts, fixed: fixed, isDurable: isDurable, count: count, threads: threads, window: window))
        }
        return 0
    }

    // MARK: Measurements

    /// Commands per second applied by one thread to a ledger, no journal. `keysFromSubmitters`:
    /// the order keys are hashed before the clock starts, as the engine's submitting threads do
    /// (the writer thread's own work); otherwise the one thread hashes them too.
    static func measureInMemory(count: Int, skus: Int, keysFromSubmitters: Bool = false) -> Double {
        var ledger = StockLedger(keySeed: 0x5eed, expectedOrders: count)
        let skuIds = (0..<skus).map { "sku-\($0)" }
        for id in skuIds { _ = ledger.execute(.createSku(sku: id, onHand: 1 << 40), time: 0) }
        let commands: [StockCommand] = (0..<count).map { index in
            if index % 5 == 4 {
                return .order(OrderEvent(.paid, sku: skuIds[(index - 3) % skus], channel: "douyin", orderId: "o\(index - 3)"))
            }
            return .order(OrderEvent(.placed, sku: skuIds[index % skus], channel: "douyin", orderId: "o\(index)"))
        }
        var successes = 0
        var results: [StockResult] = []
        results.reserveCapacity(256)
        let seed = ledger.orderKeySeed
        let allKeys: [OrderKey] = keysFromSubmitters ? commands.map { command in
            guard case .order(let event) = command else { return OrderKey(low: 0, high: 0) }
            return OrderKey(channel: event.channel, orderId: event.orderId, seed: seed)
        } : []
        var keys: [OrderKey] = []
        keys.reserveCapacity(256)
        let start = monotonicNanoseconds()
        var index = 0
        while index < count {
            let end = min(count, index + 256)
            if keysFromSubmitters {
                keys.removeAll(keepingCapacity: true)
                keys.append(contentsOf: allKeys[index..<end])
                ledger.execute(batch: commands[index..<end], keys: &keys, time: 1, results: &results)
            } else {
                ledger.execute(batch: commands[index..<end], time: 1, results: &results)
            }
            for result in results where result.outcome.isSuccess { successes += 1 }
            index = end
        }
        let elapsed = Double(monotonicNanoseconds() - start) / 1e9
        precondition(successes == count, "in-memory run: \(successes) of \(count) succeeded")
        return Double(count) / elapsed
    }

    /// A buffer of per-command latencies written by the writer thread, read after the run.
    final class Latencies: @unchecked Sendable {
        // @unchecked: each index is written once by the writer thread before the `done` counter's
        // releasing increment, and read only after the acquiring load sees every command done.
        /// One latency per command, ns.
        let values: UnsafeMutableBufferPointer<UInt64>
        /// Allocates `count` zeroed latencies.
        init(count: Int) { values = .allocate(capacity: count); values.initialize(repeating: 0) }
        deinit { values.deallocate() }
    }

    /// Durable commands per second, ack latency and batch sizes under load from `threads` submitters.
    static func measureDurable(
        count: Int, skus: Int, threads: Int, window: Int, isDurable: Bool, into figures: inout Figures
    ) throws {
        let directory = NSTemporaryDirectory() + "livegate-bench-stock-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = StockConfiguration(clock: .live, snapshotEvery: Int.max, isDurable: isDurable)
        configuration.expectedOrders = count + 1024
        let core = try StockEngine.open(dataDirectory: directory, configuration: configuration)
        core.start()
        let skuIds = (0..<skus).map { "sku-\($0)" }
        let created = DispatchSemaphore(value: 0)
        for id in skuIds {
            core.submit(.createSku(sku: id, onHand: 1 << 40)) { _ in created.signal() }
        }
        for _ in skuIds { created.wait() }
        let before = core.statistics
        let perThread = count / threads
        let total = perThread * threads
        let commands: [[StockCommand]] = (0..<threads).map { thread in
            (0..<perThread).map { index in
                .order(OrderEvent(.placed, sku: skuIds[(thread * perThread + index) % skus], channel: "douyin", orderId: "t\(thread)-\(index)"))
            }
        }
        let latencies = Latencies(count: total)
        let done = Atomic<Int>(0)
        let failures = Atomic<Int>(0)
        let group = DispatchGroup()
        let start = monotonicNanoseconds()
        for thread in 0..<threads {
            let mine = commands[thread]
            group.enter()
            Thread {
                // Flow control like a pipelined client: up to `window` in flight; once full, wait
                // until half of them are answered (one wake-up per window/2 results, not per result).
                let inFlight = Atomic<Int>(0)
                let drained = DispatchSemaphore(value: 0)
                let lowWater = window / 2
                for (index, command) in mine.enumerated() {
                    while inFlight.load(ordering: .acquiring) >= window { drained.wait() }
                    inFlight.add(1, ordering: .relaxed)
                    let slot = thread * perThread + index
                    let submitted = monotonicNanoseconds()
                    while true {
                        let status = core.submit(command) { result in
                            latencies.values[slot] = monotonicNanoseconds() - submitted
                            if result.outcome != .reserved { failures.add(1, ordering: .relaxed) }
                            done.add(1, ordering: .releasing)
                            if inFlight.subtract(1, ordering: .acquiringAndReleasing).newValue == lowWater { drained.signal() }
                        }
                        if status == .accepted { break }
                        precondition(status == .busy, "core unavailable")
                        sched_yield()
                    }
                }
                group.leave()
            }.start()
        }
        group.wait()
        while done.load(ordering: .acquiring) < total { usleep(200) }
        let elapsed = Double(monotonicNanoseconds() - start) / 1e9
        let after = core.statistics
        core.stop()
        precondition(failures.load(ordering: .relaxed) == 0, "durable run: some orders were not reserved")
        var sorted = Array(latencies.values)
        sorted.sort()
        figures.durable = Double(total) / elapsed
        figures.p50 = Double(sorted[total / 2]) / 1000
        figures.p99 = Double(sorted[min(total - 1, total * 99 / 100)]) / 1000
        let batches = after.batches - before.batches
        figures.meanBatch = Double(after.records - before.records) / Double(max(1, batches))
        figures.batchSizes = zip(after.batchSizes, before.batchSizes).map { $0 - $1 }
        let busy = Double(after.writerBusyNanoseconds - before.writerBusyNanoseconds) / 1e9
        let wait = Double(after.writerWaitNanoseconds - before.writerWaitNanoseconds) / 1e9
        let sync = Double(after.syncNanoseconds - before.syncNanoseconds) / 1e9
        let release = Double(after.releaseNanoseconds - before.releaseNanoseconds) / 1e9
        figures.timing = String(
            format: "elapsed %.2f s: writer busy %.2f s, waiting %.2f s; fdatasync %.2f s, releasing results %.2f s",
            elapsed, busy, wait, sync, release)
    }

    /// Records per second that ``FileJournal`` appends and syncs in batches of `batch` raw records of
    /// the size of an order record, for about `seconds`.
    static func measureDiskLimit(batch: Int, seconds: Double, isDurable: Bool) throws -> Double {
        let directory = NSTemporaryDirectory() + "livegate-bench-disk-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = try FileJournal(directory: directory, isDurable: isDurable)
        defer { journal.close() }
        _ = try journal.recover(snapshot: { _ in }, record: { _ in })
        let size = StockLedger.orderRecordSize
        var bytes = [UInt8](repeating: 0, count: batch * size)
        var payload = [UInt8](repeating: 0, count: size - 8)
        for index in 0..<batch {
            for byte in payload.indices { payload[byte] = UInt8(truncatingIfNeeded: index &* 31 &+ byte) }
            let crc = CRC32C.checksum(payload)
            let offset = index * size
            withUnsafeBytes(of: UInt32(size - 8).littleEndian) { bytes.replaceSubrange(offset..<offset + 4, with: $0) }
            withUnsafeBytes(of: crc.littleEndian) { bytes.replaceSubrange(offset + 4..<offset + 8, with: $0) }
            bytes.replaceSubrange(offset + 8..<offset + size, with: payload)
        }
        var records = 0
        let start = monotonicNanoseconds()
        let deadline = start + UInt64(seconds * 1e9)
        var now = start
        repeat {
            try bytes.withUnsafeBytes { try journal.append($0, recordCount: batch) }
            records += batch
            now = monotonicNanoseconds()
        } while now < deadline
        return Double(records) / (Double(now - start) / 1e9)
    }

    // MARK: Reports

    /// The batch-size histogram as "range: count" pairs.
    static func histogram(_ sizes: [Int]) -> [(String, Int)] {
        sizes.enumerated().filter { $0.element > 0 }.map { bucket, count in
            let low = 1 << bucket
            let high = (1 << (bucket + 1)) - 1
            return (low == high ? "\(low)" : "\(low)-\(high)", count)
        }
    }

    /// A number with thousands separators.
    static func format(_ value: Double) -> String {
        let integer = Int(value.rounded())
        var digits = String(integer)
        var index = digits.count - 3
        while index > 0 {
            digits.insert(",", at: digits.index(digits.startIndex, offsetBy: index))
            index -= 3
        }
        return digits
    }

    /// The human-readable table.
    static func table(_ layouts: [Figures], fixed: [(Int, Double)], isDurable: Bool, count: Int, threads: Int, window: Int) -> String {
        var text = "livegate-bench stock: \(count) orders, \(threads) submitting threads × \(window) in flight, \(ProcessInfo.processInfo.activeProcessorCount) CPUs\n"
        text += isDurable
            ? "durable: every batch is written once and fdatasync'ed before its results are released\n\n"
            : "NOT DURABLE (--no-fsync): no fdatasync anywhere, figures are not durable throughput\n\n"
        func pad(_ string: String, _ width: Int) -> String {
            string.count >= width ? string : String(repeating: " ", count: width - string.count) + string
        }
        text += "in memory: the writer thread's work (order keys hashed by the submitters, as the engine does); "
        text += "with keys: one thread hashing them too\n"
        text += "layout       inmem cmds/s  with keys  durable cmds/s  p50 ack µs  p99 ack µs  mean batch  disk limit rec/s  durable/disk\n"
        for figures in layouts {
            text += figures.label.padding(toLength: 9, withPad: " ", startingAt: 0)
            text += pad(format(figures.inMemory), 15) + pad(format(figures.inMemoryWithKeys), 11) + pad(format(figures.durable), 16)
            text += pad(String(format: "%.0f", figures.p50), 12) + pad(String(format: "%.0f", figures.p99), 12)
            text += pad(String(format: "%.1f", figures.meanBatch), 12) + pad(format(figures.diskLimit), 18)
            text += pad(String(format: "%.0f %%", 100 * figures.durable / max(1, figures.diskLimit)), 14) + "\n"
        }
        text += "\ndisk limit at fixed batches (records of \(StockLedger.orderRecordSize) bytes): "
        text += fixed.map { "\($0.0): \(format($0.1))/s" }.joined(separator: ", ") + "\n"
        for figures in layouts {
            text += "batch sizes (\(figures.label)): " + histogram(figures.batchSizes).map { "\($0.0): \($0.1)" }.joined(separator: ", ") + "\n"
        }
        return text
    }

    /// The one-line JSON report.
    static func jsonReport(_ layouts: [Figures], fixed: [(Int, Double)], isDurable: Bool, count: Int, threads: Int, window: Int) -> String {
        func layoutObject(_ figures: Figures) -> [String: Any] {
            [
                "inmem_cmds_per_s": figures.inMemory.rounded(),
                "inmem_with_keys_cmds_per_s": figures.inMemoryWithKeys.rounded(),
                "durable_cmds_per_s": figures.durable.rounded(),
                "disk_limit_records_per_s": figures.diskLimit.rounded(),
                "p50_ack_us": (figures.p50 * 10).rounded() / 10,
                "p99_ack_us": (figures.p99 * 10).rounded() / 10,
                "mean_batch": (figures.meanBatch * 10).rounded() / 10,
                "durable_over_disk": ((figures.durable / max(1, figures.diskLimit)) * 1000).rounded() / 1000,
                "batch_sizes": Dictionary(uniqueKeysWithValues: histogram(figures.batchSizes)),
            ]
        }
        var object: [String: Any] = [
            "durable": isDurable,
            "note": isDurable ? "durable" : "not durable (--no-fsync)",
            "count": count,
            "threads": threads,
            "window": window,
            "record_bytes": StockLedger.orderRecordSize,
            "disk_limit_fixed_batches": Dictionary(uniqueKeysWithValues: fixed.map { (String($0.0), $0.1.rounded()) }),
        ]
        for figures in layouts { object[figures.label] = layoutObject(figures) }
        let hot = layoutObject(layouts[0])
        for key in ["inmem_cmds_per_s", "durable_cmds_per_s", "disk_limit_records_per_s", "p99_ack_us"] { object[key] = hot[key] }
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
