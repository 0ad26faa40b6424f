import LiveGateCore
import LiveGatePOSIX
import LiveGateTLS
import LiveGateWebSocket
import Synchronization

/// Limits and timeouts every connection reads, in the units the hot path wants.
struct ConnectionSettings: Sendable {
    var maxHeadBytes: Int
    var maxBodyBytes: Int
    var handshakeTimeoutMs: UInt64
    var idlePingMs: UInt64
    var closeTimeoutMs: UInt64
    /// Above this many queued outbound bytes a connection stops reading its peer.
    var outboundHighWaterBytes: Int
}

/// The gateway's state on one loop: its connections, the shared router and settings.
///
/// Loop-confined: created for one loop and touched only on its thread.
final class LoopContext {
    let loop: EventLoop
    let router: Router
    let settings: ConnectionSettings
    let stats: ServerStats
    private(set) var connections: [Connection] = []
    private(set) var listeners: [Listener] = []
    /// The loop's notion of now (monotonic ms), refreshed every tick and read.
    var now: UInt64 { Posix.monotonicMilliseconds() }
    private(set) var isShuttingDown = false
    /// Open connections by id, so results from other threads find their connection.
    private var byID: [UInt64: Connection] = [:]
    private var nextID: UInt64
    /// Subscribers by room, then by audience.
    private var subscribers: [String: [[Connection]]] = [:]
    /// Connections written to during this loop turn, flushed once at its end: the priority
    /// lane (host, operator, connector) first, then viewers.
    private var dirty: [Connection] = []
    private var dirtyViewers: [Connection] = []
    /// Order stamps of the stock messages queued this turn, by audience (measured at the flush).
    private var pendingStamps: [(audience: Audience, stamp: UInt64)] = []
    /// Where a TLS connection's small frames are gathered into one record (16 KiB, TLS's
    /// largest record payload); allocated on first use, so a plain-only loop has none.
    private(set) lazy var tlsScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 16)

    init(loop: EventLoop, router: Router, settings: ConnectionSettings, stats: ServerStats) {
        self.loop = loop
        self.router = router
        self.settings = settings
        self.stats = stats
        nextID = UInt64(loop.index) << 48
        loop.onTick = { [unowned self] now in self.tick(now: now) }
        loop.beforeSleep = { [unowned self] in self.flushDirty() }
    }

    func addListener(_ listener: Listener) {
        listeners.append(listener)
    }

    /// Takes ownership of an accepted descriptor; `tls` for the TLS listener.
    func accept(fd: CInt, tls: TLSContext? = nil) {
        if isShuttingDown {
            Posix.close(fd: fd)
            return
        }
        let connection = Connection(fd: fd, loop: loop, context: self, now: now)
        if let tls {
            guard let session = tls.makeSession(fd: fd) else {
                Log.warning("cannot create a TLS session for fd \(fd)")
                connection.terminate(reason: nil)
                return
            }
            connection.tls = session
        }
        guard connection.start() else { return }
        nextID += 1
        connection.id = nextID
        byID[nextID] = connection
        connection.listIndex = connections.count
        connections.append(connection)
        stats.connectionOpened()
    }

    /// Forgets a closed connection.
    func remove(_ connection: Connection) {
        let index = connection.listIndex
        guard index >= 0, index < connections.count, connections[index] === connection else { return }
        let last = connections.removeLast()
        if last !== connection {
            connections[index] = last
            last.listIndex = index
        }
        connection.listIndex = -1
        byID[connection.id] = nil
        unsubscribe(connection)
        stats.connectionClosed()
    }

    /// The open connection with this id, if it is still open.
    func connection(_ id: UInt64) -> Connection? {
        byID[id]
    }

    /// Adds `connection` to a room stream from `startSeq` on.
    func subscribe(_ connection: Connection, room: String, audience: Audience, startSeq: UInt64) {
        unsubscribe(connection)
        connection.subscription = Subscription(room: room, audience: audience, startSeq: startSeq)
        if subscribers[room] == nil { subscribers[room] = Array(repeating: [], count: Audience.allCases.count) }
        // Mutated in place: no copy of the subscriber list per join.
        connection.subscriberIndex = subscribers[room]![audience.rawValue].count
        subscribers[room]![audience.rawValue].append(connection)
    }

    /// Removes `connection` from its stream, if any.
    func unsubscribe(_ connection: Connection) {
        guard let subscription = connection.subscription else { return }
        connection.subscription = nil
        let index = connection.subscriberIndex
        connection.subscriberIndex = -1
        let slot = subscription.audience.rawValue
        guard subscribers[subscription.room] != nil else { return }
        let count = subscribers[subscription.room]![slot].count
        guard index >= 0, index < count, subscribers[subscription.room]![slot][index] === connection else { return }
        if index != count - 1 {
            subscribers[subscription.room]![slot].swapAt(index, count - 1)
            subscribers[subscription.room]![slot][index].subscriberIndex = index
        }
        subscribers[subscription.room]![slot].removeLast()
    }

    /// Queues each delivery on the local subscribers of its stream. The connections written
    /// to are flushed once at the end of the loop turn (one `writev` per connection for
    /// every frame queued to it during the turn).
    func deliver(_ deliveries: [Delivery]) {
        var deliveredCount = 0
        defer { stats.deliveries.wrappingAdd(deliveredCount, ordering: .relaxed) }
        for delivery in deliveries {
            guard let lists = subscribers[delivery.room] else { continue }
            if delivery.orderStamp != 0 && !lists[delivery.audience.rawValue].isEmpty {
                pendingStamps.append((delivery.audience, delivery.orderStamp))
            }
            for connection in lists[delivery.audience.rawValue]
            where delivery.seq > connection.startSeq {
                markDirty(connection)
                connection.deliver(delivery.frame, key: delivery.key)
                deliveredCount += 1
            }
        }
    }

    /// Flushes every connection a delivery wrote to during this loop turn.
    /// Queues `frame` on `connection` to be flushed at the end of this loop turn together with
    /// everything else it gets in the turn (results of a durable batch arrive in a burst).
    func sendAtEndOfTurn(_ frame: SharedBytes, to connection: Connection) {
        connection.send(frame)
        markDirty(connection)
    }

    /// Puts `connection` on this turn's flush list (the priority lane's or the viewers').
    /// A connection whose socket is full waits for EPOLLOUT: no flush until then.
    @inline(__always)
    private func markDirty(_ connection: Connection) {
        if !connection.isFlushPending && !connection.isBlocked {
            connection.isFlushPending = true
            if connection.isPriority { dirty.append(connection) } else { dirtyViewers.append(connection) }
        }
    }

    func flushDirty() {
        for connection in dirty {
            connection.isFlushPending = false
            connection.flush()
        }
        dirty.removeAll(keepingCapacity: true)
        observeStamps(priority: true)
        for connection in dirtyViewers {
            connection.isFlushPending = false
            connection.flush()
        }
        dirtyViewers.removeAll(keepingCapacity: true)
        observeStamps(priority: false)
    }

    /// Records order → flush latencies of the priority lane (after its flush) or of viewers.
    private func observeStamps(priority: Bool) {
        guard !pendingStamps.isEmpty else { return }
        let now = Posix.monotonicNanoseconds()
        for (audience, stamp) in pendingStamps where (audience != .viewer) == priority && now > stamp {
            stats.orderToDelivery[audience.rawValue].observe(nanoseconds: now - stamp)
        }
        if !priority { pendingStamps.removeAll(keepingCapacity: true) }
    }

    /// Counts an upgrade.
    func didUpgrade() {
        stats.upgraded()
    }

    private func tick(now: UInt64) {
        for listener in listeners { listener.resumeIfPaused() }
        // Iterate over a snapshot: ticks may close (and so remove) connections.
        let snapshot = connections
        for connection in snapshot {
            connection.tick(now: now)
        }
    }

    /// Stops accepting and starts closing every connection: WebSockets get 1001 Going Away.
    func beginShutdown() {
        isShuttingDown = true
        for listener in listeners { listener.close() }
        listeners.removeAll()
        let snapshot = connections
        for connection in snapshot {
            connection.close(code: 1001, reason: "server shutting down")
        }
    }

    /// Closes `fraction` of this loop's viewers (of `room`, or of every room) with 1012
    /// "reconnect now", so that a drain sends viewers away in waves rather than all at once.
    ///
    /// - Returns: how many were closed.
    @discardableResult
    func drainViewers(room: String?, fraction: Double, reason: String) -> Int {
        var closed = 0
        for (roomId, lists) in subscribers where room == nil || roomId == room {
            let viewers = lists[Audience.viewer.rawValue]
            let count = fraction >= 1 ? viewers.count : Int((Double(viewers.count) * fraction).rounded(.up))
            for connection in viewers.prefix(count) {
                connection.close(code: WebSocketCloseCode.serviceRestart, reason: reason)
                closed += 1
            }
        }
        return closed
    }

    /// Closes whatever is still open.
    func terminateAll() {
        let snapshot = connections
        for connection in snapshot {
            connection.terminate(reason: "shutdown deadline passed")
        }
    }
}
