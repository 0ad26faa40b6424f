/// A growable FIFO ring buffer of trivial values.
///
/// - Complexity: amortised O(1) append and removal at the front.
struct RingQueue<Element> {
    /// The storage; its count is the capacity, a power of two (or 0).
    private var storage: [Element?] = []
    /// The index of the first element.
    private var head = 0
    /// The number of elements.
    private(set) var count = 0

    /// Creates an empty queue.
    init() {}

    /// Whether the queue holds no element.
    var isEmpty: Bool { count == 0 }

    /// The first element, if any.
    var first: Element? { count == 0 ? nil : storage[head] }

    /// Appends `element` at the back.
    mutating func append(_ element: Element) {
        if count == storage.count { grow() }
        storage[(head + count) & (storage.count - 1)] = element
        count += 1
    }

    /// Removes and returns the first element.
    @discardableResult
    mutating func removeFirst() -> Element {
        precondition(count > 0, "removeFirst on an empty RingQueue")
        let element = storage[head]!
        storage[head] = nil
        head = (head + 1) & (storage.count - 1)
        count -= 1
        return element
    }

    /// The elements from first to last.
    var elements: [Element] {
        (0..<count).map { storage[(head + $0) & (storage.count - 1)]! }
    }

    /// Doubles the capacity, unrolling the ring.
    private mutating func grow() {
        let newCapacity = Swift.max(16, storage.count * 2)
        var newStorage = [Element?](repeating: nil, count: newCapacity)
        for index in 0..<count {
            newStorage[index] = storage[(head + index) & (storage.count - 1)]
        }
        storage = newStorage
        head = 0
    }
}
