/// SKU ids to their indices, for the writer's per-order lookup: an open-addressed table keyed by a
/// cheap hash of the id's UTF-8 bytes (FNV-1a), each hit checked against the id itself. Swift's own
/// `String` hashing (seeded SipHash over normalized code units) costs several hundred instructions
/// per lookup, which over 1000 SKUs was a third of an order's cost in the writer.
///
/// Grow-only, as the SKUs are (a SKU is never removed). Empty slots hold index `UInt32.max`.
struct SkuLookup: Sendable {
    private var hashes: [UInt64] = []
    private var indices: [UInt32] = []
    private(set) var count = 0

    /// FNV-1a over the id's UTF-8 bytes.
    @inline(__always)
    static func hash(_ id: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in id.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return hash
    }

    /// Adds `id` at `index` (the caller never adds an id twice).
    mutating func insert(_ id: String, index: UInt32) {
        if (count + 1) * 2 > indices.count { grow() }
        place(Self.hash(id), index)
        count += 1
    }

    /// The index of `id`, or `nil`; `isID(index)` says whether the SKU at `index` is `id`.
    @inline(__always)
    func find(_ id: String, isID: (UInt32) -> Bool) -> UInt32? {
        guard !indices.isEmpty else { return nil }
        let hash = Self.hash(id)
        let mask = indices.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let index = indices[slot]
            if index == UInt32.max { return nil }
            if hashes[slot] == hash && isID(index) { return index }
            slot = (slot + 1) & mask
        }
    }

    private mutating func place(_ hash: UInt64, _ index: UInt32) {
        let mask = indices.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while indices[slot] != UInt32.max { slot = (slot + 1) & mask }
        hashes[slot] = hash
        indices[slot] = index
    }

    private mutating func grow() {
        let old = zip(hashes, indices).filter { $0.1 != UInt32.max }
        let capacity = max(16, indices.count * 2)
        hashes = [UInt64](repeating: 0, count: capacity)
        indices = [UInt32](repeating: UInt32.max, count: capacity)
        for (hash, index) in old { place(hash, index) }
    }
}
