import Foundation
import Synchronization
import Testing
@testable import LiveGateStock
import LiveGateTestSupport

/// A small real file system (tmpfs) filled up under a running core: nothing acknowledged is
/// lost, nothing is applied that is not journaled, and the core comes back by itself once space
/// is freed. Needs `mount` (root, as CI runs); skipped where it cannot mount.
@Suite(.serialized, .enabled(if: SmallFileSystem.canMount, "needs permission to mount a tmpfs"))
struct DiskFullTests {
    /// Collects the core's log lines.
    final class LogLines: Sendable {
        let lines = Mutex<[String]>([])
        var sink: @Sendable (String) -> Void { { line in self.lines.withLock { $0.append(line) } } }
        func contains(_ text: String) -> Bool { lines.withLock { $0.contains { $0.contains(text) } } }
    }

    /// Submits an order and waits for its result, or returns nil when the core refuses it at once.
    static func place(_ core: StockEngine, _ id: Int) -> StockResult? {
        let collector = ResultCollector()
        let status = core.submit(.order(OrderEvent(.placed, sku: "tea", channel: "douyin", orderId: "o\(id)"))) { collector.add($0) }
        guard status == .accepted else { return nil }
        return collector.wait(for: 1)[0]
    }

    @Test func aFullDiskRefusesOrdersThenComesBackByItself() throws {
        let disk = try SmallFileSystem(megabytes: 2)
        defer { disk.unmount() }
        let log = LogLines()
        // Small segments and a snapshot every 100 records: snapshots fall due while the disk is full.
        let configuration = StockConfiguration(clock: .external, snapshotEvery: 100, segmentSize: 64 << 10, log: log.sink)
        let directory = disk.path + "/data"
        var core = try StockEngine.open(dataDirectory: directory, configuration: configuration)
        core.start()
        #expect(core.run(.createSku(sku: "tea", onHand: 1_000_000)).outcome == .ok)
        var acknowledged = 0
        var next = 0
        for _ in 0..<50 {
            #expect(Self.place(core, next)?.outcome == .reserved)
            acknowledged += 1
            next += 1
        }
        // Fill the disk to the last byte.
        let filler = disk.path + "/filler"
        disk.fill(filler)

        // Orders go on while the current segment has room (a due snapshot that cannot start a new
        // segment fails without closing the journal), then are refused with `unavailable`.
        var refusedAt: Int?
        for _ in 0..<5_000 {
            guard let result = Self.place(core, next) else {
                refusedAt = next
                break
            }
            next += 1
            if result.outcome == .reserved {
                acknowledged += 1
            } else {
                #expect(result.outcome == .unavailable)
            }
        }
        #expect(refusedAt != nil, "the core never refused an order on a full disk")
        #expect(!core.isAvailable)
        #expect(core.unavailableReason?.contains("no space left on device") == true, "\(core.unavailableReason ?? "nil")")
        #expect(log.contains("snapshot at rev"), "a snapshot fell due while the disk was full")
        #expect(!log.contains("journal is closed"))
        #expect(disk.files(in: directory).allSatisfy { !$0.hasSuffix(".tmp") }, "\(disk.files(in: directory))")

        // Space comes back: the core accepts orders again within a few seconds, without a restart.
        try FileManager.default.removeItem(atPath: filler)
        let deadline = Date().addingTimeInterval(10)
        while !core.isAvailable && Date() < deadline { usleep(50_000) }
        #expect(core.isAvailable)
        #expect(core.unavailableReason == nil)
        for _ in 0..<10 {
            #expect(Self.place(core, next)?.outcome == .reserved)
            acknowledged += 1
            next += 1
        }
        core.stop()

        // What the disk holds is exactly what was acknowledged.
        core = try StockEngine.open(dataDirectory: directory, configuration: configuration)
        core.withLedger { ledger in
            let tea = ledger.allPublications.first { $0.sku == "tea" }
            #expect(tea?.reserved == Int64(acknowledged))
            #expect(tea?.sellable == 1_000_000 - Int64(acknowledged))
        }
        core.stop()
    }

    /// The journal never fills a small disk by itself: segments and the spare are sized from the
    /// free space.
    @Test func segmentsAreSizedFromTheFreeSpace() throws {
        let disk = try SmallFileSystem(megabytes: 8)
        defer { disk.unmount() }
        let configuration = StockConfiguration(clock: .external, segmentSize: 64 << 20, log: { _ in })
        let core = try StockEngine.open(dataDirectory: disk.path + "/data", configuration: configuration)
        core.start()
        #expect(core.run(.createSku(sku: "tea", onHand: 10)).outcome == .ok)
        #expect(Self.place(core, 1)?.outcome == .reserved)
        usleep(200_000)  // a spare, if one were made, is zero-filled in the background
        let used = disk.usedBytes()
        #expect(used <= 8 << 20 / 4 + (64 << 10), "journal files take \(used) bytes of 8 MiB")
        core.stop()
    }
}

/// A tmpfs of a few megabytes mounted under /tmp for one test.
struct SmallFileSystem {
    let path: String

    /// Whether this process may mount one (checked once).
    static let canMount: Bool = {
        guard let disk = try? SmallFileSystem(megabytes: 1) else { return false }
        disk.unmount()
        return true
    }()

    init(megabytes: Int) throws {
        path = NSTemporaryDirectory() + "livegate-small-fs-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path]) == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            throw JournalError.io(operation: "mount", path: path, errno: EPERM)
        }
    }

    func unmount() {
        _ = Self.run("/bin/umount", [path])
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes a file until the file system is full.
    func fill(_ file: String) {
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0)
        let chunk = [UInt8](repeating: 1, count: 4096)
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress!, $0.count) }) > 0 {}
        close(fd)
    }

    func files(in directory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    }

    func usedBytes() -> Int {
        var status = statvfs()
        guard statvfs(path, &status) == 0 else { return .max }
        return Int((status.f_blocks - status.f_bfree) * status.f_frsize)
    }

    private static func run(_ tool: String, _ arguments: [String]) -> Int32 {
        // Its standard output is inherited, as before; only its errors are dropped.
        guard let (status, _) = try? ChildProcess.run(tool, arguments, capture: .standardError) else { return -1 }
        return status
    }
}
