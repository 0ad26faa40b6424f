/// An append-only little-endian byte encoder over a growable array, used for journal records and
/// snapshots.
///
/// Not thread-safe: owned by the stock core's writer thread (or by one test).
struct ByteWriter {
    /// The bytes written so far.
    var bytes: [UInt8]

    /// Creates an empty writer with room for `capacity` bytes.
    init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The number of bytes written.
    var count: Int { bytes.count }

    /// Forgets the content, keeping the capacity.
    mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// Appends a fixed-width integer in little-endian order.
    @inline(__always)
    mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends a Boolean as one byte.
    mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// Appends raw bytes with a 32-bit length prefix.
    mutating func writeBlob(_ blob: [UInt8]) {
        write(UInt32(blob.count))
        bytes.append(contentsOf: blob)
    }

    /// Appends a string as UTF-8 with a 32-bit length prefix.
    mutating func writeString(_ string: String) {
        write(UInt32(string.utf8.count))
        bytes.append(contentsOf: string.utf8)
    }

    /// Overwrites a 32-bit integer at `offset`, used for length and checksum fields written last.
    mutating func patch(_ value: UInt32, at offset: Int) {
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self) }
    }
}

/// Why decoding a journal record or snapshot failed.
struct DecodingError: Error, CustomStringConvertible {
    /// What was wrong.
    var reason: String
    /// A readable form of the error.
    var description: String { reason }
}

/// A little-endian byte decoder over a borrowed buffer, the mirror of ``ByteWriter``.
struct ByteReader {
    /// The bytes being read; must outlive the reader.
    let buffer: UnsafeRawBufferPointer
    /// The offset of the next byte to read.
    var offset: Int = 0

    /// Creates a reader at the start of `buffer`.
    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    /// The number of bytes left.
    var remaining: Int { buffer.count - offset }

    /// Reads a fixed-width little-endian integer.
    /// - Throws: ``DecodingError`` if the buffer is too short.
    @inline(__always)
    mutating func read<T: FixedWidthInteger>(_ type: T.Type = T.self) throws -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw DecodingError(reason: "truncated at offset \(offset)") }
        let value = buffer.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: value)
    }

    /// Reads a one-byte Boolean.
    /// - Throws: ``DecodingError`` if the buffer is too short.
    mutating func readBool() throws -> Bool { try read(UInt8.self) != 0 }

    /// Reads a length-prefixed blob.
    /// - Throws: ``DecodingError`` if the buffer is too short.
    mutating func readBlob() throws -> [UInt8] {
        let count = Int(try read(UInt32.self))
        guard remaining >= count else { throw DecodingError(reason: "blob of \(count) bytes truncated at \(offset)") }
        let blob = Array(UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + count]))
        offset += count
        return blob
    }

    /// Reads a length-prefixed UTF-8 string.
    /// - Throws: ``DecodingError`` if the buffer is too short or not UTF-8.
    mutating func readString() throws -> String {
        let blob = try readBlob()
        guard let string = String(validating: blob, as: UTF8.self) else {
            throw DecodingError(reason: "invalid UTF-8 before offset \(offset)")
        }
        return string
    }
}
