import CZlib
import LiveGateCore

/// Compresses whole messages for permessage-deflate without context takeover (RFC 7692
/// §7.2.1): each message is a fresh raw DEFLATE stream, sync-flushed, with the trailing
/// `00 00 FF FF` removed. Because no message refers to another, one compressed frame is
/// valid for every connection that negotiated the extension.
///
/// Not thread-safe: one owner at a time (a loop, or a lock around it). zlib's state (about
/// 256 KiB for a 15-bit window) is made once and reset between messages.
public final class MessageDeflater {
    private var stream = z_stream()
    private var output: [UInt8] = []
    private let isReady: Bool

    /// Creates a compressor with a 15-bit window.
    ///
    /// - Parameter level: zlib's level, 1 (fastest) to 9; `Z_DEFAULT_COMPRESSION` (6) if unsure.
    public init(level: Int32 = Z_DEFAULT_COMPRESSION) {
        isReady = livegate_deflateInit2(&stream, level, -15, 8) == Z_OK
    }

    deinit {
        if isReady { deflateEnd(&stream) }
    }

    /// Compresses `payload` as one message and lets `body` read the compressed bytes.
    ///
    /// - Returns: what `body` returns, or `nil` when zlib failed (the caller sends it plain).
    /// - Complexity: O(n) in the payload.
    public func withCompressed<R>(_ payload: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        guard isReady else { return nil }
        defer { deflateReset(&stream) }
        let bound = Int(deflateBound(&stream, uLong(payload.count))) + 16
        if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
        var produced = 0
        let ok: Bool = output.withUnsafeMutableBytes { out in
            stream.next_in = UnsafeMutablePointer(mutating: payload.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(payload.count)
            stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(out.count)
            let status = deflate(&stream, Z_SYNC_FLUSH)
            produced = out.count - Int(stream.avail_out)
            // deflateBound covers a sync flush; a full output buffer would mean it did not.
            return (status == Z_OK || status == Z_BUF_ERROR) && stream.avail_in == 0 && stream.avail_out > 0
        }
        guard ok, produced >= 4 else { return nil }
        // The sync flush ends with an empty stored block, 00 00 FF FF, which the receiver adds back.
        let tail = output[(produced - 4)..<produced]
        guard tail.elementsEqual([0x00, 0x00, 0xFF, 0xFF]) else { return nil }
        return output.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<(produced - 4)])) }
    }

    /// A complete compressed frame (RSV1 set) in shared storage, ready for many connections.
    ///
    /// - Returns: the frame, or `nil` when zlib failed.
    /// - Complexity: O(n); one allocation for the frame.
    public func makeSharedFrame(opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) -> SharedBytes? {
        withCompressed(payload) { compressed in
            WebSocketFrameEncoder.makeSharedFrame(opcode: opcode, payload: compressed, isCompressed: true)
        }
    }

    /// The plain frame of `payload` carrying its compressed form (``SharedBytes/deflated``)
    /// when that is smaller, so each connection picks the one it negotiated.
    ///
    /// - Complexity: O(n); two allocations (one when compression does not pay).
    public func makeSharedFrames(opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) -> SharedBytes {
        let deflated = withCompressed(payload) { compressed -> SharedBytes? in
            guard compressed.count < payload.count else { return nil }
            return WebSocketFrameEncoder.makeSharedFrame(opcode: opcode, payload: compressed, isCompressed: true)
        } ?? nil
        return WebSocketFrameEncoder.makeSharedFrame(opcode: opcode, payload: payload, deflated: deflated)
    }
}

/// Inflates permessage-deflate messages in bounded steps, so a message that would inflate
/// past the limit (a zip bomb) is refused after at most `limit` + one step of output, never
/// inflated in full.
///
/// The server asks every client for `client_no_context_takeover`, so each message is its own
/// stream and one inflater serves every connection of a loop (reset per message). Not
/// thread-safe: loop-confined.
public final class MessageInflater {
    private var stream = z_stream()
    private let isReady: Bool
    /// The last message's inflated bytes (valid until the next call).
    private var output: [UInt8] = []
    /// The empty stored block's `00 00 FF FF`, fed after each message.
    private let tail: UnsafeMutablePointer<Bytef>
    /// The bytes the last ``inflate(_:limit:_:)`` produced, a refused one included: at most
    /// its limit + 1 (tests check that a zip bomb is stopped there).
    public private(set) var lastOutputBytes = 0
    /// Bytes inflated per step.
    public static let stepBytes = 16 * 1024

    /// Creates an inflater with a 15-bit window (accepts any client window).
    public init() {
        tail = .allocate(capacity: 4)
        tail.initialize(from: [0x00, 0x00, 0xFF, 0xFF], count: 4)
        isReady = livegate_inflateInit2(&stream, -15) == Z_OK
    }

    deinit {
        if isReady { inflateEnd(&stream) }
        tail.deallocate()
    }

    /// Inflates one message and lets `body` read it.
    ///
    /// - Parameters:
    ///   - compressed: the message's payload as sent (without the `00 00 FF FF` tail).
    ///   - limit: the largest inflated size allowed.
    /// - Throws: `.inflatedMessageTooBig` as soon as the output passes `limit`; `.invalidCompressedData`
    ///   when the bytes are not DEFLATE.
    /// - Complexity: O(min(inflated size, limit)).
    public func inflate(
        _ compressed: UnsafeRawBufferPointer, limit: Int, _ body: (UnsafeRawBufferPointer) -> Void
    ) throws(WebSocketProtocolError) {
        guard isReady else { throw .invalidCompressedData }
        inflateReset(&stream)
        var count = 0
        var isTailFed = false
        defer {
            lastOutputBytes = count
            // Keep a modest buffer for the next message; give back a large one.
            if output.count > 256 * 1024 { output = [] }
        }
        stream.next_in = UnsafeMutablePointer(mutating: compressed.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(compressed.count)
        steps: while true {
            if stream.avail_in == 0 && !isTailFed {
                // The receiver adds back the empty stored block the sender removed (§7.2.2).
                stream.next_in = tail
                stream.avail_in = 4
                isTailFed = true
            }
            // One step past the limit at most: enough to know the limit is passed.
            let step = min(Self.stepBytes, limit + 1 - count)
            if output.count < count + step { output.append(contentsOf: repeatElement(0, count: count + step - output.count)) }
            let status = output.withUnsafeMutableBytes { out in
                stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self) + count
                stream.avail_out = uInt(step)
                let status = CZlib.inflate(&stream, Z_SYNC_FLUSH)
                count += step - Int(stream.avail_out)
                return status
            }
            if count > limit { throw .inflatedMessageTooBig(limit: limit) }
            switch status {
            case Z_STREAM_END:
                break steps
            case Z_OK, Z_BUF_ERROR:
                if stream.avail_out > 0 && stream.avail_in == 0 {
                    if isTailFed { break steps }  // everything consumed and the output drained
                    continue steps
                }
                if status == Z_BUF_ERROR && stream.avail_out > 0 { throw .invalidCompressedData }  // no progress
            default:
                throw .invalidCompressedData
            }
        }
        output.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }
}
