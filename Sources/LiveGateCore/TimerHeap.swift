/// Deadlines in the order they fall due: a binary min-heap keyed by (deadline, insertion
/// order), so timers with the same deadline fire in the order they were scheduled.
///
/// An event loop keeps one, and waits in `epoll_wait` no longer than until its first
/// deadline (redis `ae.c` time events, NIO's `ScheduledTask` heap). Cancelling is lazy: a
/// cancelled entry stays in the heap and is skipped when it reaches the top.
///
/// Not thread-safe; its owner (one loop thread) is the only one to touch it.
public struct TimerHeap<Element> {
    /// Names one scheduled entry, for ``cancel(_:)``.
    public struct ID: Hashable, Sendable {
        /// The entry's insertion number (unique within its heap).
        public let rawValue: UInt64
    }

    private struct Entry {
        var deadline: UInt64
        var id: UInt64
        var element: Element

        /// Whether `self` falls due before `other` (earlier deadline, then earlier insertion).
        func precedes(_ other: Entry) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : id < other.id
        }
    }

    private var entries: [Entry] = []
    /// The ids of entries neither fired nor cancelled.
    private var pending: Set<UInt64> = []
    private var nextID: UInt64 = 0

    /// Creates an empty heap.
    public init() {}

    /// The number of entries neither fired nor cancelled.
    public var count: Int { pending.count }

    /// Whether nothing is pending.
    public var isEmpty: Bool { pending.isEmpty }

    /// Adds `element`, due at `deadline`.
    ///
    /// - Returns: the id that cancels it.
    /// - Complexity: O(log *n*).
    @discardableResult
    public mutating func insert(_ element: Element, deadline: UInt64) -> ID {
        nextID += 1
        pending.insert(nextID)
        entries.append(Entry(deadline: deadline, id: nextID, element: element))
        siftUp(entries.count - 1)
        return ID(rawValue: nextID)
    }

    /// Cancels an entry that has neither fired nor been cancelled.
    ///
    /// - Returns: `true` when it was pending (it will not be returned by ``popDue(now:)``).
    /// - Complexity: O(1); the entry's slot is reclaimed when it reaches the top.
    @discardableResult
    public mutating func cancel(_ id: ID) -> Bool {
        guard pending.remove(id.rawValue) != nil else { return false }
        if pending.isEmpty { entries.removeAll(keepingCapacity: true) }
        return true
    }

    /// The earliest pending deadline, or `nil` when nothing is pending.
    ///
    /// - Complexity: O(log *n*) per cancelled entry it discards from the top, else O(1).
    public mutating func nextDeadline() -> UInt64? {
        dropCancelledTop()
        return entries.first?.deadline
    }

    /// Removes and returns the earliest entry due at `now` or before, if any.
    ///
    /// - Complexity: O(log *n*).
    public mutating func popDue(now: UInt64) -> Element? {
        dropCancelledTop()
        guard let first = entries.first, first.deadline <= now else { return nil }
        pending.remove(first.id)
        removeTop()
        return first.element
    }

    private mutating func dropCancelledTop() {
        while let first = entries.first, !pending.contains(first.id) {
            removeTop()
        }
    }

    private mutating func removeTop() {
        let last = entries.removeLast()
        guard !entries.isEmpty else { return }
        entries[0] = last
        siftDown(0)
    }

    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else { return }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        while true {
            let left = 2 * parent + 1
            guard left < entries.count else { return }
            let right = left + 1
            var first = left
            if right < entries.count && entries[right].precedes(entries[left]) { first = right }
            guard entries[first].precedes(entries[parent]) else { return }
            entries.swapAt(parent, first)
            parent = first
        }
    }
}
