import Glibc
import LiveGateCore
import LiveGatePOSIX
import LiveGateTLS

/// The bytes waiting to be written to one connection: shared frames and owned responses,
/// flushed with one `writev` per turn for as many as fit.
///
/// Loop-confined, like the connection that owns it. An idle connection's queue owns no
/// memory: the entries' storage is kept between flushes while frames keep coming (no
/// allocation per delivered message) and given back by ``releaseIfIdle()``.
struct OutboundQueue {
    /// A queued chunk and its conflation key: 0 for events (never replaced), else a state key.
    private struct Entry {
        var bytes: SharedBytes
        var key: UInt32
    }

    private var entries: [Entry] = []
    /// Whether anything was queued since the last ``releaseIfIdle()``.
    private var wasUsed = false
    private var head = 0
    /// Bytes of the head entry already written.
    private var headOffset = 0
    /// Bytes queued and not yet written.
    private(set) var byteCount = 0
    /// Bytes from the head offered to a TLS write that has to be retried (OpenSSL may hold
    /// them encrypted already): they are never dropped or changed.
    private var tlsOffered = 0

    var isEmpty: Bool { byteCount == 0 }

    mutating func append(_ bytes: SharedBytes, key: UInt32 = 0) {
        guard bytes.count > 0 else { return }
        entries.append(Entry(bytes: bytes, key: key))
        byteCount += bytes.count
        wasUsed = true
    }

    /// Appends a state frame, first removing a queued, not yet started frame with the same
    /// key (an older value of the same state), so the queue holds only the newest.
    ///
    /// - Returns: whether an older frame was replaced.
    /// - Complexity: O(n) in the queued frames.
    mutating func appendConflating(_ bytes: SharedBytes, key: UInt32) -> Bool {
        var replaced = false
        // The head chunk may be partly written: never touch it.
        var index = head + 1
        while index < entries.count {
            if entries[index].key == key {
                byteCount -= entries[index].bytes.count
                entries.remove(at: index)
                replaced = true
                break
            }
            index += 1
        }
        append(bytes, key: key)
        return replaced
    }

    /// Drops every frame not yet started (the head, if partly written, stays so the stream
    /// stays well-formed), for a connection about to be closed as too slow.
    /// - Parameter keepHead: keep the head chunk even if nothing of it was written yet (TLS:
    ///   OpenSSL may hold it half-encrypted, waiting to retry the same write).
    mutating func dropUnstarted(keepHead: Bool = false) {
        guard !entries.isEmpty, head < entries.count else { return }
        var keep = (headOffset > 0 || keepHead) ? head + 1 : head
        // Keep every entry a pending TLS write covers.
        var covered = headOffset + tlsOffered
        var index = head
        while covered > 0 && index < entries.count {
            covered -= entries[index].bytes.count
            index += 1
            keep = max(keep, index)
        }
        for index in keep..<entries.count { byteCount -= entries[index].bytes.count }
        entries.removeSubrange(keep...)
        if head == entries.count {
            entries.removeAll()
            head = 0
            headOffset = 0
        }
    }

    /// Frames below this size are gathered into the loop's scratch buffer for one contiguous
    /// write; larger ones go out from where they are.
    static let gatherBelow = 2048

    /// Writes as much as the socket takes. Runs of small frames (a turn's stock messages) are
    /// copied into `scratch` (the loop's) and written as one buffer: the kernel's cost of a write
    /// grows with its number of pieces, and a few kilobytes of copying cost less than 32 of them.
    ///
    /// - Returns: `true` when everything was written, `false` when the socket is full.
    /// - Throws: `IOError` when the peer is gone.
    mutating func flush(fd: CInt, scratch: UnsafeMutableRawBufferPointer) throws(IOError) -> Bool {
        let maxVectors = 64
        return try withUnsafeTemporaryAllocation(of: iovec.self, capacity: maxVectors) { vectors throws(IOError) -> Bool in
            while byteCount > 0 {
                var count = 0
                var index = head
                var skip = headOffset
                if head + 1 < entries.count && entries[head].bytes.count - headOffset < min(Self.gatherBelow, scratch.count + 1) {
                    // Gather the run of small frames at the head (a retry after a full socket
                    // gathers again from what is left: the queue only grows at its tail).
                    var filled = 0
                    while index < entries.count {
                        let bytes = entries[index].bytes
                        let size = bytes.count - skip
                        guard size < Self.gatherBelow, size <= scratch.count - filled else { break }
                        (scratch.baseAddress! + filled).copyMemory(from: bytes.base + skip, byteCount: size)
                        filled += size
                        skip = 0
                        index += 1
                    }
                    vectors[0] = iovec(iov_base: scratch.baseAddress!, iov_len: filled)
                    count = 1
                }
                // The rest (a large frame, what did not fit, or all of it) goes from where it is, in the same write.
                while index < entries.count && count < maxVectors {
                    let chunk = entries[index].bytes
                    vectors[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: chunk.base + skip), iov_len: chunk.count - skip)
                    skip = 0
                    count += 1
                    index += 1
                }
                switch try Posix.writev(fd: fd, iovecs: vectors.baseAddress!, count: count) {
                case .wouldBlock:
                    return false
                case .processed(let written):
                    consume(written)
                }
            }
            return true
        }
    }

    /// Writes as much as the TLS session takes. Small frames are gathered into `scratch` (the
    /// loop's, one TLS record's worth) so that a turn's frames go out in full records with
    /// one `SSL_write` and one `write`, not one record per frame.
    ///
    /// - Returns: `true` when everything was written, `false` when TLS must wait for the socket.
    /// - Throws: `TLSFailure` when the session broke.
    mutating func flush(tls: TLSSession, scratch: UnsafeMutableRawBufferPointer) throws(TLSFailure) -> Bool {
        while byteCount > 0 {
            let chunk = entries[head].bytes
            let first = UnsafeRawBufferPointer(start: chunk.base + headOffset, count: chunk.count - headOffset)
            var offer = first
            if first.count < scratch.count && head + 1 < entries.count {
                // Gather from the head up to the scratch size; a retry offers at least what the
                // failed write was given (the same bytes: the queue only grows at its tail).
                var filled = 0
                var index = head
                var skip = headOffset
                while index < entries.count && filled < scratch.count {
                    let bytes = entries[index].bytes
                    let take = min(bytes.count - skip, scratch.count - filled)
                    (scratch.baseAddress! + filled).copyMemory(from: bytes.base + skip, byteCount: take)
                    filled += take
                    skip = 0
                    index += 1
                }
                offer = UnsafeRawBufferPointer(rebasing: scratch[0..<filled])
            }
            let outcome = tls.write(offer)
            switch outcome {
            case .done(let written):
                tlsOffered = 0
                consume(written)
            case .wantsRead, .wantsWrite:
                tlsOffered = max(tlsOffered, offer.count)
                return false
            case .failed(let reason):
                throw TLSFailure(reason: reason)
            }
        }
        return true
    }

    private mutating func consume(_ written: Int) {
        var left = written
        byteCount -= written
        while left > 0 {
            let available = entries[head].bytes.count - headOffset
            if left >= available {
                left -= available
                head += 1
                headOffset = 0
            } else {
                headOffset += left
                left = 0
            }
        }
        if head == entries.count {
            entries.removeAll(keepingCapacity: entries.count <= 16)
            head = 0
        } else if head > 32 && head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }

    /// Gives the entries' storage back when nothing was queued since the last call and
    /// nothing is pending (called on the loop's tick, every 250 ms).
    mutating func releaseIfIdle() {
        if !wasUsed && byteCount == 0 && entries.capacity > 0 {
            entries = []
            head = 0
            headOffset = 0
        }
        wasUsed = false
    }

    /// Whether the queue holds storage (tests).
    var hasStorage: Bool { entries.capacity > 0 }

    /// The frames not yet fully written, in order (tests).
    var contents: [[UInt8]] { entries[head...].map(\.bytes.array) }

    /// Drops everything queued.
    mutating func removeAll() {
        entries.removeAll()
        head = 0
        headOffset = 0
        byteCount = 0
        tlsOffered = 0
    }
}

/// A TLS session that cannot go on.
struct TLSFailure: Error {
    let reason: String
}
