import Glibc

/// One remembered order: 28 bytes (stride 32, two per cache line, never straddling one), stored
/// inline in the ``OrderTable``.
///
/// It keeps no time: when an order was first seen lives in the ledger's `remembered` queue, and
/// when it was placed in its SKU's reservation queue.
struct OrderEntry {
    /// The order's idempotency key; (0, 0) marks an empty slot.
    var key: OrderKey
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
        key: OrderKey(low: 0, high: 0), sku: 0, quantity: 0, state: .rejected,
        placedResult: 0, paidResult: 0, cancelledResult: 0)

    /// Whether the slot is unused.
    @inline(__always) var isEmpty: Bool { key.low == 0 && key.high == 0 }
}

/// The slots of an ``OrderTable``: one zero-filled allocation, backed by transparent huge pages
/// when large (the table is probed at random, so 4 KiB pages would cost a TLB miss per probe).
final class OrderTableStorage {
    /// The slots.
    let slots: UnsafeMutablePointer<OrderEntry>
    /// The number of slots, a power of two.
    let capacity: Int
    /// The size of the mapping, or 0 if allocated with `malloc`.
    private let mappedBytes: Int

    /// Allocates `capacity` empty slots.
    init(capacity: Int) {
        self.capacity = capacity
        let bytes = capacity * MemoryLayout<OrderEntry>.stride
        // All-zero bytes are an empty slot: key (0, 0).
        if bytes >= 4 << 20,
            let mapping = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            mapping != MAP_FAILED
        {
            _ = madvise(mapping, bytes, MADV_HUGEPAGE)
            // Fault the pages in now rather than on the hot path.
            memset(mapping, 0, bytes)
            slots = mapping.bindMemory(to: OrderEntry.self, capacity: capacity)
            mappedBytes = bytes
        } else {
            slots = .allocate(capacity: capacity)
            slots.initialize(repeating: .empty, count: capacity)
            mappedBytes = 0
        }
    }

    /// A copy of `other` with the same capacity.
    convenience init(copying other: OrderTableStorage) {
        self.init(capacity: other.capacity)
        slots.update(from: other.slots, count: capacity)
    }

    deinit {
        if mappedBytes > 0 { munmap(slots, mappedBytes) } else { slots.deallocate() }
    }
}

/// An open-addressing hash table (linear probing, backward-shift deletion) from ``OrderKey`` to
/// ``OrderEntry``, with no allocation per insert and no string hashing.
///
/// The key is already a uniform hash, so its low bits pick the slot. Grows ×2 above a 5/8 load.
/// A value type with copy-on-write storage. Owned by the writer thread.
struct OrderTable {
    /// The slot storage.
    private var storage: OrderTableStorage
    /// The number of occupied slots.
    private(set) var count = 0
    /// `capacity - 1`.
    private var mask: Int

    /// Creates a table sized for about `expected` orders without growing.
    init(expected: Int = 1024) {
        var capacity = 16
        while capacity * 5 / 8 < expected { capacity *= 2 }
        storage = OrderTableStorage(capacity: capacity)
        mask = capacity - 1
    }

    /// The occupied entries, in slot order.
    var entries: [OrderEntry] {
        var result: [OrderEntry] = []
        result.reserveCapacity(count)
        for index in 0..<storage.capacity where !storage.slots[index].isEmpty { result.append(storage.slots[index]) }
        return result
    }

    /// Makes the storage unique before a mutation.
    @inline(__always)
    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = OrderTableStorage(copying: storage) }
    }

    /// The slot index holding `key`, or nil.
    /// - Complexity: O(1) expected.
    @inline(__always)
    func find(_ key: OrderKey) -> Int? {
        let slots = storage.slots
        var index = Int(truncatingIfNeeded: key.low) & mask
        while true {
            let slot = slots[index]
            if slot.isEmpty { return nil }
            if slot.key == key { return index }
            index = (index + 1) & mask
        }
    }

    /// Reads the first word of `key`'s home slot, to bring it into the cache early.
    @inline(__always)
    func touch(_ key: OrderKey) -> UInt64 {
        storage.slots[Int(truncatingIfNeeded: key.low) & mask].key.low
    }

    /// Reads or replaces the entry in slot `index`.
    @inline(__always) subscript(slot index: Int) -> OrderEntry {
        get { storage.slots[index] }
        set {
            makeUnique()
            storage.slots[index] = newValue
        }
    }

    /// Inserts `entry`, whose key must not be present, and returns its slot.
    /// - Complexity: O(1) expected, amortised.
    @discardableResult
    mutating func insert(_ entry: OrderEntry) -> Int {
        if (count + 1) * 8 > storage.capacity * 5 { grow() }
        makeUnique()
        let slots = storage.slots
        var index = Int(truncatingIfNeeded: entry.key.low) & mask
        while !slots[index].isEmpty { index = (index + 1) & mask }
        slots[index] = entry
        count += 1
        return index
    }

    /// Removes the entry in slot `index`, shifting back the entries that probed past it.
    /// - Complexity: O(1) expected.
    mutating func remove(slot index: Int) {
        makeUnique()
        let slots = storage.slots
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
        let old = storage
        storage = OrderTableStorage(capacity: old.capacity * 2)
        mask = storage.capacity - 1
        count = 0
        for index in 0..<old.capacity where !old.slots[index].isEmpty { insert(old.slots[index]) }
    }
}
