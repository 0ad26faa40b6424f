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
    /// Whether permessage-deflate is negotiated with clients that offer it.
    var compression = false
    /// Messages below this size go out uncompressed.
    var compressionMinimumBytes = 128
}

/// The gateway's state on one loop: its connections, the shared router and settings.
///
/// Loop-confined: created for one loop, handed to it in a ``LoopBound`` and touched only on
/// its thread from then on (other threads reach it with `LoopBound.execute`).
final class LoopContext {
    let loop: EventLoop
    /// The routes; set by ``start(router:listeners:tlsListeners:tlsContext:handle:afterEvents:)``.
    private(set) var router = Router()
    /// This context as other threads reach it (set at start, cleared at ``stop()``).
    private(set) var handle: LoopBound<LoopContext>?
    let settings: ConnectionSettings
    let stats: ServerStats
    private(set) var connections: [Connection] = []
    private(set) var listeners: [Listener] = []
    /// The loop's notion of now (monotonic ms), refreshed every tick and read.
    var now: UInt64 { Posix.monotonicMilliseconds() }
    private(set) var isShuttingDown = false
    /// Called once when the last connection is gone after ``beginShutdown(whenClosed:)``.
    private var whenClosed: (() -> Void)?
    /// Open connections by id, so results from other threads find their connection.
    private var byID: [UInt64: Connection] = [:]
    private var nextID: UInt64
    /// Who receives which room stream on this loop.
    private(set) var fanout = Fanout()
    /// Connections written to during this loop turn, flushed once at its end: the priority
    /// lane (host, operator, connector) first, then viewers.
    private var dirty: [Connection] = []
    private var dirtyViewers: [Connection] = []
    /// Order stamps of the stock messages queued this turn, by audience (measured at the flush).
    private var pendingStamps: [(audience: Audience, stamp: UInt64)] = []
    /// Where a TLS connection's small frames are gathered into one record (16 KiB, TLS's
    /// largest record payload); allocated on first use, so a plain-only loop has none.
    private(set) lazy var tlsScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 16)
    /// Where a plain connection's small frames are gathered into one buffer for one write
    /// (``OutboundQueue/flush(fd:scratch:)``); 64 KiB, allocated on first use.
    private(set) lazy var writeScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    /// Inflates the compressed messages of every connection on this loop (each client was
    /// asked for `client_no_context_takeover`, so a message carries no state to the next);
    /// made on first use.
    private(set) lazy var inflater = MessageInflater()
    /// Compresses what one connection alone receives (`/echo`); room publications are
    /// compressed once in ``StreamHub``. Made on first use.
    private(set) lazy var deflater = MessageDeflater()

    /// Creates the context of `loop`; it does nothing until ``start(router:listeners:tlsListeners:tlsContext:handle:afterEvents:)``.
    init(loop: EventLoop, settings: ConnectionSettings, stats: ServerStats) {
        self.loop = loop
        self.settings = settings
        self.stats = stats
        nextID = UInt64(loop.index) << 48
    }

    /// Starts serving on the loop thread: hooks the loop's tick and end-of-turn flush and
    /// starts accepting on `listeners` (plain) and `tlsListeners` (with `tlsContext()`).
    ///
    /// - Parameters:
    ///   - handle: the `LoopBound` this context lives in, which its connections hand out to
    ///     other threads (``ConnectionHandle``).
    ///   - afterEvents: run after each batch of events and before the end-of-turn flush (the
    ///     gateway wakes the stock core's writer for the orders the turn read).
    func start(
        router: Router, listeners: [Listener], tlsListeners: [Listener],
        tlsContext: @escaping @Sendable () -> TLSContext?, handle: LoopBound<LoopContext>,
        afterEvents: (@Sendable () -> Void)? = nil
    ) {
        self.router = router
        self.handle = handle
        loop.onTick = { [unowned self] now in self.tick(now: now) }
        loop.afterEvents = afterEvents
        loop.beforeSleep = { [unowned self] in self.flushDirty() }
        for listener in listeners {
            startListener(listener) { [unowned self] fd in self.accept(fd: fd) }
        }
        for listener in tlsListeners {
            startListener(listener) { [unowned self] fd in self.accept(fd: fd, tls: tlsContext()) }
        }
    }

    private func startListener(_ listener: Listener, onAccept: @escaping (CInt) -> Void) {
        do {
            try listener.start(onAccept: onAccept)
            listeners.append(listener)
        } catch {
            Log.error("loop \(loop.index): cannot watch the listener on port \(listener.port): \(error)")
            listener.close()
        }
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
        fanout.unsubscribe(connection)
        stats.connectionClosed()
        if isShuttingDown && connections.isEmpty { reportClosed() }
    }

    private func reportClosed() {
        let whenClosed = self.whenClosed
        self.whenClosed = nil
        whenClosed?()
    }

    /// The open connection with this id, if it is still open.
    func connection(_ id: UInt64) -> Connection? {
        byID[id]
    }

    /// Adds `connection` to a room stream from `startSeq` on.
    func subscribe(_ connection: Connection, room: String, audience: Audience, startSeq: UInt64) {
        fanout.subscribe(connection, room: room, audience: audience, startSeq: startSeq)
    }

    /// Removes `connection` from its stream, if any.
    func unsubscribe(_ connection: Connection) {
        fanout.unsubscribe(connection)
    }

    /// Queues each delivery on the local subscribers of its stream. The connections written
    /// to are flushed once at the end of the loop turn (one `writev` per connection for
    /// every frame queued to it during the turn).
    func deliver(_ deliveries: [Delivery]) {
        var deliveredCount = 0
        defer { stats.deliveries.wrappingAdd(deliveredCount, ordering: .relaxed) }
        for delivery in deliveries {
            let subscribers = fanout.subscribers(room: delivery.room, audience: delivery.audience)
            if delivery.orderStamp != 0 && !subscribers.isEmpty {
                pendingStamps.append((delivery.audience, delivery.orderStamp))
            }
            for subscriber in subscribers where delivery.seq > subscriber.startSeq {
                let connection = subscriber.connection
                markDirty(connection)
                connection.deliver(delivery.frame, key: delivery.key)
                deliveredCount += 1
            }
        }
    }

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
    ///
    /// - Parameter whenClosed: called on the loop thread once this loop has no connection left.
    func beginShutdown(whenClosed: @escaping () -> Void = {}) {
        isShuttingDown = true
        self.whenClosed = whenClosed
        for listener in listeners { listener.close() }
        listeners.removeAll()
        let snapshot = connections
        for connection in snapshot {
            connection.close(.goingAway, reason: "server shutting down")
        }
        if connections.isEmpty { reportClosed() }
    }

    /// Sends viewers (of `room`, or of every room) away with 1012 "reconnect now" in `waves`
    /// waves spread evenly over `seconds`, on this loop's timers: the first wave at once, each
    /// closing 1/(waves left) of the viewers still connected, so the last one closes the
    /// rest. The one drain: the operator's `drain` command and a SIGTERM shutdown both use it.
    ///
    /// - Parameters:
    ///   - room: the room whose viewers go, or `nil` for every room.
    ///   - waves: how many waves (at least 1).
    ///   - seconds: the time from the first wave to the last.
    ///   - reason: the close frame's reason.
    ///   - then: called on the loop thread right after the last wave.
    func scheduleDrain(
        room: String?, waves: Int, over seconds: Double, reason: String, everyone: Bool = false, then: (() -> Void)? = nil
    ) {
        let waves = max(1, waves)
        let totalMs = seconds > 0 ? UInt64(seconds * 1000) : 0
        for wave in 0..<waves {
            let fraction = 1.0 / Double(waves - wave)
            let isLast = wave == waves - 1
            loop.schedule(afterMilliseconds: totalMs * UInt64(wave) / UInt64(waves)) { [unowned self] in
                drainViewers(room: room, fraction: fraction, reason: reason, audiences: everyone ? Audience.allCases : [.viewer])
                if isLast { then?() }
            }
        }
    }

    /// Closes `fraction` of this loop's viewers (of `room`, or of every room) with 1012; with more
    /// `audiences`, their subscribers too (an edge whose core restarted).
    ///
    /// - Returns: how many were closed.
    @discardableResult
    private func drainViewers(room: String?, fraction: Double, reason: String, audiences: [Audience] = [.viewer]) -> Int {
        var closed = 0
        // The lists are copies: closing a viewer takes it off the live list.
        for audience in audiences {
            for viewers in fanout.lists(of: audience, room: room) {
                let count = fraction >= 1 ? viewers.count : Int((Double(viewers.count) * fraction).rounded(.up))
                for viewer in viewers.prefix(count) {
                    viewer.connection.close(.serviceRestart, reason: reason)
                    closed += 1
                }
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

    /// Lets go of the loop (its tick and flush hooks) and of ``handle``, once the server is
    /// done with this loop; the context is then freed with it.
    func stop() {
        terminateAll()
        for listener in listeners { listener.close() }
        listeners.removeAll()
        loop.onTick = nil
        loop.afterEvents = nil
        loop.beforeSleep = nil
        handle = nil
    }
}

/// Loop-confined: other threads reach a context only through its ``LoopBound``.
@available(*, unavailable)
extension LoopContext: Sendable {}
