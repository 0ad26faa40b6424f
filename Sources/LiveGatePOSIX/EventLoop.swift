import CLinux
import Dispatch
import Foundation
import Glibc
import LiveGateCore
import Synchronization

/// Something registered with an event loop for readiness of one descriptor.
///
/// Handlers are called only on their loop's thread.
public protocol EventHandler: AnyObject {
    /// The descriptor is ready; `events` is the epoll mask (`Epoll.readable`, …).
    func handleEvent(_ events: UInt32)
}

/// A registration: which slot of the loop's table and which generation of it, so a stale
/// epoll event for a reused slot is ignored.
public struct EventRegistration: Sendable, Equatable {
    /// The slot index.
    public let slot: UInt32
    /// The slot's generation when registered.
    public let generation: UInt32
    /// The descriptor.
    public let fd: CInt

    var userData: UInt64 { UInt64(generation) << 32 | UInt64(slot) }
}

/// A timer scheduled on an ``EventLoop``, for ``EventLoop/cancel(_:)``.
public struct ScheduledTimer: Sendable, Hashable {
    let id: TimerHeap<() -> Void>.ID
}

/// One epoll loop on one thread: it owns its descriptors and handlers, a receive buffer it
/// lends to whichever connection it is reading, its timers (a heap of deadlines that bounds
/// the `epoll_wait` timeout), a periodic tick, and a task queue that other threads reach
/// through ``execute(_:)`` (a `Mutex`-guarded array plus an eventfd).
///
/// Thread ownership: `slots`, `freeSlots`, `timers`, `readBuffer`, `onTick` and everything
/// registered are touched only on the loop thread (``inEventLoop``); `tasks` and `owner` are
/// the only state shared with other threads.
public final class EventLoop: @unchecked Sendable {
    // @unchecked: loop-confined state (see above); cross-thread work goes through `tasks`.

    private struct Slot {
        var handler: (any EventHandler)?
        var generation: UInt32
    }

    /// The loop's position in its group.
    public let index: Int
    private let epfd: CInt
    private let wakeFD: CInt
    /// A task in flight from its submitter to the loop thread.
    private struct Task: @unchecked Sendable {
        // @unchecked: `execute` takes the closure as `sending`, so the submitter keeps no
        // reference to it; only the loop thread runs it.
        let run: () -> Void
    }

    private let tasks = Mutex<[Task]>([])
    private let isStopping = Atomic<Bool>(false)
    /// The thread running ``run()`` (`pthread_self()`), or 0 when none is.
    private let owner = Atomic<UInt>(0)
    private var timers = TimerHeap<() -> Void>()
    private var slots: [Slot] = []
    private var freeSlots: [UInt32] = []
    private static let wakeUserData = UInt64.max

    /// The receive buffer lent to connections while they are read; 256 KiB.
    public let readBuffer: UnsafeMutableRawBufferPointer
    /// How often ``onTick`` runs, in milliseconds.
    public var tickInterval: UInt64 = 250
    /// Called on the loop thread about every ``tickInterval`` with the monotonic time in ms.
    public var onTick: ((UInt64) -> Void)?
    /// Called on the loop thread after each batch of events, and again after the turn's tasks and
    /// timers (before ``beforeSleep``): where work the turn queued for other threads is handed
    /// over in one piece (the stock core's writer is woken once for every order read in the turn).
    public var afterEvents: (() -> Void)?
    /// Called on the loop thread after each batch of events and tasks, before waiting again.
    public var beforeSleep: (() -> Void)?
    /// The number of registered handlers.
    public private(set) var registeredCount = 0

    /// Creates a loop (its epoll instance and wake-up eventfd). Call ``run()`` on its thread.
    public init(index: Int) throws {
        self.index = index
        epfd = try Epoll.epoll_create1()
        wakeFD = try Epoll.eventfd()
        try Epoll.epoll_ctl(epfd: epfd, op: EPOLL_CTL_ADD, fd: wakeFD, events: Epoll.readable, data: Self.wakeUserData)
        readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
    }

    deinit {
        readBuffer.deallocate()
        Posix.close(fd: wakeFD)
        Posix.close(fd: epfd)
    }

    /// Registers `handler` for `events` on `fd`. Loop thread only.
    public func register(fd: CInt, events: UInt32, handler: any EventHandler) throws(IOError) -> EventRegistration {
        let slot: UInt32
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            slot = UInt32(slots.count)
            slots.append(Slot(handler: nil, generation: 0))
        }
        slots[Int(slot)].handler = handler
        let registration = EventRegistration(slot: slot, generation: slots[Int(slot)].generation, fd: fd)
        do {
            try Epoll.epoll_ctl(epfd: epfd, op: EPOLL_CTL_ADD, fd: fd, events: events, data: registration.userData)
        } catch {
            release(slot)
            throw error
        }
        registeredCount += 1
        return registration
    }

    /// Changes the events watched for a registration. Loop thread only.
    public func modify(_ registration: EventRegistration, events: UInt32) {
        do {
            try Epoll.epoll_ctl(epfd: epfd, op: EPOLL_CTL_MOD, fd: registration.fd, events: events,
                                data: registration.userData)
        } catch {
            Log.warning("epoll_ctl MOD fd \(registration.fd): \(error)")
        }
    }

    /// Removes a registration; call before closing its descriptor. Loop thread only.
    public func deregister(_ registration: EventRegistration) {
        _ = try? Epoll.epoll_ctl(epfd: epfd, op: EPOLL_CTL_DEL, fd: registration.fd, events: 0, data: 0)
        if Int(registration.slot) < slots.count, slots[Int(registration.slot)].generation == registration.generation {
            release(registration.slot)
            registeredCount -= 1
        }
    }

    private func release(_ slot: UInt32) {
        slots[Int(slot)].handler = nil
        slots[Int(slot)].generation &+= 1
        freeSlots.append(slot)
    }

    /// Whether the caller runs on this loop's thread (inside ``run()``).
    public var inEventLoop: Bool {
        owner.load(ordering: .relaxed) == UInt(pthread_self())
    }

    /// Runs `task` on the loop thread after `milliseconds` (at the end of the loop turn in
    /// which its deadline has passed; timers with the same deadline run in the order they
    /// were scheduled). Loop thread only.
    ///
    /// - Returns: the timer, for ``cancel(_:)``.
    /// - Complexity: O(log *n*) in the number of pending timers.
    @discardableResult
    public func schedule(afterMilliseconds milliseconds: UInt64, _ task: @escaping () -> Void) -> ScheduledTimer {
        precondition(inEventLoop, "EventLoop.schedule called off loop \(index)")
        return ScheduledTimer(id: timers.insert(task, deadline: Posix.monotonicMilliseconds() + milliseconds))
    }

    /// Cancels a timer that has not run yet. Loop thread only.
    ///
    /// - Returns: `true` when the timer was pending (it will not run).
    @discardableResult
    public func cancel(_ timer: ScheduledTimer) -> Bool {
        precondition(inEventLoop, "EventLoop.cancel called off loop \(index)")
        return timers.cancel(timer.id)
    }

    /// The number of timers that have neither run nor been cancelled. Loop thread only.
    public var pendingTimerCount: Int { timers.count }

    /// Runs `task` on the loop thread, soon. Callable from any thread; tasks submitted before
    /// the loop runs are run first when it starts, before any event.
    public func execute(_ task: sending @escaping () -> Void) {
        // One wake-up per batch: a non-empty queue has already woken the loop, which reads the
        // eventfd before it takes the queue (and takes it until it is empty).
        let task = Task(run: task)
        let wasEmpty = tasks.withLock { queue in
            defer { queue.append(task) }
            return queue.isEmpty
        }
        if wasEmpty { wake() }
    }

    /// Wakes the loop from `epoll_wait`.
    public func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    /// Asks the loop to return from ``run()`` after its current turn. Callable from any thread.
    public func stop() {
        isStopping.store(true, ordering: .releasing)
        wake()
    }

    /// Runs the loop on the calling thread until ``stop()``.
    public func run() {
        let capacity = 1024
        let rawEvents = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        let eventMasks = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
        let userData = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        defer {
            rawEvents.deallocate()
            eventMasks.deallocate()
            userData.deallocate()
        }
        owner.store(UInt(pthread_self()), ordering: .relaxed)
        defer { owner.store(0, ordering: .relaxed) }
        runTasks()
        var nextTick = Posix.monotonicMilliseconds() + tickInterval
        while !isStopping.load(ordering: .acquiring) {
            let now = Posix.monotonicMilliseconds()
            let wakeAt = min(nextTick, timers.nextDeadline() ?? .max)
            let timeout = wakeAt > now ? Int32(wakeAt - now) : 0
            let count = livegate_epoll_wait(epfd, rawEvents, Int32(capacity), timeout, eventMasks, userData)
            if count < 0 {
                let code = Glibc.errno
                if code == EINTR { continue }
                Log.error("epoll_wait failed on loop \(index): \(Errno(rawValue: code))")
                break
            }
            for i in 0..<Int(count) {
                let data = userData[i]
                if data == Self.wakeUserData {
                    var value: UInt64 = 0
                    _ = Glibc.read(wakeFD, &value, 8)
                    continue
                }
                let slot = Int(UInt32(truncatingIfNeeded: data))
                let generation = UInt32(truncatingIfNeeded: data >> 32)
                guard slot < slots.count, slots[slot].generation == generation,
                    let handler = slots[slot].handler
                else { continue }
                handler.handleEvent(eventMasks[i])
            }
            afterEvents?()
            runTasks()
            let after = Posix.monotonicMilliseconds()
            runTimers(now: after)
            if after >= nextTick {
                onTick?(after)
                nextTick = after + tickInterval
            }
            afterEvents?()
            beforeSleep?()
        }
        runTasks()
    }

    /// Runs the timers due at `now`, in deadline order. A timer scheduled by one of them runs
    /// in a later turn, even with a zero delay, so a timer that reschedules itself cannot hold
    /// the loop.
    private func runTimers(now: UInt64) {
        guard let first = timers.popDue(now: now) else { return }
        var due = [first]
        while let task = timers.popDue(now: now) { due.append(task) }
        for task in due { task() }
    }

    private func runTasks() {
        while true {
            let batch = tasks.withLock { queue -> [Task] in
                let taken = queue
                queue.removeAll(keepingCapacity: true)
                return taken
            }
            if batch.isEmpty { return }
            for task in batch { task.run() }
        }
    }
}

/// A fixed set of event loops, one thread each.
public final class EventLoopGroup: Sendable {
    /// The loops.
    public let loops: [EventLoop]
    private let finished: [DispatchSemaphore]
    private let isStarted = Atomic<Bool>(false)

    /// Creates `count` loops (not yet running).
    public init(count: Int) throws {
        loops = try (0..<max(1, count)).map { try EventLoop(index: $0) }
        finished = loops.map { _ in DispatchSemaphore(value: 0) }
    }

    /// Starts one thread per loop.
    public func start() {
        guard !isStarted.exchange(true, ordering: .acquiringAndReleasing) else { return }
        for (loop, done) in zip(loops, finished) {
            let thread = Thread {
                loop.run()
                done.signal()
            }
            thread.name = "livegate-io-\(loop.index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Stops every loop and waits for their threads to return (at once when they never started:
    /// a server whose start failed is shut down all the same).
    public func stopAndWait() {
        for loop in loops { loop.stop() }
        guard isStarted.load(ordering: .acquiring) else { return }
        for done in finished { done.wait() }
    }
}
