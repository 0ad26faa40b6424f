/// Masking of frame payloads (RFC 6455 §5.3).
public enum WebSocketMasking {
    /// XORs `bytes` in place with the masking key, starting `offset` bytes into the key's
    /// cycle; eight bytes at a time.
    ///
    /// - Parameters:
    ///   - key: the four key bytes, the first in the least significant byte.
    ///   - offset: how many payload bytes of this frame came before `bytes`.
    /// - Complexity: O(n).
    public static func unmask(_ bytes: UnsafeMutableRawBufferPointer, key: UInt32, offset: Int) {
        guard let base = bytes.baseAddress else { return }
        let shift = UInt32((offset & 3) * 8)
        let rotated = shift == 0 ? key : (key >> shift) | (key << (32 - shift))
        let wide = UInt64(rotated) | UInt64(rotated) << 32
        let count = bytes.count
        var index = 0
        while index + 8 <= count {
            let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            base.storeBytes(of: word ^ wide, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < count {
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            base.storeBytes(of: byte ^ UInt8(truncatingIfNeeded: rotated >> UInt32((index & 3) * 8)),
                            toByteOffset: index, as: UInt8.self)
            index += 1
        }
    }
}
