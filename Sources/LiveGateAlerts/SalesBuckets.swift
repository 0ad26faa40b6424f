/// The running sums of one SKU's two velocity windows, and where its ring of buckets stands.
struct WindowSums: Sendable, Hashable {
    /// The absolute second (core time / 1 s) of the newest bucket; `Int64.min` before the first sale.
    var headSecond: Int64 = .min
    /// Units in the recent window: the seconds `(head − W, head]`.
    var recent: Int64 = 0
    /// Units in the previous window: the seconds `(head − 2W, head − W]`.
    var previous: Int64 = 0
    /// The window length W in seconds.
    var window: Int

    /// Creates empty sums for windows of `window` seconds.
    init(window: Int) { self.window = window }

    /// Whether both windows are empty.
    var isEmpty: Bool { recent == 0 && previous == 0 }
}

/// Every SKU's ring of one-second demand buckets, in one flat array allocated when the SKU is added.
///
/// SKU `i` owns `counts[i × capacity ..< (i + 1) × capacity]`; the bucket of absolute second `s` lives at slot
/// `s mod capacity`. A ring never grows: memory is `capacity × 4` bytes per SKU whatever the sales rate, and
/// a second's count saturates at `UInt32.max`. Window sums are kept incrementally in ``WindowSums``, so
/// adding a sale is O(1) and moving a ring forward costs O(1) per elapsed second, at most O(capacity).
///
/// Not thread-safe: owned by the stock core's writer thread through ``AlertEngine``.
struct SalesBuckets: Sendable, Hashable {
    /// Buckets per SKU: the horizon in seconds.
    let capacity: Int
    /// All SKUs' buckets.
    private(set) var counts: [UInt32] = []

    /// Creates an empty store of rings of `capacity` buckets.
    init(capacity: Int) {
        precondition(capacity >= 2, "a ring needs at least two buckets")
        self.capacity = capacity
    }

    /// The number of SKU rings allocated.
    var ringCount: Int { counts.count / capacity }

    /// Allocates a zeroed ring for one more SKU.
    ///
    /// The array grows by a quarter at a time rather than doubling, so at most a quarter of the bucket memory is
    /// slack; ``reserveRings(_:)`` avoids even that when the SKU count is known.
    ///
    /// - Complexity: O(capacity), amortised.
    mutating func appendRing() {
        if counts.capacity < counts.count + capacity {
            counts.reserveCapacity(counts.count + max(capacity, counts.count / 4))
        }
        counts.append(contentsOf: repeatElement(0, count: capacity))
    }

    /// Reserves room for `rings` rings in all.
    ///
    /// - Complexity: O(current storage) if it moves.
    mutating func reserveRings(_ rings: Int) {
        counts.reserveCapacity(rings * capacity)
    }

    /// The slot of absolute second `second` in a ring.
    @inline(__always)
    private func slot(_ second: Int64) -> Int {
        let r = Int(second % Int64(capacity))
        return r < 0 ? r + capacity : r
    }

    /// The stored count of `second` in ring `ring` (valid only for seconds within the ring's reach).
    @inline(__always)
    func count(ring: Int, second: Int64) -> UInt32 {
        counts[ring &* capacity &+ slot(second)]
    }

    /// Moves ring `ring` forward so that its newest bucket is `second`, updating `sums`.
    ///
    /// Each elapsed second moves one bucket from the recent window to the previous one, drops one bucket out
    /// of the previous window and clears the slot it reuses. A gap of two windows or more clears the sums
    /// and, past the ring's capacity, the whole ring.
    ///
    /// - Complexity: O(min(second − head, capacity)).
    mutating func advance(ring: Int, sums: inout WindowSums, to second: Int64) {
        let head = sums.headSecond
        if head == .min {
            sums.headSecond = second
            return
        }
        guard second > head else { return }
        let base = ring &* capacity
        let gap = second - head
        if gap >= Int64(capacity) {
            for i in base..<(base + capacity) { counts[i] = 0 }
            sums.recent = 0
            sums.previous = 0
            sums.headSecond = second
            return
        }
        let window = Int64(sums.window)
        var t = head + 1
        while t <= second {
            let moving = Int64(counts[base + slot(t - window)])
            sums.recent -= moving
            sums.previous += moving
            sums.previous -= Int64(counts[base + slot(t - 2 * window)])
            counts[base + slot(t)] = 0
            t += 1
        }
        sums.headSecond = second
    }

    /// Adds `units` of demand to the newest bucket (the caller advanced the ring to the sale's second first).
    ///
    /// - Complexity: O(1).
    mutating func add(ring: Int, sums: inout WindowSums, units: Int64) {
        let index = ring &* capacity &+ slot(sums.headSecond)
        let room = Int64(UInt32.max) - Int64(counts[index])
        let added = min(max(units, 0), room)
        counts[index] += UInt32(added)
        sums.recent += added
    }

    /// The window sums ring `ring` would have at `second`, without moving it.
    ///
    /// - Complexity: O(min(second − head, 2 × window)).
    func sums(ring: Int, of sums: WindowSums, at second: Int64) -> (recent: Int64, previous: Int64) {
        let head = sums.headSecond
        guard head != .min, second > head else { return (sums.recent, sums.previous) }
        let window = Int64(sums.window)
        if second - head >= 2 * window { return (0, 0) }
        var recent = sums.recent
        var previous = sums.previous
        var t = head + 1
        while t <= second {
            let leaving = t - window
            let moving = leaving <= head ? Int64(count(ring: ring, second: leaving)) : 0
            recent -= moving
            previous += moving
            let dropped = t - 2 * window
            previous -= dropped <= head ? Int64(count(ring: ring, second: dropped)) : 0
            t += 1
        }
        return (recent, previous)
    }

    /// Recomputes `sums` from the ring for a new window length (after a policy change or a restore).
    ///
    /// - Precondition: `2 × window ≤ capacity`.
    /// - Complexity: O(window).
    func recompute(ring: Int, sums: inout WindowSums, window: Int) {
        precondition(2 * window <= capacity, "two windows must fit in the ring")
        sums.window = window
        sums.recent = 0
        sums.previous = 0
        let head = sums.headSecond
        guard head != .min else { return }
        for age in 0..<(2 * window) {
            let units = Int64(count(ring: ring, second: head - Int64(age)))
            if age < window { sums.recent += units } else { sums.previous += units }
        }
    }

    /// Sets the count of one second in a ring (restore only).
    mutating func set(ring: Int, second: Int64, count: UInt32) {
        counts[ring &* capacity &+ slot(second)] = count
    }
}
