import LiveGateCore
import LiveGatePOSIX
import LiveGateTLS

/// Why a command got no reply from the server.
public enum RedisError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not connected (connecting, backing off, or stopped): the command was not sent.
    case notConnected(String)
    /// The connection was lost after the command was written: it may or may not have run.
    case connectionLost(String)
    /// The server answered with an error reply (`-ERR …`).
    case server(String)

    public var description: String {
        switch self {
        case .notConnected(let why): "redis not connected: \(why)"
        case .connectionLost(let why): "redis connection lost: \(why)"
        case .server(let message): "redis error: \(message)"
        }
    }
}

/// A Redis connection owned by one event loop: commands are written as they come (pipelined:
/// many in flight, answered in order), replies are parsed as they arrive, and a lost connection
/// is reopened with exponential backoff (50 ms doubling to 2 s). Every method runs on the loop
/// thread; other threads use `loop.execute`.
///
/// A command sent while the client is not ready fails at once with ``RedisError/notConnected(_:)``
/// and one that was in flight when the connection dropped with ``RedisError/connectionLost(_:)``:
/// the caller decides whether to retry (safe for idempotent writes such as `XADD` with an
/// explicit id). After each (re)connection the client logs in (`AUTH`) and selects the URL's
/// database before it reports ``State/ready``.
///
/// With `rediss://` the connection is TLS (``TLSClientContext``: the server's certificate is
/// verified and must name the URL's host): the handshake runs on the loop as part of
/// ``State/connecting``, and the client is ready only after a reply came back over TLS (the
/// login, or a `PING` when there is none), so a server that refuses the client's certificate
/// after the handshake is a lost connection, not a ready one. A handshake that fails is a lost
/// connection whose reason starts with `TLS:` and goes through the same backoff.
public final class RedisClient: EventHandler {
    public enum State: Equatable, Sendable {
        case idle
        /// Connecting: the TCP connection, then for `rediss://` the TLS handshake.
        case connecting
        case handshaking
        case ready
        case backingOff(untilMilliseconds: UInt64)
        case stopped
    }

    public typealias Completion = (Result<RESPValue, RedisError>) -> Void

    public let url: RedisURL
    /// The TLS configuration for `rediss://` (`nil` for `redis://`).
    private let tls: TLSClientContext?
    private unowned let loop: EventLoop
    public private(set) var state: State = .idle
    /// Called on the loop thread at every state change.
    public var onStateChange: ((State) -> Void)?
    /// Called for out-of-band RESP3 pushes.
    public var onPush: ((RESPValue) -> Void)?

    private var fd: CInt = -1
    private var registration: EventRegistration?
    /// The TCP connection is up (for `rediss://`, ``State/connecting`` then means the TLS handshake).
    private var isSocketConnected = false
    /// The connection's TLS session (`rediss://`), from the socket's connection on.
    private var session: TLSSession?
    /// A TLS write that needs the socket readable first (flush again once it is).
    private var writeWantsRead = false
    /// A TLS read that needs the socket writable first (read again once it is).
    private var readWantsWrite = false
    private var parser: RESPParser
    private var outbound: [UInt8] = []
    private var outboundStart = 0
    /// Completions of the commands written, in order; the handshake's come first.
    private var pending: [Completion] = []
    private var pendingStart = 0
    private var backoff: UInt64 = 50
    private var lastError = "not started"
    private var lastLoggedReason = ""
    private var lastLoggedAt: UInt64 = 0
    private var connectStartedAt: UInt64 = 0
    /// When the last reply arrived, or a command was written while none was in flight.
    private var lastProgressAt: UInt64 = 0
    /// Milliseconds a connection attempt may take.
    public var connectTimeout: UInt64 = 5_000
    /// Milliseconds commands may wait for a reply before the connection counts as lost (longer
    /// than any `BLOCK` the caller uses).
    public var replyTimeout: UInt64 = 10_000
    /// Connections made since start (the first included) and replies received.
    public private(set) var connectionCount = 0
    public private(set) var reconnectCount = 0

    /// A client of the server at `url`, owned by `loop`.
    ///
    /// - Parameter tls: for `rediss://`, the TLS configuration (trusted CAs, client certificate);
    ///   `nil`: the system's CA certificates and no client certificate. Ignored for `redis://`.
    public init(url: RedisURL, loop: EventLoop, tls: TLSClientContext? = nil, limits: RESPParser.Limits = RESPParser.Limits()) {
        self.url = url
        self.loop = loop
        self.tls = url.usesTLS ? (tls ?? (try? TLSClientContext())) : nil
        self.parser = RESPParser(limits: limits)
    }

    /// Commands written whose reply has not arrived.
    public var inFlightCount: Int { pending.count - pendingStart }

    /// Connects (and keeps reconnecting until ``stop()``).
    public func start() {
        precondition(loop.inEventLoop, "RedisClient.start called off its loop")
        guard state == .idle else { return }
        connect()
        watchdog()
    }

    /// Every second: a connection attempt (TCP, then TLS) that takes longer than ``connectTimeout``
    /// or commands without a reply for ``replyTimeout`` mean the connection is gone even without a
    /// reset (a partition, a host that lost power): it is closed and opened again.
    private func watchdog() {
        loop.schedule(afterMilliseconds: 1_000) { [weak self] in
            guard let self, self.state != .stopped else { return }
            let now = Posix.monotonicMilliseconds()
            if self.state == .connecting, now >= self.connectStartedAt + self.connectTimeout {
                // A server that takes the TCP connection but never answers the TLS handshake
                // (a plain Redis waits for the end of a line that a ClientHello does not have).
                let step = self.isSocketConnected ? "TLS: handshake" : "connect"
                self.lost(reason: "\(step) timed out after \(self.connectTimeout / 1000) s")
            } else if self.fd >= 0, self.inFlightCount > 0, now >= self.lastProgressAt + self.replyTimeout {
                self.lost(reason: "no reply for \(self.replyTimeout / 1000) s")
            }
            self.watchdog()
        }
    }

    /// Closes the connection; in-flight commands fail with `connectionLost`.
    public func stop() {
        precondition(loop.inEventLoop, "RedisClient.stop called off its loop")
        setState(.stopped)
        disconnect(reason: "stopped", closeNotify: true)
    }

    /// Sends one command; `completion` runs on the loop with its reply (an error reply is
    /// ``RedisError/server(_:)``).
    public func send(_ arguments: [String], completion: @escaping Completion) {
        precondition(loop.inEventLoop, "RedisClient.send called off its loop")
        guard state == .ready else {
            completion(.failure(.notConnected(lastError)))
            return
        }
        if inFlightCount == 0 { lastProgressAt = Posix.monotonicMilliseconds() }
        RESPEncoder.append(arguments, to: &outbound)
        pending.append(completion)
        flush()
    }


    /// Sends several commands in one write (one round trip); `completion` gets their replies
    /// in order once the last has arrived, or the first failure that stopped them all.
    public func pipeline(_ commands: [[String]], completion: @escaping (Result<[RESPValue], RedisError>) -> Void) {
        precondition(loop.inEventLoop, "RedisClient.pipeline called off its loop")
        guard state == .ready else {
            completion(.failure(.notConnected(lastError)))
            return
        }
        guard !commands.isEmpty else {
            completion(.success([]))
            return
        }
        if inFlightCount == 0 { lastProgressAt = Posix.monotonicMilliseconds() }
        var replies: [RESPValue] = []
        replies.reserveCapacity(commands.count)
        var failed = false
        for (index, command) in commands.enumerated() {
            RESPEncoder.append(command, to: &outbound)
            let isLast = index == commands.count - 1
            pending.append { result in
                switch result {
                case .success(let value): replies.append(value)
                case .failure(.server(let message)): replies.append(.error(message))
                case .failure(let error):
                    if !failed {
                        failed = true
                        completion(.failure(error))
                    }
                    return
                }
                if isLast && !failed { completion(.success(replies)) }
            }
        }
        flush()
    }

    // MARK: - Connection

    private func setState(_ new: State) {
        guard new != state else { return }
        state = new
        onStateChange?(new)
    }

    private func connect() {
        if url.usesTLS && tls == nil {
            lastError = "TLS: the system's CA certificates could not be loaded"
            Log.event(.error, "redis_unsupported", ["url": url.description, "reason": lastError])
            setState(.stopped)
            return
        }
        setState(.connecting)
        connectStartedAt = Posix.monotonicMilliseconds()
        isSocketConnected = false
        do {
            let (newFD, isConnected) = try Posix.connectTCP(host: url.host, port: url.port)
            fd = newFD
            registration = try loop.register(fd: fd, events: Epoll.readable | Epoll.writable, handler: self)
            isWatchingWritable = true
            if isConnected { socketConnected() }
        } catch {
            lost(reason: "\(error)")
        }
    }

    /// The TCP connection is up: log in now, or first shake hands over TLS.
    private func socketConnected() {
        isSocketConnected = true
        guard let tls else {
            connected()
            return
        }
        do {
            session = try tls.makeSession(fd: fd, host: url.host)
        } catch {
            lost(reason: "TLS: \(error)")
            return
        }
        advanceTLSHandshake()
    }

    /// Drives the TLS handshake; the connection is up when it completes.
    private func advanceTLSHandshake() {
        guard let session else { return }
        switch session.handshake() {
        case .done: connected()
        case .wantsRead: watch(writable: false)
        case .wantsWrite: watch(writable: true)
        case .failed(let reason): lost(reason: "TLS: \(reason)")
        }
    }

    private func connected() {
        connectionCount += 1
        if connectionCount > 1 { reconnectCount += 1 }
        setState(.handshaking)
        // The login and the database, pipelined; ready when both answered.
        var steps: [[String]] = []
        if let password = url.password {
            steps.append(url.user.map { ["AUTH", $0, password] } ?? ["AUTH", password])
        }
        if url.database != 0 { steps.append(["SELECT", String(url.database)]) }
        // Over TLS a reply must come back before the connection counts: a server that refuses
        // the client's certificate says so after the client's side of the handshake is done.
        if steps.isEmpty && session != nil { steps.append(["PING"]) }
        guard !steps.isEmpty else {
            becomeReady()
            return
        }
        var remaining = steps.count
        lastProgressAt = Posix.monotonicMilliseconds()
        for step in steps {
            RESPEncoder.append(step, to: &outbound)
            pending.append { [weak self] result in
                guard let self else { return }
                switch result {
                case .success:
                    remaining -= 1
                    if remaining == 0 { self.becomeReady() }
                case .failure(let error):
                    guard remaining > 0 else { return }
                    remaining = 0
                    // A refused login will not succeed by retrying fast: back off like any failure.
                    // (A connection lost with the step in flight is already backing off.)
                    if case .server = error { self.lost(reason: "\(step[0]) refused: \(error)") }
                }
            }
        }
        flush()
    }

    private func becomeReady() {
        backoff = 50
        lastError = "ready"
        Log.event(.info, "redis_ready", ["url": url.description, "connections": String(connectionCount)])
        setState(.ready)
    }

    /// Closes the socket (after TLS's close_notify when `closeNotify` and the session is
    /// healthy) and fails what was in flight.
    private func disconnect(reason: String, closeNotify: Bool = false) {
        if let registration {
            loop.deregister(registration)
            self.registration = nil
        }
        if closeNotify { session?.shutdown() }
        session = nil
        isSocketConnected = false
        writeWantsRead = false
        readWantsWrite = false
        if fd >= 0 {
            Posix.close(fd: fd)
            fd = -1
        }
        outbound.removeAll(keepingCapacity: false)
        outboundStart = 0
        parser = RESPParser(limits: parser.limits)
        let failed = pending[pendingStart...]
        pending = []
        pendingStart = 0
        for completion in failed { completion(.failure(.connectionLost(reason))) }
    }

    /// The connection failed or dropped: fail what was in flight, then retry after the backoff.
    /// Once per connection: a second report of the same loss (a completion failed by it, an
    /// event already queued) finds the client backing off and changes nothing.
    private func lost(reason: String) {
        guard state != .stopped else { return }
        if case .backingOff = state { return }
        let wasReady = state == .ready
        lastError = reason
        let delay = backoff
        backoff = min(backoff * 2, 2_000)
        // One line per outage and per new reason, then one every 30 s while it lasts.
        let now = Posix.monotonicMilliseconds()
        if wasReady || reason != lastLoggedReason || now >= lastLoggedAt + 30_000 {
            lastLoggedReason = reason
            lastLoggedAt = now
            Log.event(.warning, "redis_down", ["url": url.description, "reason": reason, "retryMs": String(delay)])
        }
        // Not ready before the completions run: one that sends again is refused, not queued
        // ahead of the next connection's login.
        setState(.backingOff(untilMilliseconds: Posix.monotonicMilliseconds() + delay))
        disconnect(reason: reason)
        guard case .backingOff = state else { return }  // a completion stopped the client
        loop.schedule(afterMilliseconds: delay) { [weak self] in
            guard let self, case .backingOff = self.state else { return }
            self.connect()
        }
    }

    // MARK: - I/O

    public func handleEvent(_ events: UInt32) {
        guard fd >= 0 else { return }
        if state == .connecting {
            if !isSocketConnected {
                guard events & (Epoll.writable | Epoll.errorOrHangup) != 0 else { return }
                if let error = Posix.pendingSocketError(fd: fd) {
                    lost(reason: "\(error)")
                    return
                }
                socketConnected()
            } else {
                advanceTLSHandshake()
            }
            guard fd >= 0, state != .connecting else { return }
        }
        let readable = events & (Epoll.readable | Epoll.hangup) != 0
        let writable = events & Epoll.writable != 0
        if writable || (readable && writeWantsRead) { flush() }
        if fd >= 0 && (readable || (writable && readWantsWrite)) { readAvailable() }
    }

    private func flush() {
        guard fd >= 0, state != .connecting else { return }
        if let session {
            flushTLS(session)
            return
        }
        while outboundStart < outbound.count {
            let result: IOResult<Int>
            do {
                result = try outbound.withUnsafeBytes { raw throws(IOError) in
                    try Posix.write(fd: fd, UnsafeRawBufferPointer(rebasing: raw[outboundStart...]))
                }
            } catch {
                lost(reason: "\(error)")
                return
            }
            switch result {
            case .processed(let count): outboundStart += count
            case .wouldBlock:
                watch(writable: true)
                return
            }
        }
        outbound.removeAll(keepingCapacity: outbound.capacity <= 1 << 20)
        outboundStart = 0
        watch(writable: false)
    }

    /// `flush` through TLS: SSL_write may take part of the bytes, or want the socket readable.
    private func flushTLS(_ session: TLSSession) {
        writeWantsRead = false
        while outboundStart < outbound.count {
            // A retry after a want passes the same bytes from the same start, perhaps more of
            // them (the session accepts a moving, growing buffer).
            let outcome = outbound.withUnsafeBytes { raw in
                session.write(UnsafeRawBufferPointer(rebasing: raw[outboundStart...]))
            }
            switch outcome {
            case .done(0):
                lost(reason: "the server closed the connection (TLS close_notify)")
                return
            case .done(let count): outboundStart += count
            case .wantsWrite:
                watch(writable: true)
                return
            case .wantsRead:
                // Retried when the socket is readable (not on every writable wakeup: that spins).
                writeWantsRead = true
                watch(writable: readWantsWrite)
                return
            case .failed(let reason):
                lost(reason: "TLS: \(reason)")
                return
            }
        }
        outbound.removeAll(keepingCapacity: outbound.capacity <= 1 << 20)
        outboundStart = 0
        watch(writable: readWantsWrite)
    }

    private var isWatchingWritable = true

    private func watch(writable: Bool) {
        guard let registration, writable != isWatchingWritable else { return }
        isWatchingWritable = writable
        loop.modify(registration, events: writable ? Epoll.readable | Epoll.writable : Epoll.readable)
    }

    private func readAvailable() {
        if let session {
            readTLS(session)
            return
        }
        let buffer = loop.readBuffer
        while fd >= 0 {
            let result: IOResult<Int>
            do {
                result = try Posix.read(fd: fd, into: buffer)
            } catch {
                lost(reason: "\(error)")
                return
            }
            switch result {
            case .wouldBlock: return
            case .processed(0):
                lost(reason: "the server closed the connection")
                return
            case .processed(let count):
                parser.append(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                deliverReplies()
            }
        }
    }

    /// `readAvailable` through TLS: decrypted bytes until OpenSSL wants the socket again.
    private func readTLS(_ session: TLSSession) {
        readWantsWrite = false
        let buffer = loop.readBuffer
        // A completion may stop the client or lose the connection: then this session is done.
        while fd >= 0 && self.session === session {
            switch session.read(into: buffer) {
            case .done(0):
                lost(reason: "the server closed the connection (TLS close_notify)")
                return
            case .done(let count):
                parser.append(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                deliverReplies()
            case .wantsRead:
                // A write that waited for what this read took goes on now: no readable event
                // may come for it.
                if writeWantsRead && fd >= 0 { flush() }
                return
            case .wantsWrite:
                readWantsWrite = true
                watch(writable: true)
                return
            case .failed(let reason):
                lost(reason: "TLS: \(reason)")
                return
            }
        }
    }

    private func deliverReplies() {
        while fd >= 0 {
            let value: RESPValue?
            do {
                value = try parser.next()
            } catch {
                lost(reason: "\(error)")
                return
            }
            guard let value else { return }
            if case .push = value {
                onPush?(value)
                continue
            }
            guard pendingStart < pending.count else {
                lost(reason: "a reply nobody asked for")
                return
            }
            lastProgressAt = Posix.monotonicMilliseconds()
            let completion = pending[pendingStart]
            pendingStart += 1
            if pendingStart == pending.count {
                pending.removeAll(keepingCapacity: true)
                pendingStart = 0
            } else if pendingStart >= 1024 && pendingStart * 2 >= pending.count {
                pending.removeFirst(pendingStart)
                pendingStart = 0
            }
            if case .error(let message) = value {
                completion(.failure(.server(message)))
            } else {
                completion(.success(value))
            }
        }
    }
}
