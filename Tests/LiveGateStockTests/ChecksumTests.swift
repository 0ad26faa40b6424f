import LiveGateCore
import Testing
@testable import LiveGateStock
import LiveGateTestSupport

/// CRC-32C and the order-key hash against published vectors.
struct ChecksumTests {
    /// The standard check value of CRC-32C.
    @Test func crc32cCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    /// RFC 3720 B.4 vectors: 32 zero bytes, 32 0xFF bytes.
    @Test func crc32cRFC3720Vectors() {
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
    }

    /// Checksumming in two pieces, split at every point, equals checksumming at once.
    @Test func crc32cContinuesAcrossEverySplit() {
        var generator = SplitMix64(seed: 7)
        let bytes = (0..<77).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let whole = CRC32C.checksum(bytes)
        for split in 0...bytes.count {
            let first = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<split])) }
            let both = bytes.withUnsafeBytes {
                CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[split...]), continuing: first)
            }
            #expect(both == whole, "split at \(split)")
        }
    }

    /// MurmurHash3 x64-128 of a well-known sentence with seed 0.
    @Test func murmurVector() {
        let bytes = Array("The quick brown fox jumps over the lazy dog".utf8)
        let (h1, h2) = bytes.withUnsafeBytes { OrderKey.murmur3x64x128($0, seed: 0) }
        #expect(h1 == 0xe34b_bc7b_bc07_1b6c)
        #expect(h2 == 0x7a43_3ca9_c49a_9347)
        let empty = [UInt8]().withUnsafeBytes { OrderKey.murmur3x64x128($0, seed: 0) }
        #expect(empty.0 == 0 && empty.1 == 0)
    }

    /// Keys separate channel from order id and depend on the seed.
    @Test func orderKeysAreUnambiguous() {
        let a = OrderKey(channel: "ab", orderId: "c", seed: 1)
        let b = OrderKey(channel: "a", orderId: "bc", seed: 1)
        #expect(a != b)
        #expect(OrderKey(channel: "ab", orderId: "c", seed: 2) != a)
        #expect(OrderKey(channel: "ab", orderId: "c", seed: 1) == a)
        #expect(OrderKey(channel: "", orderId: "", seed: 0) != OrderKey(low: 0, high: 0))
    }
}

/// Layouts the hot path relies on.
struct LayoutTests {
    /// An order-table entry is 32 bytes: two per cache line, never straddling one.
    @Test func orderEntryIsHalfACacheLine() {
        #expect(MemoryLayout<OrderEntry>.stride == 32)
        #expect(MemoryLayout<OrderEntry>.size <= 32)
    }

    /// A journaled order event is 61 bytes, frame included.
    @Test func orderRecordSize() {
        var writer = ByteWriter()
        CommandRecord(tag: .placed, rev: 1, time: 2).encode(into: &writer)
        #expect(writer.count == StockLedger.orderRecordSize)
    }
}

