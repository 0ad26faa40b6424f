/// A FIFO queue stored in fixed-size blocks: appending never copies the elements already queued
/// (a growing ring would copy them and fault in fresh pages at each doubling), and a block emptied
/// at the front is recycled for the back.
///
/// - Complexity: O(1) append and removal at the front (amortised over the block list's upkeep).
struct RingQueue<Element> {
    /// The number of elements per block.
    private static var blockSize: Int { 1024 }
    /// The blocks in order; the first ``headBlock`` are already consumed.
    private var blocks: [[Element]] = []
    /// The index in ``blocks`` of the block holding the first element.
    private var headBlock = 0
    /// The index of the first element in its block.
    private var headIndex = 0
    /// One emptied block kept for reuse.
    private var spare: [Element]? = nil
    /// The number of elements.
    private(set) var count = 0

    /// Creates an empty queue.
    init() {}

    /// Creates an empty queue; blocks are allocated as needed, so the capacity is only a hint.
    init(minimumCapacity: Int) {
        blocks.reserveCapacity(minimumCapacity / Self.blockSize + 1)
    }

    /// Whether the queue holds no element.
    var isEmpty: Bool { count == 0 }

    /// The first element, if any.
    var first: Element? { count == 0 ? nil : blocks[headBlock][headIndex] }

    /// Appends `element` at the back.
    @inline(__always)
    mutating func append(_ element: Element) {
        if blocks.isEmpty || blocks[blocks.count - 1].count == Self.blockSize { addBlock() }
        blocks[blocks.count - 1].append(element)
        count += 1
    }

    /// Adds an empty block at the back, reusing the spare one if there is one.
    private mutating func addBlock() {
        if var block = spare {
            spare = nil
            block.removeAll(keepingCapacity: true)
            blocks.append(block)
        } else {
            var block: [Element] = []
            block.reserveCapacity(Self.blockSize)
            blocks.append(block)
        }
    }

    /// Removes and returns the first element.
    @discardableResult
    mutating func removeFirst() -> Element {
        precondition(count > 0, "removeFirst on an empty RingQueue")
        let element = blocks[headBlock][headIndex]
        headIndex += 1
        count -= 1
        if count == 0 {
            // Keep one block for the next append.
            spare = blocks[headBlock]
            blocks.removeAll(keepingCapacity: true)
            headBlock = 0
            headIndex = 0
        } else if headIndex == Self.blockSize {
            spare = blocks[headBlock]
            blocks[headBlock] = []
            headBlock += 1
            headIndex = 0
            if headBlock >= 64, headBlock * 2 >= blocks.count {
                blocks.removeFirst(headBlock)
                headBlock = 0
            }
        }
        return element
    }

    /// The elements from first to last.
    var elements: [Element] {
        var result: [Element] = []
        result.reserveCapacity(count)
        for (offset, block) in blocks[headBlock...].enumerated() {
            result.append(contentsOf: offset == 0 ? block[headIndex...] : block[...])
        }
        return result
    }
}
