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
    let stats = ServerStats()
    private let boundPort = Atomic<Int>(0)
    private let boundTLSPort = Atomic<Int>(0)
    /// The TLS context new TLS connections use; replaced by ``reloadTLS()``.
    private let tlsContext = Mutex<TLSContext?>(nil)

    /// Creates a server (no socket yet).
    public init(configuration: Configuration) throws {
        self.configuration = configuration
        group = try EventLoopGroup(count: configuration.effectiveIOThreads)
        // OpenSSL initialises itself on the first digest (providers, tables: about 2 MB of its
        // pages); do it now rather than inside the first client's handshake.
        _ = WebSocketHandshake.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==")
    }

    /// The event loops (for the fan-out).
    public var loops: [EventLoop] { group.loops }

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

    /// Open connections right now.
    public var openConnections: Int { stats.openConnections.load(ordering: .relaxed) }

    /// Binds the listeners and starts the loops.
    ///
    /// - Throws: the first bind or listen error (e.g. the port is in use).
    public func start() throws {
        try start(router: makeBaseRouter())
    }

    /// Binds the listeners and starts the loops with `router`.
    func start(router: Router) throws {
        let settings = ConnectionSettings(
            maxHeadBytes: configuration.maxHeadBytes,
            maxBodyBytes: configuration.maxBodyBytes,
            handshakeTimeoutMs: UInt64(configuration.handshakeTimeoutSeconds * 1000),
            idlePingMs: UInt64(configuration.idlePingSeconds * 1000),
            closeTimeoutMs: UInt64(configuration.closeTimeoutSeconds * 1000),
            outboundHighWaterBytes: configuration.outboundHighWaterBytes)
        var port = configuration.port
        var tlsPort = configuration.tlsPort ?? 0
        if configuration.tlsPort != nil {
            try reloadTLS()
        }
        // Listeners are created here, before the loop threads run, and only touched on
        // their loop afterwards.
        for loop in group.loops {
            let context = LoopContext(loop: loop, router: router, settings: settings, stats: stats)
            if configuration.plainListener || configuration.tlsPort == nil {
                let listener = try Listener(host: configuration.host, port: port, loop: loop) { [unowned context] fd in
                    context.accept(fd: fd)
                }
                port = listener.port
                context.addListener(listener)
            }
            if configuration.tlsPort != nil {
                let listener = try Listener(host: configuration.host, port: tlsPort, loop: loop) { [unowned context, weak self] fd in
                    context.accept(fd: fd, tls: self?.currentTLSContext)
                }
                tlsPort = listener.port
                context.addListener(listener)
            }
            loop.attachment = context
        }
        boundPort.store(configuration.plainListener || configuration.tlsPort == nil ? port : 0, ordering: .releasing)
        boundTLSPort.store(configuration.tlsPort == nil ? 0 : tlsPort, ordering: .releasing)
        group.start()
    }

    /// Stops accepting, closes every WebSocket with 1001 Going Away and every idle HTTP
    /// connection, waits up to the grace period for close handshakes, then drops the rest
    /// and stops the loops.
    public func shutdown(drainWaves: Int = 0) {
        if drainWaves > 0 {
            drain(room: nil, waves: drainWaves, over: configuration.shutdownGraceSeconds / 2,
                  reason: "server restarting; reconnect now")
        }
        for loop in group.loops {
            loop.execute { [self] in
                context(for: loop)?.beginShutdown()
            }
        }
        let deadline = Posix.monotonicMilliseconds() + UInt64(configuration.shutdownGraceSeconds * 1000)
        while openConnections > 0 && Posix.monotonicMilliseconds() < deadline {
            usleep(10_000)
        }
        let remaining = openConnections
        if remaining > 0 {
            Log.warning("shutdown: dropping \(remaining) connection(s) that did not finish closing")
            let done = DispatchGroup()
            for loop in group.loops {
                done.enter()
                loop.execute { [self] in
                    context(for: loop)?.terminateAll()
                    done.leave()
                }
            }
            _ = done.wait(timeout: .now() + 2)
        }
        group.stopAndWait()
    }

    /// Closes viewers (of `room`, or all) with 1012 in `waves` waves spread over `seconds`,
    /// blocking the caller until the last wave is sent.
    public func drain(room: String?, waves: Int, over seconds: Double, reason: String) {
        let waves = max(1, waves)
        for wave in 0..<waves {
            // Each wave closes 1/(waves left) of what is left, so the last one closes the rest.
            let fraction = 1.0 / Double(waves - wave)
            for loop in group.loops {
                loop.execute { [self] in
                    context(for: loop)?.drainViewers(room: room, fraction: fraction, reason: reason)
                }
            }
            if wave < waves - 1 { usleep(useconds_t(seconds / Double(waves) * 1_000_000)) }
        }
    }

    /// The gateway state of `loop`; call on that loop's thread.
    private func context(for loop: EventLoop) -> LoopContext? {
        loop.attachment as? LoopContext
    }
}
