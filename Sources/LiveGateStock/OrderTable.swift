/// One remembered order: 40 bytes, stored inline in the ``OrderTable``.
struct OrderEntry {
    /// The order's idempotency key; (0, 0) marks an empty slot.
    var key: OrderKey
    /// Core time of the order's first event; also its placement time when it was placed first.
    var firstSeenAt: Int64
    /// The SKU index.
    var sku: UInt32
    /// The order's quantity.
    var quantity: UInt32
    /// The order's state.
    var state: OrderState
    /// The first result of a `placed` event, or 0 if none was seen.
    var placedResult: UInt8
    /// The first result of a `paid` event, or 0 if none was seen.
    var paidResult: UInt8
    /// The first result of a `cancelled` event, or 0 if none was seen.
    var cancelledResult: UInt8

    /// The empty slot.
    static let empty = OrderEntry(
        key: OrderKey(low: 0, high: 0), firstSeenAt: 0, sku: 0, quantity: 0, state: .rejected,
        placedResult: 0, paidResult: 0, cancelledResult: 0)

    /// Whether the slot is unused.
    @inline(__always) var isEmpty: Bool { key.low == 0 && key.high == 0 }
}

/// An open-addressing hash table (linear probing, backward-shift deletion) from ``OrderKey`` to
/// ``OrderEntry``, with no allocation per insert and no string hashing.
///
/// The key is already a uniform hash, so its low bits pick the slot. Grows ×2 above a 5/8 load.
/// Owned by the writer thread.
struct OrderTable {
    /// The slots; count is a power of two.
    private(set) var slots: [OrderEntry]
    /// The number of occupied slots.
    private(set) var count = 0
    /// `slots.count - 1`.
    private var mask: Int

    /// Creates a table sized for about `expected` orders without growing.
    init(expected: Int = 1024) {
        var capacity = 16
        while capacity * 5 / 8 < expected { capacity *= 2 }
        slots = [OrderEntry](repeating: .empty, count: capacity)
        mask = capacity - 1
    }

    /// The slot index holding `key`, or nil.
    /// - Complexity: O(1) expected.
    @inline(__always)
    func find(_ key: OrderKey) -> Int? {
        var index = Int(truncatingIfNeeded: key.low) & mask
        return slots.withUnsafeBufferPointer { buffer in
            while true {
                let slot = buffer[index]
                if slot.isEmpty { return nil }
                if slot.key == key { return index }
                index = (index + 1) & mask
            }
        }
    }

    /// Reads the entry in slot `index`.
    @inline(__always) subscript(slot index: Int) -> OrderEntry {
        get { slots[index] }
        set { slots[index] = newValue }
    }

    /// Inserts `entry`, whose key must not be present, and returns its slot.
    /// - Complexity: O(1) expected, amortised.
    @discardableResult
    mutating func insert(_ entry: OrderEntry) -> Int {
        if (count + 1) * 8 > slots.count * 5 { grow() }
        var index = Int(truncatingIfNeeded: entry.key.low) & mask
        while !slots[index].isEmpty { index = (index + 1) & mask }
        slots[index] = entry
        count += 1
        return index
    }

    /// Removes the entry in slot `index`, shifting back the entries that probed past it.
    /// - Complexity: O(1) expected.
    mutating func remove(slot index: Int) {
        var hole = index
        var next = (index + 1) & mask
        while !slots[next].isEmpty {
            let home = Int(truncatingIfNeeded: slots[next].key.low) & mask
            // Move `next` into the hole if its home is not in the cyclic range (hole, next].
            let distanceToNext = (next - home) & mask
            let distanceToHole = (next - hole) & mask
            if distanceToNext >= distanceToHole {
                slots[hole] = slots[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        slots[hole] = .empty
        count -= 1
    }

    /// Doubles the capacity and reinserts every entry.
    private mutating func grow() {
        let old = slots
        slots = [OrderEntry](repeating: .empty, count: old.count * 2)
        mask = slots.count - 1
        count = 0
        for entry in old where !entry.isEmpty { insert(entry) }
    }
}
