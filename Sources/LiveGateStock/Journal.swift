import Foundation

/// Why a journal could not be opened, read or written.
public enum JournalError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Another process (or another ``FileJournal`` in this one) holds the data directory's lock file.
    case locked(path: String)
    /// A system call failed.
    case io(operation: String, path: String, errno: Int32)
    /// A record or snapshot is damaged where damage cannot be a torn tail; start-up stops here.
    case corrupt(path: String, offset: Int, reason: String)
    /// The journal has failed before and accepts no more writes.
    case closed

    /// A readable form naming the file and offset.
    public var description: String {
        switch self {
        case .locked(let path):
            return "data directory is in use by another process (lock file \(path))"
        case .io(let operation, let path, let errno):
            return "\(operation) failed on \(path): \(Self.explain(errno: errno))"
        case .corrupt(let path, let offset, let reason):
            return "corrupt journal data in \(path) at offset \(offset): \(reason)"
        case .closed:
            return "journal is closed after an earlier failure"
        }
    }

    /// What a failed system call on the data directory means, in words, and what to do about it.
    public static func explain(errno code: Int32) -> String {
        switch code {
        case ENOSPC:
            return "no space left on device (errno \(code)): free space on that file system, or start with --data-dir on another one"
        case EDQUOT:
            return "disk quota exceeded (errno \(code)): raise the quota, or start with --data-dir on another file system"
        case EROFS:
            return "read-only file system (errno \(code)): mount it read-write, or start with --data-dir on a writable one"
        case EACCES, EPERM:
            return "permission denied (errno \(code)): give the user livegate runs as write access to it, or start with --data-dir elsewhere"
        case ENOENT:
            return "no such file or directory (errno \(code)): check the path (--data-dir, or dataDir in the configuration)"
        case ENOTDIR:
            return "a component of the path is not a directory (errno \(code)): check --data-dir"
        case EIO:
            return "input/output error (errno \(code)): the disk reported a failure; check the system log before trusting it"
        default:
            return String(cString: strerror(code)) + " (errno \(code))"
        }
    }

}

/// The durable log of the stock core: snapshots plus the records appended after them.
///
/// A write-ahead log with group commit: the core writes each batch's framed records with one call,
/// syncs, and releases results only after the sync that covers them returned. Two implementations follow the
/// "real + in-memory" pattern: ``FileJournal`` (the data directory) and ``InMemoryJournal`` (tests).
/// A journal is used by one thread at a time (the opener, then the core's writer thread), except
/// ``sync()``, which the core calls from its sync thread while the writer writes the next batch.
public protocol Journal: AnyObject {
    /// Whether a ``sync()`` that returned has put what was written on stable storage (false only for
    /// a benchmark run without fsync).
    var isDurable: Bool { get }

    /// Loads the newest valid snapshot, then every record after it, in order.
    ///
    /// - Parameters:
    ///   - snapshot: Called at most once, first, with the snapshot's bytes; returns nothing, throws
    ///     if the snapshot is invalid (the journal then tries an older one, if any).
    ///   - record: Called with each record's payload after the snapshot, in rev order.
    /// - Returns: The rev of the last record (or of the snapshot), or nil for an empty journal.
    /// - Throws: ``JournalError/corrupt(path:offset:reason:)`` for damage other than a torn tail.
    func recover(
        snapshot: (UnsafeRawBufferPointer) throws -> Void, record: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> UInt64?

    /// Writes one batch of framed records (`[length][crc32c][payload]`, see ``CommandRecord``) with
    /// one write, not yet durable.
    ///
    /// - Parameters:
    ///   - records: The framed records.
    ///   - recordCount: How many records `records` holds.
    /// - Throws: ``JournalError`` if the write failed; the journal then refuses writes.
    func write(_ records: UnsafeRawBufferPointer, recordCount: Int) throws

    /// Makes sure the next ``write(_:recordCount:)`` of at most `bytes` bytes needs no new file
    /// (starting the next segment now if the current one is too full). Called by the writer before
    /// it applies a batch, so that running out of disk refuses the batch instead of failing a
    /// write whose commands are already applied.
    ///
    /// - Throws: ``JournalError/closed`` after a failure that closed the journal; any other
    ///   ``JournalError`` (no space, say) leaves the journal as it was: try again later.
    func reserve(bytes: Int) throws

    /// Makes every batch written so far durable (one `fdatasync`) when ``isDurable``.
    ///
    /// The one method that may run on another thread than the writer, at the same time as
    /// ``write(_:recordCount:)``: the core syncs batch N while it applies and writes batch N+1.
    /// - Throws: ``JournalError`` if the sync failed; the journal then refuses writes.
    func sync() throws

    /// Stores a snapshot of the state after record `rev` and drops what it makes redundant.
    ///
    /// - Throws: ``JournalError`` if it could not be written (the journal stays usable).
    func writeSnapshot(_ bytes: [UInt8], rev: UInt64) throws

    /// Releases the journal's files and lock.
    func close()
}

extension Journal {
    /// Nothing to prepare (a journal without files).
    public func reserve(bytes: Int) throws {}

    /// Writes one batch and makes it durable: ``write(_:recordCount:)`` then ``sync()``.
    /// - Throws: ``JournalError`` if either failed.
    public func append(_ records: UnsafeRawBufferPointer, recordCount: Int) throws {
        try write(records, recordCount: recordCount)
        try sync()
    }
}

/// Parsing of framed records, shared by both journals.
enum RecordFraming {
    /// What ``scan(_:from:body:)`` found where it stopped.
    enum Stop: Equatable {
        /// The buffer ended exactly, or only zero bytes follow.
        case clean
        /// A zero length field followed by non-zero bytes, or a record whose frame or checksum is bad.
        case damaged
    }

    /// Whether a valid record starts at `offset`.
    @inline(__always)
    static func recordLength(at offset: Int, in buffer: UnsafeRawBufferPointer) -> Int? {
        guard buffer.count - offset >= CommandRecord.frameHeaderSize + 17 else { return nil }
        let length = Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        guard length >= 17, length <= CommandRecord.maximumPayloadSize,
            offset + CommandRecord.frameHeaderSize + length <= buffer.count
        else { return nil }
        let crc = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
        let start = offset + CommandRecord.frameHeaderSize
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[start..<start + length])) == crc else { return nil }
        return length
    }

    /// Calls `body` with each valid record's payload from `start` on, and reports where and why it
    /// stopped.
    static func scan(
        _ buffer: UnsafeRawBufferPointer, from start: Int, body: (UnsafeRawBufferPointer, Int) throws -> Void
    ) rethrows -> (end: Int, stop: Stop) {
        var offset = start
        while offset < buffer.count {
            if let length = recordLength(at: offset, in: buffer) {
                let payloadStart = offset + CommandRecord.frameHeaderSize
                try body(UnsafeRawBufferPointer(rebasing: buffer[payloadStart..<payloadStart + length]), offset)
                offset = payloadStart + length
                continue
            }
            return (offset, isZero(buffer, from: offset) ? .clean : .damaged)
        }
        return (offset, .clean)
    }

    /// Whether every byte from `offset` to the end is zero.
    static func isZero(_ buffer: UnsafeRawBufferPointer, from offset: Int) -> Bool {
        var index = offset
        while index + 8 <= buffer.count {
            if buffer.loadUnaligned(fromByteOffset: index, as: UInt64.self) != 0 { return false }
            index += 8
        }
        while index < buffer.count {
            if buffer[index] != 0 { return false }
            index += 1
        }
        return true
    }

    /// Whether any valid record starts after `offset`: damage followed by valid records is
    /// corruption in the middle, damage followed by none is a torn tail.
    static func hasValidRecord(after offset: Int, in buffer: UnsafeRawBufferPointer) -> Bool {
        var index = offset + 1
        while index + CommandRecord.frameHeaderSize < buffer.count {
            if buffer.loadUnaligned(fromByteOffset: index, as: UInt32.self) != 0, recordLength(at: index, in: buffer) != nil {
                return true
            }
            index += 1
        }
        return false
    }

    /// The rev stored in a record payload's first eight bytes.
    @inline(__always)
    static func rev(of payload: UnsafeRawBufferPointer) -> UInt64 {
        UInt64(littleEndian: payload.loadUnaligned(as: UInt64.self))
    }
}

/// A ``Journal`` in memory, for tests: survives a "restart" as long as the object does, and can be
/// told to fail, to exercise the `unavailable` path.
public final class InMemoryJournal: Journal, @unchecked Sendable {
    // @unchecked: `write`, `recover`, `writeSnapshot` run on one thread at a time (the opener, then
    // the writer); `sync` touches only `failure`, which tests set while the core is idle.
    /// The framed records after the snapshot.
    public private(set) var records: [UInt8] = []
    /// The latest snapshot and its rev.
    public private(set) var snapshot: (bytes: [UInt8], rev: UInt64)?
    /// The rev of the last record appended.
    public private(set) var lastRev: UInt64?
    /// The number of appends so far (batches).
    public private(set) var appendCount = 0
    /// When set, the next write and sync throw this error (and every later one: a failed journal
    /// stays failed).
    public var failure: JournalError?
    /// When set, only syncs throw this error: the write "succeeded" but never became durable.
    public var syncFailure: JournalError?

    /// Creates an empty journal.
    public init() {}

    /// Always true: the memory is the "storage".
    public var isDurable: Bool { true }

    /// Replays the snapshot and the records after it.
    public func recover(
        snapshot: (UnsafeRawBufferPointer) throws -> Void, record: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> UInt64? {
        var last: UInt64? = nil
        if let stored = self.snapshot {
            try stored.bytes.withUnsafeBytes { try snapshot($0) }
            last = stored.rev
        }
        try records.withUnsafeBytes { buffer in
            let (end, stop) = try RecordFraming.scan(buffer, from: 0) { payload, _ in
                let rev = RecordFraming.rev(of: payload)
                if let covered = self.snapshot?.rev, rev <= covered { return }
                try record(payload)
                last = rev
            }
            if stop != .clean {
                throw JournalError.corrupt(path: "memory", offset: end, reason: "bad record")
            }
        }
        return last
    }

    /// Throws ``failure`` if set; memory needs no sync.
    public func sync() throws {
        if let failure { throw failure }
        if let syncFailure { throw syncFailure }
    }

    /// Appends the records, or throws ``failure``.
    public func write(_ records: UnsafeRawBufferPointer, recordCount: Int) throws {
        if let failure { throw failure }
        self.records.append(contentsOf: records)
        appendCount += 1
        let (_, _) = RecordFraming.scan(records, from: 0) { payload, _ in lastRev = RecordFraming.rev(of: payload) }
    }

    /// Stores the snapshot and drops the records it covers.
    public func writeSnapshot(_ bytes: [UInt8], rev: UInt64) throws {
        snapshot = (bytes, rev)
        var kept: [UInt8] = []
        records.withUnsafeBytes { buffer in
            _ = RecordFraming.scan(buffer, from: 0) { payload, offset in
                if RecordFraming.rev(of: payload) > rev {
                    kept.append(contentsOf: buffer[offset..<offset + CommandRecord.frameHeaderSize + payload.count])
                }
            }
        }
        records = kept
    }

    /// Does nothing: the content stays for the next recovery.
    public func close() {}
}

/// Creating the data directory, with the exact reason when it cannot be.
public enum DataDirectory {
    /// Creates `path` and any missing parents (like `mkdir -p`).
    ///
    /// - Throws: ``JournalError/io(operation:path:errno:)`` with the `errno` of the first
    ///   component that could not be created (no space, read-only, permission, not a directory).
    public static func create(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += prefix.isEmpty || prefix.hasSuffix("/") ? String(component) : "/" + component
            if mkdir(prefix, 0o755) == 0 { continue }
            let code = errno
            var status = stat()
            if code == EEXIST, stat(prefix, &status) == 0, status.st_mode & S_IFMT == S_IFDIR { continue }
            throw JournalError.io(operation: "mkdir", path: path, errno: code == EEXIST ? ENOTDIR : code)
        }
    }
}
