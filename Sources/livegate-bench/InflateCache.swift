import Glibc
import LiveGateWebSocket

/// Inflates the compressed frames viewers receive (permessage-deflate), once per distinct frame.
///
/// Every viewer of a room stream receives the very same compressed bytes for a message (the
/// server deflates it once), so the load generator inflates each distinct frame once and finds
/// it again by its bytes (a 64-bit FNV-1a hash over words, checked with `memcmp`) for the other viewers:
/// otherwise inflating 10k copies would make the generator, not the server, the limit.
final class InflateCache {
    private let inflater = MessageInflater()
    private static let slots = 1024
    private var hashes = [UInt64](repeating: 0, count: InflateCache.slots)
    private var compressed = [[UInt8]](repeating: [], count: InflateCache.slots)
    private var plain = [[UInt8]](repeating: [], count: InflateCache.slots)
    /// Frames actually inflated (misses).
    private(set) var inflations = 0
    /// Frames that could not be inflated.
    private(set) var failures = 0

    /// Calls `body` with the inflated form of `bytes` (a compressed message's payload).
    ///
    /// - Returns: `false` when the bytes are not valid DEFLATE data.
    func withPlain(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) -> Bool {
        // FNV-1a over 8-byte words (then the tail bytes): cheap enough per delivery.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(bytes.count)
        var index = 0
        while index + 8 <= bytes.count {
            hash = (hash ^ bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* 0x0000_0100_0000_01B3
            index += 8
        }
        while index < bytes.count {
            hash = (hash ^ UInt64(bytes[index])) &* 0x0000_0100_0000_01B3
            index += 1
        }
        let slot = Int(hash % UInt64(Self.slots))
        if bytes.count > 0 && hashes[slot] == hash && compressed[slot].count == bytes.count
            && compressed[slot].withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 })
        {
            plain[slot].withUnsafeBytes { body($0) }
            return true
        }
        var inflated: [UInt8] = []
        do {
            try inflater.inflate(bytes, limit: 16 << 20) { inflated = Array($0) }
        } catch {
            failures += 1
            return false
        }
        inflations += 1
        hashes[slot] = hash
        compressed[slot] = Array(bytes)
        plain[slot] = inflated
        inflated.withUnsafeBytes { body($0) }
        return true
    }
}
