import Dispatch
import Foundation
import Glibc
import LiveGateCore
import LiveGateSystem
import Synchronization

/// The stock core's journal in a data directory: segment files of framed records, snapshots, and a
/// lock file.
///
/// Layout of `directory`:
/// - `LOCK`: held with `flock(LOCK_EX | LOCK_NB)` while open; a second opener gets
///   ``JournalError/locked(path:)``.
/// - `journal-<startRev, 20 digits>.lgj`: a 64-byte header (magic `LGJRNL\0\u{1}`, format version,
///   header size, first rev, CRC-32C) then records `[length u32][crc32c u32][payload]`, little endian.
///   Each segment is created full size and zero-filled (written once, then overwritten in place), so
///   `fdatasync` has no file-size metadata to write; the end of the records is the first zero length.
/// - `snapshot-<rev, 20 digits>.lgs`: the state after record `rev` (see ``StockLedger``), written to
///   a `.tmp` file, fsynced, renamed, and the directory fsynced.
///
/// Taking a snapshot starts a new segment, then removes older segments and snapshots. Recovery loads
/// the newest snapshot that decodes and replays the records after it; damage in the last segment with
/// no valid record after it is a torn tail and is cut off (zeroed); any other damage stops recovery
/// with ``JournalError/corrupt(path:offset:reason:)`` naming the file and offset.
///
/// Used by one thread at a time (the opener, then the core's writer thread), except ``sync()``,
/// which the core's sync thread calls concurrently with ``write(_:recordCount:)``.
public final class FileJournal: Journal, @unchecked Sendable {
    // @unchecked: every field but `syncTarget` and `hasFailed` is touched only by the thread that
    // owns the journal (the writer); `syncTarget` is a Mutex and `hasFailed` an Atomic, the two
    // things `sync()` reads from the sync thread.
    /// The magic at the start of every segment.
    static let segmentMagic: [UInt8] = Array("LGJRNL".utf8) + [0, 1]
    /// The segment format version.
    static let segmentVersion: UInt32 = 1
    /// The size of a segment header; records start here.
    static let headerSize = 64

    /// The data directory.
    public let directory: String
    /// The size segments are created with.
    public let segmentSize: Int
    /// Whether appends are followed by `fdatasync` (false only for benchmarks: "not durable").
    public let isDurable: Bool
    /// Whether segments are zero-filled to full size when created.
    public let preallocates: Bool

    /// The lock file's descriptor.
    private var lockFD: CInt = -1
    /// The segment being appended to, or -1 (writer thread).
    private var segmentFD: CInt = -1
    /// The descriptor `sync()` syncs: the current segment. Replaced (after syncing the old one, and
    /// before closing it) under this lock, so a sync never sees a closed or reused descriptor. The
    /// lock is held across that `fdatasync` on purpose: it orders the switch with concurrent syncs.
    private let syncTarget = Mutex<(fd: CInt, path: String)>((-1, ""))
    /// Its path.
    private(set) var segmentPath = ""
    /// Its size in bytes (capacity for records).
    private var segmentCapacity = 0
    /// Where the next record goes in it.
    private(set) var appendOffset = 0
    /// The rev of the first record of the current segment.
    private var segmentStartRev: UInt64 = 1
    /// The rev of the last record appended (or recovered).
    public private(set) var lastRev: UInt64 = 0
    /// Set after a failed write or sync: no more writes.
    private let hasFailed = Atomic<Bool>(false)

    /// Opens (creating it if missing) and locks a data directory.
    ///
    /// - Parameters:
    ///   - directory: The data directory.
    ///   - segmentSize: The size of each journal segment, at least 64 KiB.
    ///   - isDurable: Whether to `fdatasync` after each append (false only for benchmarks).
    ///   - preallocates: Whether to zero-fill segments to full size on creation.
    /// - Throws: ``JournalError/locked(path:)`` if another process has it; ``JournalError/io(operation:path:errno:)``.
    public init(directory: String, segmentSize: Int = 64 << 20, isDurable: Bool = true, preallocates: Bool = true) throws {
        self.directory = directory
        self.segmentSize = max(segmentSize, 64 << 10)
        self.isDurable = isDurable
        self.preallocates = preallocates
        try DataDirectory.create(directory)
        let lockPath = directory + "/LOCK"
        let fd = try Self.io(lockPath) { () throws(IOError) in try Syscall.open(lockPath, flags: O_RDWR | O_CREAT) }
        var isLocked = false
        do {
            // A few short retries before "in use": a child process forked by another thread of this process
            // (posix_spawn) holds a copy of a just-closed lock descriptor until it execs, a few milliseconds at
            // most, and the lock lives as long as any copy does. Another gateway on the directory holds it for
            // good and is still refused, 50 ms later.
            for attempt in 0..<10 {
                isLocked = try Self.io(lockPath) { () throws(IOError) in try Syscall.lockExclusively(fd: fd) }
                if isLocked { break }
                if attempt < 9 { usleep(5_000) }
            }
        } catch {
            Syscall.close(fd: fd)
            throw error
        }
        guard isLocked else {
            Syscall.close(fd: fd)
            throw JournalError.locked(path: lockPath)
        }
        lockFD = fd
    }

    deinit { close() }

    /// Closes the segment and releases the lock.
    public func close() {
        syncTarget.withLock { target in target = (-1, "") }
        spare.withLock { $0.isClosed = true }
        // A spare being zero-filled finishes first, so nothing writes into the directory after close.
        spareWork.wait()
        let spareFD = spare.withLock { spare -> CInt in
            defer { spare.fd = -1 }
            return spare.fd
        }
        if spareFD >= 0 {
            Syscall.close(fd: spareFD)
            Syscall.unlink(spareSegmentPath)
        }
        if segmentFD >= 0 { Syscall.close(fd: segmentFD); segmentFD = -1 }
        if lockFD >= 0 { Syscall.close(fd: lockFD); lockFD = -1 }
    }

    // MARK: Names

    /// The file names in the directory with `prefix` and `suffix`, with the number between them.
    private func numberedFiles(prefix: String, suffix: String) -> [(number: UInt64, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name -> (UInt64, String)? in
            guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
            let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
            guard digits.count == 20, let number = UInt64(digits) else { return nil }
            return (number, directory + "/" + name)
        }.sorted { $0.0 < $1.0 }
    }

    /// `prefix` + the 20-digit zero-padded `number` + `suffix`, in the directory.
    private func path(_ prefix: String, _ number: UInt64, _ suffix: String) -> String {
        let digits = String(number)
        return directory + "/" + prefix + String(repeating: "0", count: 20 - digits.count) + digits + suffix
    }

    // MARK: Recovery

    /// Loads the newest valid snapshot and replays the records after it; see ``Journal/recover(snapshot:record:)``.
    public func recover(
        snapshot: (UnsafeRawBufferPointer) throws -> Void, record: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> UInt64? {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasSuffix(".tmp") {
            Syscall.unlink(directory + "/" + name)
        }
        var snapshotRev: UInt64? = nil
        var snapshotErrors: [String] = []
        for (rev, path) in numberedFiles(prefix: "snapshot-", suffix: ".lgs").reversed() {
            let bytes = try Self.io(path) { () throws(IOError) in try Syscall.readFile(path) }
            do {
                try bytes.withUnsafeBytes { try snapshot($0) }
                snapshotRev = rev
                break
            } catch {
                snapshotErrors.append("\(path): \(error)")
            }
        }
        let segments = numberedFiles(prefix: "journal-", suffix: ".lgj")
        if snapshotRev == nil, !snapshotErrors.isEmpty {
            throw JournalError.corrupt(path: directory, offset: 0, reason: "no valid snapshot: " + snapshotErrors.joined(separator: "; "))
        }
        if snapshotRev == nil, segments.isEmpty { return nil }
        var expected = (snapshotRev ?? 0) + 1
        var lastSegment: (path: String, startRev: UInt64, size: Int, end: Int, mustZero: Bool)? = nil
        for (index, segment) in segments.enumerated() {
            if index + 1 < segments.count, segments[index + 1].number <= expected { continue }
            let isLast = index == segments.count - 1
            let bytes = try Self.io(segment.path) { () throws(IOError) in try Syscall.readFile(segment.path) }
            try bytes.withUnsafeBytes { buffer in
                try checkHeader(buffer, path: segment.path, startRev: segment.number)
                if segment.number > expected {
                    throw JournalError.corrupt(
                        path: segment.path, offset: 0, reason: "records \(expected)..<\(segment.number) are missing")
                }
                let (end, stop) = try RecordFraming.scan(buffer, from: Self.headerSize) { payload, offset in
                    let rev = RecordFraming.rev(of: payload)
                    if rev < expected { return }
                    guard rev == expected else {
                        throw JournalError.corrupt(path: segment.path, offset: offset, reason: "record rev \(rev), expected \(expected)")
                    }
                    try record(payload)
                    expected += 1
                }
                var mustZero = false
                if stop == .damaged {
                    if !isLast || RecordFraming.hasValidRecord(after: end, in: buffer) {
                        throw JournalError.corrupt(path: segment.path, offset: end, reason: "bad record length or checksum")
                    }
                    mustZero = true
                }
                if isLast { lastSegment = (segment.path, segment.number, buffer.count, end, mustZero) }
            }
        }
        lastRev = expected - 1
        if let last = lastSegment {
            segmentFD = try Self.io(last.path) { () throws(IOError) in try Syscall.open(last.path, flags: O_RDWR) }
            segmentPath = last.path
            let (fd, path) = (segmentFD, last.path)
            syncTarget.withLock { target in target = (fd, path) }
            segmentStartRev = last.startRev
            segmentCapacity = preallocates ? last.size : Int.max
            appendOffset = last.end
            if preallocates { prepareSpare() }
            if last.mustZero {
                // A torn tail: nothing in it was acknowledged. Zero it so the next append starts clean.
                try zeroFill(segmentFD, from: last.end, to: last.size, path: last.path)
                try sync(segmentFD, path: last.path)
            }
        }
        return lastRev
    }

    /// Checks a segment header.
    private func checkHeader(_ buffer: UnsafeRawBufferPointer, path: String, startRev: UInt64) throws {
        guard buffer.count >= Self.headerSize, Array(buffer[0..<8]) == Self.segmentMagic else {
            throw JournalError.corrupt(path: path, offset: 0, reason: "bad segment header magic")
        }
        var reader = ByteReader(buffer)
        reader.offset = 8
        let version: UInt32 = try reader.read()
        let headerSize: UInt32 = try reader.read()
        let firstRev: UInt64 = try reader.read()
        let crc: UInt32 = try reader.read()
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<24])) == crc else {
            throw JournalError.corrupt(path: path, offset: 0, reason: "segment header checksum mismatch")
        }
        guard version == Self.segmentVersion, Int(headerSize) == Self.headerSize, firstRev == startRev else {
            throw JournalError.corrupt(path: path, offset: 0, reason: "unsupported segment version \(version) or wrong first rev")
        }
    }

    // MARK: Appending

    /// Writes the batch at the end of the current segment with one `pwrite` (starting a new
    /// segment first if it does not fit).
    public func write(_ records: UnsafeRawBufferPointer, recordCount: Int) throws {
        guard !hasFailed.load(ordering: .acquiring) else { throw JournalError.closed }
        do {
            if segmentFD < 0 || appendOffset + records.count > segmentCapacity {
                try startSegment(firstRev: lastRev + 1, minimumSize: records.count)
            }
            try writeAll(segmentFD, records, at: appendOffset, path: segmentPath)
            appendOffset += records.count
            lastRev += UInt64(recordCount)
        } catch {
            hasFailed.store(true, ordering: .releasing)
            throw error
        }
    }

    /// Starts the next segment now if a batch of `bytes` would not fit in the current one; see
    /// ``Journal/reserve(bytes:)``.
    public func reserve(bytes: Int) throws {
        guard !hasFailed.load(ordering: .acquiring) else { throw JournalError.closed }
        guard bytes > 0, segmentFD < 0 || appendOffset + bytes > segmentCapacity else { return }
        try startSegment(firstRev: lastRev + 1, minimumSize: bytes)
    }

    /// `fdatasync`s the current segment (earlier segments were synced when they were left).
    public func sync() throws {
        guard !hasFailed.load(ordering: .acquiring) else { throw JournalError.closed }
        guard isDurable else { return }
        do {
            try syncTarget.withLock { target in
                if target.fd >= 0 { try sync(target.fd, path: target.path) }
            }
        } catch {
            hasFailed.store(true, ordering: .releasing)
            throw error
        }
    }

    /// The bytes the file system of the directory has free for this process, or nil if unknown.
    func availableBytes() -> Int? {
        var status = statvfs()
        guard statvfs(directory, &status) == 0 else { return nil }
        let bytes = UInt64(status.f_bavail) * UInt64(status.f_frsize)
        return Int(clamping: bytes)
    }

    /// The size of the next segment: ``segmentSize``, but never more than a quarter of the free
    /// space (so the journal is never what fills a small disk), and at least what `minimumSize`
    /// needs.
    ///
    /// - Throws: ``JournalError/io(operation:path:errno:)`` with ENOSPC when not even that fits.
    private func nextSegmentCapacity(minimumSize: Int, path: String) throws -> Int {
        let needed = Self.headerSize + minimumSize
        guard preallocates, let available = availableBytes() else { return max(segmentSize, needed) }
        let quarter = (available / 4) & ~4095
        let capacity = max(min(segmentSize, quarter), needed, Self.minimumSegmentSize)
        guard capacity <= available else { throw JournalError.io(operation: "create segment", path: path, errno: ENOSPC) }
        return capacity
    }

    /// The smallest segment created when the disk is short of space.
    static let minimumSegmentSize = 64 << 10

    /// Starts a new segment whose first record will be `firstRev`: zero-filled to full size in a
    /// `.tmp` file, synced, renamed, directory synced.
    ///
    /// If the new file cannot be made (no space, say), it is removed and the journal stays as it
    /// was: the current segment is still the one appended to. Only a failed sync of the segment
    /// being left closes the journal (its records' durability is then unknown).
    private func startSegment(firstRev: UInt64, minimumSize: Int) throws {
        let finalPath = path("journal-", firstRev, ".lgj")
        let temporaryPath = finalPath + ".tmp"
        // A spare segment zero-filled in the background saves the writer that work (and is already
        // paid for when the disk has since filled up).
        let spare = preallocates && Self.headerSize + minimumSize <= segmentSize ? takeSpare() : nil
        let capacity = spare != nil ? segmentSize : try nextSegmentCapacity(minimumSize: minimumSize, path: finalPath)
        let fd: CInt
        if let spare {
            fd = spare
        } else {
            fd = try Self.io(temporaryPath) { () throws(IOError) in
                try Syscall.open(temporaryPath, flags: O_RDWR | O_CREAT | O_TRUNC)
            }
        }
        let source = spare == nil ? temporaryPath : spareSegmentPath
        var header = ByteWriter(capacity: Self.headerSize)
        header.bytes.append(contentsOf: Self.segmentMagic)
        header.write(Self.segmentVersion)
        header.write(UInt32(Self.headerSize))
        header.write(firstRev)
        header.write(header.bytes.withUnsafeBytes { CRC32C.checksum($0) })
        header.bytes.append(contentsOf: [UInt8](repeating: 0, count: Self.headerSize - header.count))
        var isRenamed = false
        do {
            if preallocates, spare == nil { try zeroFill(fd, from: Self.headerSize, to: capacity, path: temporaryPath) }
            try header.bytes.withUnsafeBytes { try writeAll(fd, $0, at: 0, path: temporaryPath) }
            if isDurable { try sync(fd, path: temporaryPath) }
            try Self.io(source) { () throws(IOError) in try Syscall.rename(source, to: finalPath) }
            isRenamed = true
            if isDurable { try syncDirectory() }
        } catch {
            // Nothing points at the new file yet: remove it, so it neither holds the space nor
            // stands in the way of the next start (recovery would also remove a `.tmp`).
            Syscall.close(fd: fd)
            Syscall.unlink(isRenamed ? finalPath : source)
            throw error
        }
        let isDurable = self.isDurable
        let previous = segmentFD
        do {
            try syncTarget.withLock { target in
                // Records written to the segment being left are made durable before it is closed.
                if previous >= 0, isDurable { try sync(previous, path: target.path) }
                target = (fd, finalPath)
            }
        } catch {
            hasFailed.store(true, ordering: .releasing)
            Syscall.close(fd: fd)
            throw error
        }
        if previous >= 0 { Syscall.close(fd: previous) }
        segmentFD = fd
        segmentPath = finalPath
        segmentStartRev = firstRev
        segmentCapacity = preallocates ? capacity : Int.max
        appendOffset = Self.headerSize
        if preallocates { prepareSpare() }
    }

    /// The path of the spare segment (a `.tmp` file, so recovery removes a leftover one).
    private var spareSegmentPath: String { directory + "/spare-segment.tmp" }

    /// The spare segment: its descriptor once ready; whether one is being prepared; whether the
    /// journal was closed (a spare finished after that is discarded).
    private let spare = Mutex<(fd: CInt, isPreparing: Bool, isClosed: Bool)>((-1, false, false))
    /// Entered while a spare is being prepared; ``close()`` waits for it.
    private let spareWork = DispatchGroup()

    /// Starts zero-filling a spare segment on a background queue, unless one is ready or underway.
    private func prepareSpare() {
        // A spare is a convenience: it is made only while it takes at most a quarter of the free space.
        if let available = availableBytes(), available / 4 < segmentSize { return }
        let mustStart = spare.withLock { spare -> Bool in
            if spare.fd >= 0 || spare.isPreparing || spare.isClosed { return false }
            spare.isPreparing = true
            return true
        }
        guard mustStart else { return }
        spareWork.enter()
        let path = spareSegmentPath
        let size = segmentSize
        let isDurable = self.isDurable
        DispatchQueue.global(qos: .utility).async { [self] in
            var fd = (try? Syscall.open(path, flags: O_RDWR | O_CREAT | O_TRUNC)) ?? -1
            if fd >= 0 {
                do {
                    try zeroFill(fd, from: 0, to: size, path: path)
                    if isDurable { try sync(fd, path: path) }
                } catch {
                    Syscall.close(fd: fd)
                    fd = -1
                }
            }
            let ready = fd
            let isClosed = spare.withLock { spare -> Bool in
                spare.isPreparing = false
                if spare.isClosed { return true }
                spare.fd = ready
                return false
            }
            if isClosed, ready >= 0 {
                Syscall.close(fd: ready)
                Syscall.unlink(path)
            }
            spareWork.leave()
        }
    }

    /// Takes the spare segment's descriptor if it is ready.
    private func takeSpare() -> CInt? {
        spare.withLock { spare -> CInt? in
            guard spare.fd >= 0 else { return nil }
            defer { spare.fd = -1 }
            return spare.fd
        }
    }

    /// Writes zeros over `[from, to)`.
    private func zeroFill(_ fd: CInt, from start: Int, to end: Int, path: String) throws {
        let chunk = [UInt8](repeating: 0, count: 1 << 20)
        var offset = start
        try chunk.withUnsafeBytes { zeros in
            while offset < end {
                let count = min(zeros.count, end - offset)
                try writeAll(fd, UnsafeRawBufferPointer(rebasing: zeros[0..<count]), at: offset, path: path)
                offset += count
            }
        }
    }

    /// `pwrite`s all of `bytes` at `offset`, retrying short writes and EINTR.
    private func writeAll(_ fd: CInt, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        try Self.io(path) { () throws(IOError) in try Syscall.pwriteAll(fd: fd, bytes, at: offset) }
    }

    /// `fdatasync`, retrying EINTR.
    private func sync(_ fd: CInt, path: String) throws {
        try Self.io(path) { () throws(IOError) in try Syscall.fdatasync(fd: fd) }
    }

    /// `fsync`s the directory, so renames and removals are durable.
    private func syncDirectory() throws {
        try Self.io(directory) { () throws(IOError) in try Syscall.fsyncDirectory(directory) }
    }

    /// Runs a call through the syscall choke point, naming `path` in the ``JournalError`` a failure becomes.
    private static func io<T>(_ path: String, _ body: () throws(IOError) -> T) throws(JournalError) -> T {
        do {
            return try body()
        } catch {
            throw JournalError.io(operation: error.syscall, path: path, errno: error.errno.rawValue)
        }
    }

    // MARK: Snapshots

    /// Starts a new segment, writes `snapshot-<rev>.lgs` atomically, then removes older segments and
    /// snapshots.
    public func writeSnapshot(_ bytes: [UInt8], rev: UInt64) throws {
        guard !hasFailed.load(ordering: .acquiring) else { throw JournalError.closed }
        precondition(rev == lastRev, "a snapshot must cover every appended record")
        if segmentFD < 0 || appendOffset > Self.headerSize {
            // A failure here leaves the current segment in use (see ``startSegment``): a snapshot
            // that cannot be written never stops the journal.
            try startSegment(firstRev: rev + 1, minimumSize: 0)
        }
        let finalPath = path("snapshot-", rev, ".lgs")
        let isDurable = self.isDurable
        try Self.io(finalPath + ".tmp") { () throws(IOError) in
            try Syscall.replaceFile(finalPath, with: bytes, isDurable: isDurable)
        }
        for segment in numberedFiles(prefix: "journal-", suffix: ".lgj") where segment.number <= rev {
            Syscall.unlink(segment.path)
        }
        for snapshot in numberedFiles(prefix: "snapshot-", suffix: ".lgs") where snapshot.number < rev {
            Syscall.unlink(snapshot.path)
        }
    }
}
