import Dispatch
import LiveGatePOSIX
import Synchronization
import Testing

/// Runs `body` with one started loop, then stops it.
func withRunningLoop(tickInterval: UInt64 = 250, _ body: (EventLoop) throws -> Void) rethrows {
    let group = try! EventLoopGroup(count: 1)
    let loop = group.loops[0]
    loop.tickInterval = tickInterval
    group.start()
    defer { group.stopAndWait() }
    try body(loop)
}

/// Runs `body` on `loop`'s thread and waits for it.
func onLoop<T: Sendable>(_ loop: EventLoop, _ body: @escaping @Sendable () -> T) -> T {
    let result = Mutex<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    loop.execute {
        let value = body()
        result.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return result.withLock { $0! }
}

/// A log of what ran, shared with the loop thread.
final class Recorder: Sendable {
    private let entries = Mutex<[Int]>([])
    let changed = DispatchSemaphore(value: 0)

    func record(_ entry: Int) {
        entries.withLock { $0.append(entry) }
        changed.signal()
    }

    var all: [Int] { entries.withLock { $0 } }

    /// Waits until `count` entries are in (or 5 s passed).
    func wait(for count: Int) -> [Int] {
        while all.count < count {
            if changed.wait(timeout: .now() + 5) == .timedOut { break }
        }
        return all
    }
}

@Suite struct EventLoopTimerTests {
    @Test func timersRunInDeadlineOrderOnTheLoop() {
        withRunningLoop { loop in
            let recorder = Recorder()
            let onThread = Atomic<Int>(0)
            loop.execute {
                for delay in [60, 20, 40, 0] as [UInt64] {
                    loop.schedule(afterMilliseconds: delay) {
                        if loop.inEventLoop { onThread.add(1, ordering: .relaxed) }
                        recorder.record(Int(delay))
                    }
                }
            }
            #expect(recorder.wait(for: 4) == [0, 20, 40, 60])
            #expect(onThread.load(ordering: .relaxed) == 4)
        }
    }

    @Test func timersWithTheSameDelayRunInSchedulingOrder() {
        withRunningLoop { loop in
            let recorder = Recorder()
            loop.execute {
                for index in 0..<20 { loop.schedule(afterMilliseconds: 5) { recorder.record(index) } }
            }
            #expect(recorder.wait(for: 20) == Array(0..<20))
        }
    }

    @Test func aCancelledTimerDoesNotRun() {
        withRunningLoop { loop in
            let recorder = Recorder()
            loop.execute {
                let cancelled = loop.schedule(afterMilliseconds: 10) { recorder.record(1) }
                loop.schedule(afterMilliseconds: 30) { recorder.record(2) }
                #expect(loop.cancel(cancelled))
                #expect(!loop.cancel(cancelled))
                #expect(loop.pendingTimerCount == 1)
            }
            #expect(recorder.wait(for: 1) == [2])
            #expect(onLoop(loop) { loop.pendingTimerCount } == 0)
        }
    }

    /// The timer's deadline bounds `epoll_wait`: it runs long before the next tick would.
    @Test func aTimerWakesTheLoopBeforeTheTick() {
        withRunningLoop(tickInterval: 60_000) { loop in
            let recorder = Recorder()
            let start = ContinuousClock.now
            loop.execute { loop.schedule(afterMilliseconds: 30) { recorder.record(1) } }
            #expect(recorder.wait(for: 1) == [1])
            let elapsed = ContinuousClock.now - start
            #expect(elapsed >= .milliseconds(25) && elapsed < .seconds(5), "\(elapsed)")
        }
    }

    /// A zero-delay timer scheduled by a timer runs in a later turn, so rescheduling cannot
    /// hold the loop (tasks still run in between).
    @Test func aTimerThatReschedulesItselfDoesNotStarveTheLoop() {
        withRunningLoop { loop in
            let recorder = Recorder()
            let rounds = Atomic<Int>(0)
            let stop = Atomic<Bool>(false)
            loop.execute {
                func again() {
                    if rounds.add(1, ordering: .relaxed).newValue == 3 { recorder.record(0) }
                    if !stop.load(ordering: .relaxed) { loop.schedule(afterMilliseconds: 0, again) }
                }
                loop.schedule(afterMilliseconds: 0, again)
            }
            #expect(recorder.wait(for: 1) == [0])
            // The timer keeps rescheduling itself; a task still gets its turn.
            loop.execute { recorder.record(1) }
            #expect(recorder.wait(for: 2) == [0, 1])
            stop.store(true, ordering: .relaxed)
        }
    }
}

@Suite struct LoopBoundTests {
    final class Counter {
        var value = 0
    }

    @Test func executeHopsToTheLoop() {
        withRunningLoop { loop in
            #expect(!loop.inEventLoop)
            let bound = LoopBound(Counter(), eventLoop: loop)
            let recorder = Recorder()
            for _ in 0..<3 {
                bound.execute { counter in
                    counter.value += 1
                    recorder.record(loop.inEventLoop ? counter.value : -1)
                }
            }
            #expect(recorder.wait(for: 3) == [1, 2, 3])
        }
    }

    @Test func valueIsReadAndWrittenOnTheLoop() {
        withRunningLoop { loop in
            let bound = LoopBound(41, eventLoop: loop)
            let seen = onLoop(loop) { () -> Int in
                bound.value += 1
                return bound.value
            }
            #expect(seen == 42)
            let recorder = Recorder()
            bound.execute { recorder.record($0) }
            #expect(recorder.wait(for: 1) == [42])
        }
    }

    @Test func readingTheValueOffTheLoopIsAPreconditionFailure() async {
        await #expect(processExitsWith: .failure) {
            let group = try EventLoopGroup(count: 1)
            let bound = LoopBound(1, eventLoop: group.loops[0])
            _ = bound.value
        }
    }
}
