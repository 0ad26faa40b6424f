import LiveGateCore
import LiveGateTestSupport
import Testing

struct TimerHeapTests {
    /// Pops everything due at `now`.
    func drain(_ heap: inout TimerHeap<Int>, now: UInt64 = .max) -> [Int] {
        var fired: [Int] = []
        while let element = heap.popDue(now: now) { fired.append(element) }
        return fired
    }

    @Test func popsInDeadlineOrder() {
        var heap = TimerHeap<Int>()
        for (element, deadline) in [(3, 30), (1, 10), (5, 50), (2, 20), (4, 40)] as [(Int, UInt64)] {
            heap.insert(element, deadline: deadline)
        }
        #expect(heap.count == 5)
        do {
            let result = heap.nextDeadline()
            #expect(result == 10)
        }
        #expect(drain(&heap) == [1, 2, 3, 4, 5])
        #expect(heap.isEmpty)
        do {
            let result = heap.nextDeadline()
            #expect(result == nil)
        }
    }

    @Test func sameDeadlineFiresInInsertionOrder() {
        var heap = TimerHeap<Int>()
        for element in 0..<50 { heap.insert(element, deadline: element % 2 == 0 ? 7 : 3) }
        let expected = Array(stride(from: 1, to: 50, by: 2)) + Array(stride(from: 0, to: 50, by: 2))
        #expect(drain(&heap) == expected)
    }

    @Test func onlyWhatIsDueIsPopped() {
        var heap = TimerHeap<Int>()
        heap.insert(1, deadline: 100)
        heap.insert(2, deadline: 200)
        #expect(heap.popDue(now: 99) == nil)
        #expect(drain(&heap, now: 150) == [1])
        do {
            let result = heap.nextDeadline()
            #expect(result == 200)
        }
        #expect(drain(&heap, now: 200) == [2])
    }

    @Test func cancelledEntriesNeverFire() {
        var heap = TimerHeap<Int>()
        let first = heap.insert(1, deadline: 10)
        heap.insert(2, deadline: 20)
        let third = heap.insert(3, deadline: 30)
        do {
            let result = heap.cancel(first)
            #expect(result)
        }
        do {
            let result = heap.cancel(first)
            #expect(!result, "a second cancel finds nothing")
        }
        #expect(heap.count == 2)
        do {
            let result = heap.nextDeadline()
            #expect(result == 20, "a cancelled top does not bound the wait")
        }
        #expect(drain(&heap, now: 25) == [2])
        do {
            let result = heap.cancel(third)
            #expect(result)
        }
        #expect(heap.isEmpty)
        #expect(drain(&heap) == [])
    }

    @Test func firedEntriesCannotBeCancelled() {
        var heap = TimerHeap<Int>()
        let id = heap.insert(1, deadline: 1)
        #expect(drain(&heap) == [1])
        do {
            let result = heap.cancel(id)
            #expect(!result)
        }
    }

    /// Random deadlines, insertions interleaved with pops and cancels, against a sorted model.
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func matchesASortedModel(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var heap = TimerHeap<Int>()
        var model: [(deadline: UInt64, order: Int, id: TimerHeap<Int>.ID)] = []
        var now: UInt64 = 0
        var order = 0
        for _ in 0..<2000 {
            switch random.next() % 4 {
            case 0, 1:
                let deadline = now + random.next() % 100
                let id = heap.insert(order, deadline: deadline)
                model.append((deadline, order, id))
                order += 1
            case 2 where !model.isEmpty:
                let index = Int(random.next() % UInt64(model.count))
                do {
                    let result = heap.cancel(model[index].id)
                    #expect(result)
                }
                model.remove(at: index)
            default:
                now += random.next() % 20
                let due = model.filter { $0.deadline <= now }
                    .sorted { ($0.deadline, $0.order) < ($1.deadline, $1.order) }.map(\.order)
                model.removeAll { $0.deadline <= now }
                #expect(drain(&heap, now: now) == due)
            }
            #expect(heap.count == model.count)
            do {
                let result = heap.nextDeadline()
                #expect(result == model.map(\.deadline).min())
            }
        }
    }
}
