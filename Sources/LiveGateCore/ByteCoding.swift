/// An append-only little-endian byte encoder over a growable array: the stock core's journal records and
/// snapshots, the alert engine's state and the SKU policy all write through it.
///
/// Not thread-safe: owned by one thread (the stock core's writer, or one test).
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public var bytes: [UInt8]

    /// Creates an empty writer with room for `capacity` bytes.
    @inlinable
    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The number of bytes written.
    @inlinable
    public var count: Int { bytes.count }

    /// Forgets the content, keeping the capacity.
    @inlinable
    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// Appends a fixed-width integer in little-endian order.
    @inlinable
    public mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends a Double's IEEE 754 bit pattern, so a decode is bit-exact.
    @inlinable
    public mutating func write(_ value: Double) { write(value.bitPattern) }

    /// Appends a Boolean as one byte.
    @inlinable
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// Appends raw bytes with a 32-bit length prefix.
    @inlinable
    public mutating func writeBlob(_ blob: [UInt8]) {
        write(UInt32(blob.count))
        bytes.append(contentsOf: blob)
    }

    /// Appends a string as UTF-8 with a 32-bit length prefix.
    @inlinable
    public mutating func writeString(_ string: String) {
        write(UInt32(string.utf8.count))
        bytes.append(contentsOf: string.utf8)
    }

    /// Overwrites a 32-bit integer at `offset`, used for length and checksum fields written last.
    @inlinable
    public mutating func patch(_ value: UInt32, at offset: Int) {
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self) }
    }
}

/// Why decoding bytes written by a ``ByteWriter`` failed: a journal record, a snapshot, a policy.
public struct ByteDecodingError: Error, Hashable, CustomStringConvertible {
    /// What was wrong.
    public var reason: String
    /// Creates an error saying `reason`.
    @inlinable
    public init(reason: String) { self.reason = reason }
    /// A readable form of the error.
    public var description: String { reason }
}

/// A little-endian byte decoder over a borrowed buffer, the mirror of ``ByteWriter``.
public struct ByteReader {
    /// The bytes being read; must outlive the reader.
    public let buffer: UnsafeRawBufferPointer
    /// The offset of the next byte to read.
    public var offset: Int = 0

    /// Creates a reader at the start of `buffer`.
    @inlinable
    public init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    /// The number of bytes left.
    @inlinable
    public var remaining: Int { buffer.count - offset }

    /// Reads a fixed-width little-endian integer.
    /// - Throws: ``ByteDecodingError`` if the buffer is too short.
    @inlinable
    public mutating func read<T: FixedWidthInteger>(_ type: T.Type = T.self) throws -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw ByteDecodingError(reason: "truncated at offset \(offset)") }
        let value = buffer.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: value)
    }

    /// Reads a Double written as its bit pattern.
    /// - Throws: ``ByteDecodingError`` if the buffer is too short.
    @inlinable
    public mutating func readDouble() throws -> Double { Double(bitPattern: try read(UInt64.self)) }

    /// Reads a one-byte Boolean.
    /// - Throws: ``ByteDecodingError`` if the buffer is too short.
    @inlinable
    public mutating func readBool() throws -> Bool { try read(UInt8.self) != 0 }

    /// Reads a length-prefixed blob.
    /// - Throws: ``ByteDecodingError`` if the buffer is too short.
    @inlinable
    public mutating func readBlob() throws -> [UInt8] {
        let count = Int(try read(UInt32.self))
        guard remaining >= count else { throw ByteDecodingError(reason: "blob of \(count) bytes truncated at \(offset)") }
        let blob = Array(UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + count]))
        offset += count
        return blob
    }

    /// Reads a length-prefixed UTF-8 string.
    /// - Throws: ``ByteDecodingError`` if the buffer is too short or not UTF-8.
    @inlinable
    public mutating func readString() throws -> String {
        let blob = try readBlob()
        guard let string = String(validating: blob, as: UTF8.self) else {
            throw ByteDecodingError(reason: "invalid UTF-8 before offset \(offset)")
        }
        return string
    }
}
