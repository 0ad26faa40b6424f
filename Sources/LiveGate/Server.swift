import Dispatch
import Foundation
import LiveGateCore
import LiveGateHTTP
import LiveGatePOSIX
import LiveGateTLS
import LiveGateWebSocket
import Synchronization

/// The gateway process's network side: event loops, listeners and routes.
///
/// `start()` binds one `SO_REUSEPORT` listener per loop and starts the loop threads;
/// `shutdown()` stops accepting, closes WebSockets with 1001 and waits (bounded) for
/// the close handshakes.
public final class Server: Sendable {
    /// The configuration it was started with.
    public let configuration: Configuration
    private let group: EventLoopGroup
    let stats: ServerStats
    /// Each loop's gateway state, created up front and handed to its loop; other threads
    /// (the fan-out, the stock core's results) reach it through these.
    let contexts: [LoopBound<LoopContext>]
    private let boundPort = Atomic<Int>(0)
    /// Set by the first ``shutdown(drainWaves:)``; later calls return at once.
    private let isShutDown = Atomic<Bool>(false)
    private let boundTLSPort = Atomic<Int>(0)
    /// The TLS context new TLS connections use; replaced by ``reloadTLS()``.
    private let tlsContext = Mutex<TLSContext?>(nil)

    /// Creates a server: its loops and their contexts (no socket yet, no thread).
    public init(configuration: Configuration) throws {
        self.configuration = configuration
        let group = try EventLoopGroup(count: configuration.effectiveIOThreads)
        self.group = group
        let stats = ServerStats()
        self.stats = stats
        let settings = ConnectionSettings(
            maxHeadBytes: configuration.maxHeadBytes,
            maxBodyBytes: configuration.maxBodyBytes,
            handshakeTimeoutMs: UInt64(configuration.handshakeTimeoutSeconds * 1000),
            idlePingMs: UInt64(configuration.idlePingSeconds * 1000),
            closeTimeoutMs: UInt64(configuration.closeTimeoutSeconds * 1000),
            outboundHighWaterBytes: configuration.outboundHighWaterBytes,
            compression: configuration.compression,
            compressionMinimumBytes: configuration.compressionMinimumBytes)
        contexts = group.loops.map { loop in
            LoopBound(LoopContext(loop: loop, settings: settings, stats: stats), eventLoop: loop)
        }
        // OpenSSL initialises itself on the first digest (providers, tables: about 2 MB of its
        // pages); do it now rather than inside the first client's handshake.
        _ = WebSocketHandshake.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==")
    }

    /// The routes every server has: `/`, `/healthz`, and `/echo` when enabled.
    func makeBaseRouter() -> Router {
        var router = Router()
        if configuration.echo {
            router.webSocketEndpoints["/echo"] = WebSocketEndpoint(
                path: "/echo", maxMessageBytes: configuration.echoMaxMessageBytes,
                makeSession: { _ in EchoSession() })
        }
        return router
    }

    /// The port bound (after `start()`), useful with port 0.
    public var port: Int { boundPort.load(ordering: .acquiring) }

    /// The TLS port bound (after `start()`), or 0 without TLS.
    public var tlsPort: Int { boundTLSPort.load(ordering: .acquiring) }

    /// Loads the TLS certificate and key again (SIGHUP); connections already open keep theirs.
    ///
    /// - Throws: `TLSError` naming the file; the old context then stays in use.
    public func reloadTLS() throws {
        guard configuration.tlsPort != nil else { return }
        let context = try TLSContext(
            certificateChainPath: configuration.tlsCertificateChain, privateKeyPath: configuration.tlsPrivateKey)
        tlsContext.withLock { $0 = context }
    }

    private var currentTLSContext: TLSContext? { tlsContext.withLock { $0 } }

    /// The number of event loops.
    public var loopCount: Int { group.loops.count }
    /// The first event loop (where the cluster's Redis client lives).
    var firstLoop: EventLoop { group.loops[0] }

    /// Open connections right now.
    public var openConnections: Int { stats.openConnections.load(ordering: .relaxed) }

    /// Binds the listeners and starts the loops.
    ///
    /// - Throws: the first bind or listen error (e.g. the port is in use).
    public func start() throws {
        try start(router: makeBaseRouter())
    }

    /// Binds the listeners and starts the loops with `router`; `afterEvents` runs on each loop
    /// after its events and before its end-of-turn flush (``EventLoop/afterEvents``).
    func start(router: Router, afterEvents: (@Sendable () -> Void)? = nil) throws {
        var port = configuration.port
        var tlsPort = configuration.tlsPort ?? 0
        if configuration.tlsPort != nil {
            try reloadTLS()
        }
        let tlsContext: @Sendable () -> TLSContext? = { [weak self] in self?.currentTLSContext }
        if configuration.plainListener || configuration.tlsPort == nil {
            try Listener.checkPortIsFree(host: configuration.host, port: port)
        }
        try Listener.checkPortIsFree(host: configuration.host, port: tlsPort)
        // Listeners are bound here (so the port is known when this returns), then handed to
        // their loop, which starts watching them before it handles any event.
        for context in contexts {
            let (listeners, tlsListeners) = try makeListeners(loop: context.eventLoop, port: &port, tlsPort: &tlsPort)
            context.execute { value in
                value.start(
                    router: router, listeners: listeners, tlsListeners: tlsListeners, tlsContext: tlsContext, handle: context,
                    afterEvents: afterEvents)
            }
        }
        boundPort.store(configuration.plainListener || configuration.tlsPort == nil ? port : 0, ordering: .releasing)
        boundTLSPort.store(configuration.tlsPort == nil ? 0 : tlsPort, ordering: .releasing)
        group.start()
    }

    /// Binds the plain and TLS listeners of one loop, on the ports given (0: any), and
    /// returns the ports bound in their place.
    private func makeListeners(loop: EventLoop, port: inout Int, tlsPort: inout Int) throws
        -> sending (plain: [Listener], tls: [Listener])
    {
        var plain: [Listener] = []
        var secure: [Listener] = []
        if configuration.plainListener || configuration.tlsPort == nil {
            let listener = try Listener(host: configuration.host, port: port, loop: loop)
            port = listener.port
            plain.append(listener)
        }
        if configuration.tlsPort != nil {
            let listener = try Listener(host: configuration.host, port: tlsPort, loop: loop)
            tlsPort = listener.port
            secure.append(listener)
        }
        return (plain, secure)
    }

    /// Stops accepting, closes every WebSocket with 1001 Going Away and every idle HTTP
    /// connection, waits up to the grace period for close handshakes, then drops the rest
    /// and stops the loops. Only the first call does anything.
    ///
    /// - Parameter drainWaves: with more than 0, viewers are first sent away with 1012
    ///   "reconnect now" in that many waves over half the grace period (on each loop's timers),
    ///   and the 1001s go out after the last wave.
    public func shutdown(drainWaves: Int = 0) {
        guard !isShutDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let grace = configuration.shutdownGraceSeconds
        let drainSeconds = drainWaves > 0 ? grace / 2 : 0
        let closed = DispatchGroup()
        for context in contexts {
            closed.enter()
            context.execute { value in
                let begin = { value.beginShutdown { closed.leave() } }
                if drainWaves > 0 {
                    value.scheduleDrain(
                        room: nil, waves: drainWaves, over: drainSeconds, reason: "server restarting; reconnect now", then: begin)
                } else {
                    begin()
                }
            }
        }
        if closed.wait(timeout: .now() + drainSeconds + grace) == .timedOut {
            Log.warning("shutdown: dropping \(openConnections) connection(s) that did not finish closing")
        }
        let stopped = DispatchGroup()
        for context in contexts {
            stopped.enter()
            context.execute { value in
                value.stop()
                stopped.leave()
            }
        }
        _ = stopped.wait(timeout: .now() + 2)
        group.stopAndWait()
    }
}
