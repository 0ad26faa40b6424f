import Foundation
import LiveGateCore
import Testing
@testable import LiveGateStock
import LiveGateTestSupport

/// The data directory: segments, snapshots, the lock, torn tails and corruption.
struct FileJournalTests {
    static let configuration = StockConfiguration(clock: .external, snapshotEvery: 1_000_000, segmentSize: 64 << 10, log: { _ in })

    /// Runs `count` placed orders (after creating SKU "tea") through a core on `directory`.
    static func fill(_ directory: String, orders: Range<Int>, configuration: StockConfiguration = configuration) throws {
        let core = try StockEngine.open(dataDirectory: directory, configuration: configuration)
        core.start()
        _ = core.run(.createSku(sku: "tea", onHand: 1_000_000))
        for index in orders {
            let result = core.run(.order(OrderEvent(.placed, sku: "tea", channel: "douyin", orderId: "o\(index)")))
            precondition(result.outcome == .reserved || result.isDuplicate)
        }
        core.stop()
    }

    /// The files of `prefix` in the directory, sorted.
    static func files(_ directory: String, _ prefix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix(prefix) }.sorted()
            .map { directory + "/" + $0 }
    }

    /// The offset just past the last valid record of a segment.
    static func endOfRecords(_ path: String) -> Int {
        let bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        return bytes.withUnsafeBytes { RecordFraming.scan($0, from: FileJournal.headerSize) { _, _ in }.end }
    }

    /// Overwrites bytes of a file at `offset`.
    static func patch(_ path: String, at offset: Int, with bytes: [UInt8]) {
        let handle = FileHandle(forUpdatingAtPath: path)!
        try! handle.seek(toOffset: UInt64(offset))
        handle.write(Data(bytes))
        try! handle.close()
    }

    @Test func recoversAcrossSegmentsAndSnapshots() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try Self.fill(directory.path, orders: 0..<3_000)
        #expect(Self.files(directory.path, "journal-").count > 1, "64 KiB segments roll")
        let firstSnapshots = Self.files(directory.path, "snapshot-")
        var configuration = Self.configuration
        configuration.snapshotEvery = 1_000
        // Reopened with 3,000 orders remembered, the next snapshot is 3,000 records away (a snapshot
        // is spaced by at least as many records as orders remembered): 3,500 new orders pass it.
        try Self.fill(directory.path, orders: 2_900..<6_500, configuration: configuration)
        // Snapshots removed the segments they cover: one snapshot, a new one, and segments only after it.
        let snapshots = Self.files(directory.path, "snapshot-")
        #expect(snapshots.count == 1)
        #expect(snapshots != firstSnapshots)
        let core = try StockEngine.open(dataDirectory: directory.path, configuration: Self.configuration)
        core.withLedger { ledger in
            #expect(ledger.publication(of: "tea")?.reserved == 6_500)
            #expect(ledger.orderCount == 6_500)
            #expect(ledger.invariantViolation() == nil)
            #expect(ledger.order(channel: "douyin", orderId: "o6499")?.state == .reserved)
        }
        core.stop()
    }

    @Test func aSecondOpenerIsRefused() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let first = try StockEngine.open(dataDirectory: directory.path, configuration: Self.configuration)
        #expect(throws: JournalError.locked(path: directory.path + "/LOCK")) {
            _ = try StockEngine.open(dataDirectory: directory.path, configuration: Self.configuration)
        }
        first.stop()
        let second = try StockEngine.open(dataDirectory: directory.path, configuration: Self.configuration)
        second.stop()
    }

    /// A data directory that cannot be created is refused in words a user can act on, not as
    /// "errno 20" or a raw Foundation error.
    @Test func anUnusableDataDirectoryIsExplained() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.path + "/a-file"
        _ = FileManager.default.createFile(atPath: file, contents: Data())
        do {
            _ = try StockEngine.open(dataDirectory: file + "/data", configuration: Self.configuration)
            Issue.record("opened a data directory under a file")
        } catch let error as JournalError {
            #expect(error == .io(operation: "mkdir", path: file + "/data", errno: ENOTDIR))
            #expect(error.description.contains("not a directory"))
            #expect(!error.description.hasSuffix("errno 20"))
        }
        #expect(JournalError.explain(errno: ENOSPC).hasPrefix("no space left on device"))
        #expect(JournalError.explain(errno: EROFS).hasPrefix("read-only file system"))
        #expect(JournalError.explain(errno: EACCES).hasPrefix("permission denied"))
        // Existing directories are fine; the deepest missing ones are created.
        try DataDirectory.create(directory.path + "/x/y/")
        #expect(FileManager.default.fileExists(atPath: directory.path + "/x/y"))
        try DataDirectory.create(directory.path + "/x")
    }

    @Test func aTornLastRecordIsCutOff() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try Self.fill(directory.path, orders: 0..<100)
        let segment = Self.files(directory.path, "journal-").last!
        let end = Self.endOfRecords(segment)
        // The first 30 bytes of a 61-byte record: its length and checksum promise more than arrived.
        let bytes = [UInt8](FileManager.default.contents(atPath: segment)!)
        Self.patch(segment, at: end, with: Array(bytes[(end - 61)..<(end - 31)]))
        let core = try StockEngine.open(dataDirectory: directory.path, configuration: Self.configuration)
        core.withLedger { #expect($0.publication(of: "tea")?.reserved == 100) }
        core.start()
        #expect(core.run(.order(OrderEvent(.placed, sku: "tea", channel: "douyin", orderId: "after"))).outcome == .reserved)
        core.stop()
        let again = try StockEngine.open(dataDirectory: directory.path, configuration: Self.configuration)
        again.withLedger { #expect($0.publication(of: "tea")?.reserved == 101) }
        again.stop()
    }

    @Test func garbageAfterTheLastRecordIsATornTail() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try Self.fill(directory.path, orders: 0..<10)
        let segment = Self.files(directory.path, "journal-").last!
        // A lost first page with a later page on disk: zeros, then non-zero bytes that are no record.
        Self.patch(segment, at: Self.endOfRecords(segment) + 4096, with: [UInt8](repeating: 0xAB, count: 300))
        let core = try StockEngine.open(dataDirectory: directory.path, configuration: Self.configuration)
        core.withLedger { #expect($0.publication(of: "tea")?.reserved == 10) }
        core.stop()
    }

    @Test func corruptionInTheMiddleStopsStartUpNamingFileAndOffset() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try Self.fill(directory.path, orders: 0..<50)
        let segment = Self.files(directory.path, "journal-").last!
        // Flip one payload byte of the first record (the createSku at offset 64).
        let offset = FileJournal.headerSize
        let bytes = [UInt8](FileManager.default.contents(atPath: segment)!)
        Self.patch(segment, at: offset + 20, with: [bytes[offset + 20] ^ 0x01])
        #expect(throws: JournalError.corrupt(path: segment, offset: offset, reason: "bad record length or checksum")) {
            _ = try StockEngine.open(dataDirectory: directory.path, configuration: Self.configuration)
        }
    }

    @Test func aDamagedNewestSnapshotFallsBackOrFailsLoudly() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try Self.fill(directory.path, orders: 0..<10)
        let snapshot = Self.files(directory.path, "snapshot-").last!
        Self.patch(snapshot, at: 30, with: [0xFF, 0xFF])
        #expect(throws: JournalError.self) {
            _ = try StockEngine.open(dataDirectory: directory.path, configuration: Self.configuration)
        }
    }

    @Test func segmentsArePreallocatedAndZeroFilled() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try Self.fill(directory.path, orders: 0..<10)
        let segment = Self.files(directory.path, "journal-").last!
        let attributes = try FileManager.default.attributesOfItem(atPath: segment)
        #expect((attributes[.size] as? Int) == 64 << 10)
        let bytes = [UInt8](FileManager.default.contents(atPath: segment)!)
        #expect(bytes.withUnsafeBytes { RecordFraming.isZero($0, from: Self.endOfRecords(segment)) })
    }
}

/// Inputs the fuzzers found crashing once (Tests/Fuzz/regressions): refused with an error now.
struct SnapshotFuzzRegressionTests {
    @Test func aSnapshotWhoseLengthDoesNotFitIsRefused() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let data = try Data(contentsOf: root.appendingPathComponent("Fuzz/regressions/snapshot-length-beyond-int"))
        #expect(throws: ByteDecodingError.self) { _ = try data.withUnsafeBytes { try StockLedger.decodeSnapshot($0) } }
        // A checksummed payload claiming four billion SKUs is refused, not allocated.
        var ledger = StockLedger(keySeed: 1)
        _ = ledger.execute(.createSku(sku: "tea", onHand: 1), time: 0)
        var bytes = ledger.encodeSnapshot()
        let skuCountOffset = StockLedger.snapshotHeaderSize + 40
        bytes.replaceSubrange(skuCountOffset..<skuCountOffset + 4, with: [0xff, 0xff, 0xff, 0xff])
        let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[StockLedger.snapshotHeaderSize...])) }
        withUnsafeBytes(of: crc.littleEndian) { bytes.replaceSubrange(20..<24, with: $0) }
        #expect(throws: ByteDecodingError.self) { _ = try bytes.withUnsafeBytes { try StockLedger.decodeSnapshot($0) } }
    }
}
