/// Immutable bytes in one heap allocation, shared by reference among many readers.
///
/// A publication is encoded once into a `SharedBytes` (frame header and payload together)
/// and the same object is queued on every subscriber's connection, so fan-out copies
/// nothing per subscriber. The storage never moves, so its address may be handed to
/// `writev` while the object is alive.
public final class SharedBytes: @unchecked Sendable {
    // @unchecked: the storage is written only in `init` and is immutable afterwards.

    /// The first byte.
    public let base: UnsafeRawPointer
    /// The number of bytes.
    public let count: Int
    /// The same message as a compressed frame (permessage-deflate, RSV1 set), made once for
    /// every connection that negotiated it; `nil` when it was not compressed.
    public let deflated: SharedBytes?

    /// Allocates `count` bytes and lets `initialize` fill them, once.
    ///
    /// - Parameter deflated: the compressed form of the same message, kept next to it.
    /// - Complexity: O(count).
    public init(count: Int, deflated: SharedBytes? = nil, initialize: (UnsafeMutableRawBufferPointer) -> Void) {
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 16)
        initialize(UnsafeMutableRawBufferPointer(start: storage, count: count))
        self.base = UnsafeRawPointer(storage)
        self.count = count
        self.deflated = deflated
    }

    /// Copies `bytes` into new shared storage.
    ///
    /// - Complexity: O(n).
    public convenience init<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        self.init(count: bytes.count) { buffer in
            _ = buffer.initializeMemory(as: UInt8.self, from: bytes)
        }
    }

    deinit {
        UnsafeMutableRawPointer(mutating: base).deallocate()
    }

    /// The bytes, as a buffer valid while `self` is alive.
    public var buffer: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: count)
    }

    /// A copy of the bytes as an array (tests and diagnostics).
    public var array: [UInt8] { Array(buffer) }
}
