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

/// One epoll loop on one thread: it owns its descriptors and handlers, a receive buffer it
/// lends to whichever connection it is reading, a periodic tick for timers, and a task queue
/// that other threads reach through ``execute(_:)`` (a `Mutex`-guarded array plus an eventfd).
///
/// Thread ownership: `slots`, `freeSlots`, `readBuffer`, `onTick` and everything registered
/// are touched only on the loop thread; `tasks` is the only state shared with other threads.
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
    private let tasks = Mutex<[@Sendable () -> Void]>([])
    private let isStopping = Atomic<Bool>(false)
    private var slots: [Slot] = []
    private var freeSlots: [UInt32] = []
    private static let wakeUserData = UInt64.max

    /// The receive buffer lent to connections while they are read; 256 KiB.
    public let readBuffer: UnsafeMutableRawBufferPointer
    /// How often ``onTick`` runs, in milliseconds.
    public var tickInterval: UInt64 = 250
    /// Called on the loop thread about every ``tickInterval`` with the monotonic time in ms.
    public var onTick: ((UInt64) -> Void)?
    /// Called on the loop thread after each batch of events and tasks, before waiting again.
    public var beforeSleep: (() -> Void)?
    /// The state a higher layer keeps on this loop (loop thread only, or before `run()`).
    public var attachment: AnyObject?
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

    /// Runs `task` on the loop thread, soon. Callable from any thread.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        // One wake-up per batch: a non-empty queue has already woken the loop, which reads the
        // eventfd before it takes the queue (and takes it until it is empty).
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
        var nextTick = Posix.monotonicMilliseconds() + tickInterval
        while !isStopping.load(ordering: .acquiring) {
            let now = Posix.monotonicMilliseconds()
            let timeout = nextTick > now ? Int32(nextTick - now) : 0
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
            runTasks()
            let after = Posix.monotonicMilliseconds()
            if after >= nextTick {
                onTick?(after)
                nextTick = after + tickInterval
            }
            beforeSleep?()
        }
        runTasks()
    }

    private func runTasks() {
        while true {
            let batch = tasks.withLock { queue -> [@Sendable () -> Void] in
                let taken = queue
                queue.removeAll(keepingCapacity: true)
                return taken
            }
            if batch.isEmpty { return }
            for task in batch { task() }
        }
    }
}

/// A fixed set of event loops, one thread each.
public final class EventLoopGroup: Sendable {
    /// The loops.
    public let loops: [EventLoop]
    private let finished: [DispatchSemaphore]

    /// Creates `count` loops (not yet running).
    public init(count: Int) throws {
        loops = try (0..<max(1, count)).map { try EventLoop(index: $0) }
        finished = loops.map { _ in DispatchSemaphore(value: 0) }
    }

    /// Starts one thread per loop.
    public func start() {
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

    /// Stops every loop and waits for their threads to return.
    public func stopAndWait() {
        for loop in loops { loop.stop() }
        for done in finished { done.wait() }
    }
}
