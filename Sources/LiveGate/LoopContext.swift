import LiveGateCore
import LiveGatePOSIX

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

    init(loop: EventLoop, router: Router, settings: ConnectionSettings, stats: ServerStats) {
        self.loop = loop
        self.router = router
        self.settings = settings
        self.stats = stats
        loop.onTick = { [unowned self] now in self.tick(now: now) }
    }

    func addListener(_ listener: Listener) {
        listeners.append(listener)
    }

    /// Takes ownership of an accepted descriptor.
    func accept(fd: CInt) {
        if isShuttingDown {
            Posix.close(fd: fd)
            return
        }
        let connection = Connection(fd: fd, loop: loop, context: self, now: now)
        guard connection.start() else { return }
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
        stats.connectionClosed()
    }

    /// Counts an upgrade.
    func didUpgrade() {
        stats.upgraded()
    }

    private func tick(now: UInt64) {
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

    /// Closes whatever is still open.
    func terminateAll() {
        let snapshot = connections
        for connection in snapshot {
            connection.terminate(reason: "shutdown deadline passed")
        }
    }
}
