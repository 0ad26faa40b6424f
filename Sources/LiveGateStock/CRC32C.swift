/// The CRC-32C (Castagnoli) checksum, computed slicing-by-8 from eight 256-entry tables.
///
/// Polynomial 0x1EDC6F41 (reflected 0x82F63B78), initial value and final XOR 0xFFFFFFFF, as in
/// RFC 3720 §12.1 and the journals of LevelDB and RocksDB. The check value of `"123456789"` is
/// `0xE3069283`.
public enum CRC32C {
    /// The eight lookup tables, 8 × 256 entries, laid out one after the other.
    static let tables: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for index in 0..<256 {
            var crc = UInt32(index)
            for _ in 0..<8 {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1
            }
            table[index] = crc
        }
        for index in 0..<256 {
            var crc = table[index]
            for slice in 1..<8 {
                crc = table[Int(crc & 0xFF)] ^ (crc >> 8)
                table[slice * 256 + index] = crc
            }
        }
        return table
    }()

    /// Computes the checksum of `bytes`, continuing from `crc` (the value a previous call returned).
    ///
    /// - Parameters:
    ///   - bytes: The bytes to checksum.
    ///   - crc: The checksum of the bytes before these ones; 0 to start.
    /// - Returns: The CRC-32C of everything checksummed so far.
    /// - Complexity: O(n), eight bytes per step.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        var value = ~crc
        guard var pointer = bytes.baseAddress else { return crc }
        var remaining = bytes.count
        tables.withUnsafeBufferPointer { table in
            let t = table.baseAddress!
            while remaining >= 8 {
                let word = UInt64(littleEndian: pointer.loadUnaligned(as: UInt64.self)) ^ UInt64(value)
                value = t[7 * 256 + Int(word & 0xFF)]
                    ^ t[6 * 256 + Int((word >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((word >> 16) & 0xFF)]
                    ^ t[4 * 256 + Int((word >> 24) & 0xFF)]
                    ^ t[3 * 256 + Int((word >> 32) & 0xFF)]
                    ^ t[2 * 256 + Int((word >> 40) & 0xFF)]
                    ^ t[1 * 256 + Int((word >> 48) & 0xFF)]
                    ^ t[Int(word >> 56)]
                pointer += 8
                remaining -= 8
            }
            while remaining > 0 {
                value = t[Int((value ^ UInt32(pointer.load(as: UInt8.self))) & 0xFF)] ^ (value >> 8)
                pointer += 1
                remaining -= 1
            }
        }
        return ~value
    }

    /// Computes the checksum of a byte array.
    ///
    /// - Parameter bytes: The bytes to checksum.
    /// - Returns: Their CRC-32C.
    /// - Complexity: O(n).
    public static func checksum(_ bytes: some Collection<UInt8>) -> UInt32 {
        let array = Array(bytes)
        return array.withUnsafeBytes { checksum($0) }
    }
}
