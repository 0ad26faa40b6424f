import LiveGateCore
import LiveGateWebSocket
import Synchronization

/// Compresses room publications once per message for every subscriber that negotiated
/// permessage-deflate: the compressed frame rides on the plain one (``SharedBytes/deflated``)
/// and each connection picks the frame it can read.
///
/// Compression runs only while at least one open connection negotiated the extension, and
/// only for messages of at least `minimumBytes`. Publishers on several threads share one
/// zlib state under a lock (a few microseconds per message, never per subscriber).
final class StreamCompression: @unchecked Sendable {
    // @unchecked: `deflater` (zlib state) is touched only while `lock` is held.

    /// Messages below this size go out uncompressed.
    let minimumBytes: Int
    private let stats: ServerStats
    private let lock = Mutex<Void>(())
    private let deflater = MessageDeflater()

    init(minimumBytes: Int, stats: ServerStats) {
        self.minimumBytes = minimumBytes
        self.stats = stats
    }

    /// The text frame of `payload`, with its compressed form attached when it is worth it.
    ///
    /// - Complexity: O(n); the deflate happens here, once, whatever the number of subscribers.
    func makeTextFrame(payload: UnsafeRawBufferPointer) -> SharedBytes {
        guard payload.count >= minimumBytes, stats.deflateConnections.load(ordering: .relaxed) > 0 else {
            return WebSocketFrameEncoder.makeSharedFrame(opcode: .text, payload: payload)
        }
        stats.messagesDeflated.wrappingAdd(1, ordering: .relaxed)
        return lock.withLock { _ in deflater.makeSharedFrames(opcode: .text, payload: payload) }
    }
}

extension JSONWriter {
    /// The written JSON as a text frame, compressed once next to the plain one when
    /// `compression` is on (see ``StreamCompression``).
    func makeTextFrame(compression: StreamCompression?) -> SharedBytes {
        guard let compression else { return makeTextFrame() }
        return bytes.withUnsafeBytes { compression.makeTextFrame(payload: $0) }
    }
}
