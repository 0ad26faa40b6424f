/// The idempotency key of an order: a keyed 128-bit hash of its sales channel and order id.
///
/// Order ids are unique per sales channel, so (channel, orderId) identifies an order. The core keeps
/// only this 16-byte digest (MurmurHash3 x64-128 of `[len(channel)] channel orderId`, seeded with the
/// data directory's random key seed), never the strings: no string hashing or allocation on the hot
/// path, and a fixed-size entry in the order table. Two distinct orders collide with probability
/// about n²/2¹²⁹ (for 10⁹ remembered orders, about 10⁻²¹); the per-directory seed keeps a platform
/// from choosing ids that collide on purpose.
public struct OrderKey: Hashable, Sendable, CustomStringConvertible {
    /// The low 64 bits of the digest; never zero together with ``high``.
    public var low: UInt64
    /// The high 64 bits of the digest.
    public var high: UInt64

    /// Creates a key from its two halves (as stored in a journal record or snapshot).
    public init(low: UInt64, high: UInt64) {
        self.low = low
        self.high = high
    }

    /// Computes the key of an order.
    ///
    /// - Parameters:
    ///   - channel: The sales channel, at most 255 bytes of UTF-8 (longer channels are cut to 255).
    ///   - orderId: The order id, unique within the channel.
    ///   - seed: The key seed of the data directory.
    /// - Complexity: O(length of channel + orderId).
    public init(channel: String, orderId: String, seed: UInt64) {
        var channel = channel
        var orderId = orderId
        let digest = channel.withUTF8 { channelBytes in
            orderId.withUTF8 { idBytes in
                let channelCount = min(channelBytes.count, 255)
                let total = 1 + channelCount + idBytes.count
                // Zero padding up to a whole 16-byte block lets the hash load its tail as two words.
                let padded = (total + 15) & ~15
                return withUnsafeTemporaryAllocation(byteCount: padded, alignment: 8) { buffer in
                    buffer[0] = UInt8(channelCount)
                    if channelCount > 0 {
                        UnsafeMutableRawBufferPointer(rebasing: buffer[1..<1 + channelCount])
                            .copyMemory(from: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: channelBytes[0..<channelCount])))
                    }
                    if idBytes.count > 0 {
                        UnsafeMutableRawBufferPointer(rebasing: buffer[(1 + channelCount)..<total])
                            .copyMemory(from: UnsafeRawBufferPointer(idBytes))
                    }
                    if padded > total {
                        UnsafeMutableRawBufferPointer(rebasing: buffer[total..<padded]).initializeMemory(as: UInt8.self, repeating: 0)
                    }
                    return OrderKey.murmur3x64x128(UnsafeRawBufferPointer(buffer), length: total, seed: seed)
                }
            }
        }
        low = digest.0 == 0 && digest.1 == 0 ? 1 : digest.0
        high = digest.1
    }

    /// The key as 32 hexadecimal digits.
    public var description: String {
        let hex = String(high, radix: 16) + ":" + String(low, radix: 16)
        return hex
    }

    /// MurmurHash3 x64-128 (Austin Appleby, public domain) of `data` with `seed` in both lanes.
    static func murmur3x64x128(_ data: UnsafeRawBufferPointer, seed: UInt64) -> (UInt64, UInt64) {
        let padded = (data.count + 15) & ~15
        return withUnsafeTemporaryAllocation(byteCount: max(padded, 16), alignment: 8) { buffer in
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            if data.count > 0 { UnsafeMutableRawBufferPointer(rebasing: buffer[0..<data.count]).copyMemory(from: data) }
            return murmur3x64x128(UnsafeRawBufferPointer(buffer), length: data.count, seed: seed)
        }
    }

    /// MurmurHash3 x64-128 of the first `length` bytes of `data`, which is zero-padded to a whole
    /// number of 16-byte blocks (so the tail is loaded as two words, not byte by byte).
    @inline(__always)
    static func murmur3x64x128(_ data: UnsafeRawBufferPointer, length: Int, seed: UInt64) -> (UInt64, UInt64) {
        let c1: UInt64 = 0x87c3_7b91_1142_53d5
        let c2: UInt64 = 0x4cf5_ad43_2745_937f
        var h1 = seed
        var h2 = seed
        let blocks = length / 16
        @inline(__always) func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }
        @inline(__always) func fmix(_ value: UInt64) -> UInt64 {
            var k = value
            k ^= k >> 33
            k &*= 0xff51_afd7_ed55_8ccd
            k ^= k >> 33
            k &*= 0xc4ce_b9fe_1a85_ec53
            k ^= k >> 33
            return k
        }
        for block in 0..<blocks {
            var k1 = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: block * 16, as: UInt64.self))
            var k2 = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: block * 16 + 8, as: UInt64.self))
            k1 &*= c1; k1 = rotl(k1, 31); k1 &*= c2; h1 ^= k1
            h1 = rotl(h1, 27); h1 &+= h2; h1 = h1 &* 5 &+ 0x52dc_e729
            k2 &*= c2; k2 = rotl(k2, 33); k2 &*= c1; h2 ^= k2
            h2 = rotl(h2, 31); h2 &+= h1; h2 = h2 &* 5 &+ 0x3849_5ab5
        }
        let tail = blocks * 16
        let rest = length & 15
        if rest > 0 {
            var k1 = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: tail, as: UInt64.self))
            if rest > 8 {
                var k2 = UInt64(littleEndian: data.loadUnaligned(fromByteOffset: tail + 8, as: UInt64.self))
                k2 &*= c2; k2 = rotl(k2, 33); k2 &*= c1; h2 ^= k2
            }
            k1 &*= c1; k1 = rotl(k1, 31); k1 &*= c2; h1 ^= k1
        }
        h1 ^= UInt64(length)
        h2 ^= UInt64(length)
        h1 &+= h2
        h2 &+= h1
        h1 = fmix(h1)
        h2 = fmix(h2)
        h1 &+= h2
        h2 &+= h1
        return (h1, h2)
    }
}
