import Glibc
import LiveGateCore
import LiveGateHTTP
import LiveGatePOSIX
import LiveGateTLS
import LiveGateWebSocket

/// One client connection, from its first HTTP byte to its last WebSocket frame, owned by
/// one event loop for its whole life.
///
/// It speaks HTTP/1.1 with keep-alive until a request upgrades it, then RFC 6455. Every
/// close goes the same way: the last bytes (an HTTP error or a close frame) are flushed,
/// the sending side is shut down, and input is drained until the peer closes or the close
/// deadline passes, so the peer never gets a reset instead of our last words.
final class Connection: EventHandler {
    let fd: CInt
    private unowned let loop: EventLoop
    private unowned let context: LoopContext
    private var registration: EventRegistration?
    /// Where the connection is in its life (``State``, in Connection+State.swift).
    private(set) var state: State
    /// Whether the peer's bytes are read.
    private(set) var reading = Reading.open
    /// The loop context (the loop's gateway state).
    var loopContext: LoopContext { context }
    /// The loop that owns this connection.
    var eventLoop: EventLoop { loop }

    /// Position in the loop context's connection list (for O(1) removal).
    var listIndex = -1
    /// Unique within the process; what other threads use to reach this connection.
    var id: UInt64 = 0
    /// How other threads reach this connection (its loop's context and its id).
    var handle: ConnectionHandle {
        guard let contextHandle = context.handle else { preconditionFailure("connection \(id) on a stopped loop") }
        return ConnectionHandle(context: contextHandle, id: id)
    }
    /// Whether it is in the loop's list of connections to flush after a delivery batch.
    var isFlushPending = false
    /// Outbound bytes above which state frames are conflated (viewers; `Int.max`: never).
    var softBudget = Int.max
    /// Outbound bytes above which the connection is closed with 1013.
    var hardBudget = Int.max
    /// Host, operator and connector traffic: flushed first, never conflated.
    var isPriority = false
    /// Bytes queued and not yet written.
    var queuedBytes: Int { outbound.byteCount }
    /// Whether the socket is full and `EPOLLOUT` is armed: writing again before it fires is
    /// a wasted system call, so deliveries only queue.
    var isBlocked: Bool { isWatchingWritable && !outbound.isEmpty }
    /// The TLS session, for a connection accepted on the TLS listener.
    var tls: TLSSession?

    private var outbound = OutboundQueue()
    private var isWatchingWritable = false
    /// With permessage-deflate: the largest frame whose shared compressed form this client can
    /// inflate (its `server_max_window_bits`); 0 when it was not negotiated.
    private(set) var deflateFrameLimit = 0

    init(fd: CInt, loop: EventLoop, context: LoopContext, now: UInt64) {
        self.fd = fd
        self.loop = loop
        self.context = context
        state = .http(HTTPExchange(
            headParser: HTTPHeadParser(
                maxHeadBytes: context.settings.maxHeadBytes, maxBodyBytes: context.settings.maxBodyBytes),
            deadline: now + context.settings.handshakeTimeoutMs))
    }

    deinit {
        assert(state.isClosed, "leak of open Connection fd \(fd)")
    }

    /// Registers with the loop. Returns `false` (and closes) when that fails.
    func start() -> Bool {
        do {
            registration = try loop.register(fd: fd, events: Epoll.readable | Epoll.peerHangup, handler: self)
            return true
        } catch {
            Log.warning("cannot register connection fd \(fd): \(error)")
            state = .closed
            Posix.close(fd: fd)
            return false
        }
    }

    /// Moves to `next`. Leaving the open WebSocket ends its session, after the move, so the
    /// session sees a connection that no longer takes its messages.
    private func transition(to next: State) {
        let session = next.isWebSocket ? nil : state.session
        state = next
        session?.connectionDidClose(self)
    }

    // MARK: Events

    func handleEvent(_ events: UInt32) {
        if events & Epoll.errorOrHangup != 0 && reading != .open && outbound.isEmpty {
            // Nothing to read or write will come of it: epoll keeps reporting these until closed.
            terminate(reason: "peer reset or hung up")
            return
        }
        if let tls, !tls.isEstablished {
            guard advanceTLSHandshake(tls) else { return }
        }
        if events & Epoll.writable != 0 {
            flush()
        }
        if !state.isClosed && reading == .open && events & (Epoll.readable | Epoll.hangup) != 0 {
            readAvailable()
        }
        if !state.isClosed && !outbound.isEmpty {
            flush()
        }
    }

    /// Drives the TLS handshake; returns `true` once it is complete.
    private func advanceTLSHandshake(_ tls: TLSSession) -> Bool {
        switch tls.handshake() {
        case .done:
            Log.debug("fd \(fd): TLS established")
            if isWatchingWritable && outbound.isEmpty { updateInterest() }
            return true
        case .wantsRead:
            if isWatchingWritable { isWatchingWritable = false; updateInterest() }
            return false
        case .wantsWrite:
            if let registration { loop.modify(registration, events: Epoll.readable | Epoll.writable | Epoll.peerHangup) }
            isWatchingWritable = true
            return false
        case .failed(let reason):
            Log.info("fd \(fd): TLS handshake failed: \(reason)")
            terminate(reason: nil)
            return false
        }
    }

    /// Reads what the peer sent through TLS, until OpenSSL has nothing buffered.
    private func readTLS(_ tls: TLSSession) {
        let buffer = loop.readBuffer
        for _ in 0..<64 {
            switch tls.read(into: buffer) {
            case .done(0):
                peerClosedStream()
                return
            case .done(let count):
                state.noteRead(at: context.now)
                process(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
                if state.isClosed || reading != .open { return }
                if !tls.hasPendingBytes && count < buffer.count { return }
            case .wantsRead, .wantsWrite:
                return
            case .failed(let reason):
                terminate(reason: reason)
                return
            }
        }
    }

    /// Reads what the peer sent: through TLS when the connection has it (and is not draining:
    /// TLS is shut down by then), else straight from the socket.
    private func readAvailable() {
        if let tls, !isDraining {
            readTLS(tls)
            return
        }
        let buffer = loop.readBuffer
        // A few reads per wake-up at most, so one busy peer cannot starve the others.
        for _ in 0..<4 {
            let result: IOResult<Int>
            do {
                result = try Posix.read(fd: fd, into: buffer)
            } catch {
                terminate(reason: "read: \(error.errno)")
                return
            }
            switch result {
            case .wouldBlock:
                return
            case .processed(0):
                peerClosedStream()
                return
            case .processed(let count):
                state.noteRead(at: context.now)
                process(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
                if state.isClosed || reading != .open || count < buffer.count { return }
            }
        }
    }

    private var isDraining: Bool {
        if case .draining = state { return true }
        return false
    }

    private func process(_ input: UnsafeMutableRawBufferPointer) {
        var input = input
        while !input.isEmpty {
            switch state {
            case .http(let exchange) where exchange.isAwaitingResponse:
                stashInput(input, into: exchange)
                return
            case .http(let exchange):
                input = processHTTP(input, exchange)
            case .webSocket, .closing:
                processFrames(input)
                return
            case .draining, .closed:
                return
            }
        }
    }

    // MARK: HTTP

    /// Consumes head and body bytes; returns what belongs to the next request or to WebSocket.
    private func processHTTP(_ input: UnsafeMutableRawBufferPointer, _ http: HTTPExchange) -> UnsafeMutableRawBufferPointer {
        var input = input
        if http.pendingHead == nil {
            do {
                guard let (head, used) = try http.headParser.feed(UnsafeRawBufferPointer(input)) else {
                    return UnsafeMutableRawBufferPointer(rebasing: input[input.count...])
                }
                input = UnsafeMutableRawBufferPointer(rebasing: input[used...])
                http.pendingHead = head
                http.bodyRemaining = head.contentLength
                http.body.removeAll(keepingCapacity: false)
                if http.bodyRemaining > 0 { http.body.reserveCapacity(http.bodyRemaining) }
                if http.bodyRemaining > input.count, head.minorVersion >= 1,
                    head.headers.first("expect")?.lowercased() == "100-continue"
                {
                    // The client waits for this before sending the body (RFC 9110 §10.1.1).
                    send(SharedBytes(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)))
                }
            } catch {
                Log.event(.info, "http_error", ["fd": "\(fd)", "status": "\(error.status.code)", "reason": error.reason])
                respondAndClose(.text(error.status, error.reason))
                return UnsafeMutableRawBufferPointer(rebasing: input[input.count...])
            }
        }
        if http.bodyRemaining > 0 {
            let take = min(http.bodyRemaining, input.count)
            http.body.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[0..<take]))
            http.bodyRemaining -= take
            input = UnsafeMutableRawBufferPointer(rebasing: input[take...])
            if http.bodyRemaining > 0 { return input }
        }
        guard let head = http.pendingHead else { return input }
        http.pendingHead = nil
        handleRequest(head, body: http.body, http)
        http.body.removeAll(keepingCapacity: false)
        switch state {
        case .http(let exchange) where exchange.isAwaitingResponse:
            // Pipelined bytes wait until the deferred answer is sent, so answers stay in order.
            stashInput(input, into: exchange)
            return UnsafeMutableRawBufferPointer(rebasing: input[input.count...])
        case .http, .webSocket:
            return input  // the next request, or WebSocket frames the caller parses
        case .closing, .draining, .closed:
            return UnsafeMutableRawBufferPointer(rebasing: input[input.count...])
        }
    }

    private func handleRequest(_ head: HTTPRequestHead, body: [UInt8], _ http: HTTPExchange) {
        let keepAlive = head.isKeepAlive && !context.isShuttingDown
        let info = RequestInfo(isLoopbackPeer: Posix.isLoopbackPeer(fd: fd))
        switch context.router.route(head, body: body, info: info) {
        case .respond(let response):
            Log.debug("fd \(fd): \(head.method) \(Log.redactingTokens(head.target)) -> \(response.status.code)")
            let bytes = response.encoded(keepAlive: keepAlive, includeBody: head.method != "HEAD")
            send(SharedBytes(bytes))
            if keepAlive {
                http.deadline = context.now + context.settings.handshakeTimeoutMs
            } else {
                beginLingeringClose()
            }
        case .deferred(let start):
            Log.debug("fd \(fd): \(head.method) \(Log.redactingTokens(head.target)) -> deferred")
            http.isAwaitingResponse = true
            http.deferredKeepAlive = keepAlive
            reading.pause()
            updateInterest()
            start(Responder(connection: handle))
        case .upgrade(let endpoint):
            do {
                let (response, deflate) = try WebSocketHandshake.validate(
                    head, offersDeflate: context.settings.compression && endpoint.allowsCompression)
                send(SharedBytes(response.encoded(keepAlive: true)))
                if let deflate {
                    deflateFrameLimit = deflate.maxSharedPayloadBytes
                    context.stats.deflateNegotiated()
                }
                let session = endpoint.makeSession(head)
                transition(to: .webSocket(WebSocketState(
                    session: session,
                    reader: FrameReader(maxMessageBytes: endpoint.maxMessageBytes, isDeflateNegotiated: deflate != nil),
                    lastReadAt: context.now)))
                context.didUpgrade()
                session.connectionDidOpen(self)
                Log.debug("fd \(fd): WebSocket open on \(endpoint.path)")
            } catch {
                Log.event(.info, "upgrade_refused", ["fd": "\(fd)", "path": head.path, "status": "\(error.response.status.code)"])
                respondAndClose(error.response)
            }
        }
    }

    /// Keeps input that arrived while a deferred answer is pending, up to one more request.
    private func stashInput(_ input: UnsafeMutableRawBufferPointer, into http: HTTPExchange) {
        let limit = context.settings.maxHeadBytes + context.settings.maxBodyBytes
        guard http.stashedInput.count + input.count <= limit else {
            Log.info("fd \(fd): more than \(limit) bytes pipelined behind a pending request; closing")
            terminate(reason: "pipelined too much behind a deferred request")
            return
        }
        http.stashedInput.append(contentsOf: UnsafeRawBufferPointer(input))
    }

    /// Sends the answer to the deferred request, then goes on with the input that waited.
    func completeDeferred(_ response: HTTPResponse) {
        guard case .http(let http) = state, http.isAwaitingResponse else { return }
        http.isAwaitingResponse = false
        send(SharedBytes(response.encoded(keepAlive: http.deferredKeepAlive)))
        guard http.deferredKeepAlive else {
            beginLingeringClose()
            return
        }
        http.deadline = context.now + context.settings.handshakeTimeoutMs
        reading.resume()
        updateInterest()
        if !http.stashedInput.isEmpty {
            var input = http.stashedInput
            http.stashedInput = []
            input.withUnsafeMutableBytes { process($0) }
        }
        flush()
    }

    private func respondAndClose(_ response: HTTPResponse) {
        send(SharedBytes(response.encoded(keepAlive: false)))
        beginLingeringClose()
    }

    // MARK: WebSocket

    private func processFrames(_ input: UnsafeMutableRawBufferPointer) {
        guard let reader = state.reader else { return }
        // The parser is held locally while it runs (exclusive access: the events it reports
        // may change the state); what is left partly read goes back into the state after.
        let box = reader.partial
        var parser = box?.parser ?? WebSocketFrameParser(
            maxMessageBytes: reader.maxMessageBytes, inflater: reader.isDeflateNegotiated ? context.inflater : nil)
        defer {
            if parser.isIdle {
                state.keepPartialFrames(nil)
            } else if let box {
                box.parser = parser
                state.keepPartialFrames(box)
            } else {
                state.keepPartialFrames(PartialFrames(parser))
            }
        }
        do {
            try parser.parse(input) { event in
                self.handle(event)
            }
        } catch {
            if case .inflatedMessageTooBig = error { context.stats.inflateLimitHit() }
            failWebSocket(error.closeCode, reason: error.reason)
        }
    }

    private func handle(_ event: WebSocketEvent) {
        switch event {
        case .message(let opcode, let payload):
            // After our close, data is discarded.
            state.session?.connection(self, didReceive: opcode, payload: payload)
        case .ping(let payload):
            guard state.isWebSocket else { return }
            send(WebSocketFrameEncoder.makeSharedFrame(opcode: .pong, payload: payload))
        case .pong:
            break
        case .close(let code, let reason):
            if state.isWebSocket {
                // Echo the peer's code (RFC 6455 §5.5.1); an empty close is answered empty.
                let payload = code.map { WebSocketFrameEncoder.closePayload(code: $0, reason: "") } ?? []
                Log.debug("fd \(fd): peer closed with \(code.map { "\($0)" } ?? "no code") \(reason)")
                sendFrame(.close, payload)
            }
            beginLingeringClose()
        }
    }

    /// Sends a close frame for a protocol violation and ends the connection.
    private func failWebSocket(_ code: WebSocketCloseCode, reason: String) {
        Log.event(.info, "ws_fail", ["fd": "\(fd)", "code": "\(code)", "reason": reason])
        // After our own close frame (shutdown, 1013) no second one is sent (RFC 6455 §5.5.1).
        if state.isWebSocket {
            sendFrame(.close, WebSocketFrameEncoder.closePayload(code: code, reason: reason))
        }
        beginLingeringClose()
    }

    /// Starts the closing handshake from our side (shutdown, idle timeout, policy); the
    /// peer's close frame, or the close deadline, finishes it. The only way to close a
    /// connection politely: every caller names its code.
    ///
    /// - Parameters:
    ///   - code: the close code sent in our close frame (an HTTP connection gets none).
    ///   - reason: the close frame's reason, cut to 123 bytes.
    func close(_ code: WebSocketCloseCode, reason: String) {
        switch state.closeStep(hasQueuedOutput: !outbound.isEmpty) {
        case .sendCloseFrame:
            guard case .webSocket(let webSocket) = state else { return }
            sendFrame(.close, WebSocketFrameEncoder.closePayload(code: code, reason: reason))
            transition(to: .closing(webSocket.reader, deadline: context.now + context.settings.closeTimeoutMs))
            flush()
        case .terminate:
            terminate(reason: nil)
        case .linger:
            beginLingeringClose()
        case .none:
            break
        }
    }

    private func sendFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8]) {
        payload.withUnsafeBytes { send(WebSocketFrameEncoder.makeSharedFrame(opcode: opcode, payload: $0)) }
    }

    /// Queues bytes for the peer; they are written at the end of the current event, or now
    /// when called from outside an event.
    func send(_ bytes: SharedBytes) {
        guard state.acceptsOutput else { return }
        outbound.append(negotiatedForm(of: bytes))
        if outbound.byteCount > context.settings.outboundHighWaterBytes && reading == .open {
            // The peer reads slower than it sends: stop reading until it catches up.
            reading = .paused
            updateInterest()
        }
    }

    /// Queues a room stream frame under the connection's budget: a state frame (non-zero
    /// `key`) replaces an older queued one with the same key once the soft budget is passed;
    /// past the hard budget the connection is closed with 1013 (it may resume).
    func deliver(_ frame: SharedBytes, key: UInt32) {
        guard state.isWebSocket else { return }
        let frame = negotiatedForm(of: frame)
        if key != 0 && outbound.byteCount > softBudget {
            _ = outbound.appendConflating(frame, key: key)
        } else {
            outbound.append(frame)
        }
        if outbound.byteCount > hardBudget {
            outbound.dropUnstarted(keepHead: tls != nil)
            Log.event(.info, "slow_consumer", ["fd": "\(fd)", "budget": "\(hardBudget)", "code": "\(WebSocketCloseCode.tryAgainLater)"])
            close(.tryAgainLater, reason: "slow consumer: outbound budget exceeded; resume with since")
        }
    }

    /// The frame this connection reads: the shared compressed form when it negotiated
    /// permessage-deflate and one was made (and fits its window), else the plain frame.
    ///
    /// - Complexity: O(1); no allocation.
    @inline(__always)
    private func negotiatedForm(of frame: SharedBytes) -> SharedBytes {
        if deflateFrameLimit > 0, let deflated = frame.deflated, frame.count <= deflateFrameLimit { return deflated }
        return frame
    }

    /// Sends one message to this connection alone, compressed when it negotiated
    /// permessage-deflate and the message is large enough (the loop's compressor; `/echo`).
    func sendMessage(_ opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) {
        if deflateFrameLimit > 0, payload.count >= context.settings.compressionMinimumBytes,
            payload.count <= deflateFrameLimit, let frame = context.deflater.makeSharedFrame(opcode: opcode, payload: payload)
        {
            send(frame)
            return
        }
        send(WebSocketFrameEncoder.makeSharedFrame(opcode: opcode, payload: payload))
    }

    // MARK: Writing and closing

    /// Writes what is queued; arms `EPOLLOUT` only when the socket is full.
    func flush() {
        guard !state.isClosed else { return }
        do {
            let done: Bool
            if let tls {
                guard tls.isEstablished else { return }
                do {
                    done = try outbound.flush(tls: tls, scratch: context.tlsScratch)
                } catch {
                    terminate(reason: error.reason)
                    return
                }
            } else {
                done = try outbound.flush(fd: fd, scratch: context.writeScratch)
            }
            if done {
                if reading == .finished {
                    terminate(reason: nil)
                    return
                }
                if case .draining(let deadline, isShutdownPending: true) = state {
                    state = .draining(deadline: deadline, isShutdownPending: false)
                    tls?.shutdown()
                    Posix.shutdown(fd: fd, how: CInt(SHUT_WR))
                }
            }
            let shouldResume = reading == .paused && !state.isAwaitingResponse
                && outbound.byteCount <= context.settings.outboundHighWaterBytes / 2
            if shouldResume { reading = .open }
            if done == isWatchingWritable || shouldResume { updateInterest() }
        } catch {
            terminate(reason: "write: \(error.errno)")
        }
    }

    private func updateInterest() {
        guard let registration, !state.isClosed else { return }
        isWatchingWritable = !outbound.isEmpty
        var events: UInt32 = 0
        if reading == .open { events |= Epoll.readable | Epoll.peerHangup }
        if isWatchingWritable { events |= Epoll.writable }
        loop.modify(registration, events: events)
    }

    /// Flush what is queued, then shut down our sending side and read until the peer
    /// closes (or the close deadline), so our last bytes are not lost to a reset.
    private func beginLingeringClose() {
        switch state {
        case .draining, .closed: return
        case .http, .webSocket, .closing: break
        }
        let deadline = context.now + context.settings.closeTimeoutMs
        transition(to: .draining(deadline: deadline, isShutdownPending: !outbound.isEmpty))
        if state.isClosed { return }  // the session's goodbye closed it
        if reading == .paused {
            reading = .open
            updateInterest()
        }
        if outbound.isEmpty {
            tls?.shutdown()
            Posix.shutdown(fd: fd, how: CInt(SHUT_WR))
        } else {
            flush()
        }
    }

    /// The peer sent FIN. What is queued (a response to a request sent just before a
    /// half-close, say) is still written; then the descriptor is closed.
    private func peerClosedStream() {
        switch state {
        case .http(let exchange) where exchange.isInProgress:
            Log.debug("fd \(fd): peer closed in the middle of a request")
        case .webSocket:
            Log.debug("fd \(fd): peer closed TCP without a close frame")
            // Nothing more will be read: what is queued is flushed, then the descriptor closed.
            transition(to: .draining(deadline: context.now + context.settings.closeTimeoutMs, isShutdownPending: false))
        default:
            break
        }
        reading = .finished
        if state.isClosed { return }
        if outbound.isEmpty {
            terminate(reason: nil)
        } else {
            updateInterest()
            flush()
        }
    }

    /// Closes the descriptor now.
    func terminate(reason: String?) {
        guard !state.isClosed else { return }
        if let reason { Log.debug("fd \(fd): dropped: \(reason)") }
        transition(to: .closed)
        outbound.removeAll()
        if deflateFrameLimit > 0 {
            deflateFrameLimit = 0
            context.stats.deflateClosed()
        }
        if let registration {
            loop.deregister(registration)
            self.registration = nil
        }
        Posix.close(fd: fd)
        context.remove(self)
    }

    // MARK: Timers

    /// Called on every loop tick.
    func tick(now: UInt64) {
        outbound.releaseIfIdle()
        switch state.timeout(now: now, idlePingMs: context.settings.idlePingMs) {
        case .none:
            break
        case .requestTimeout:
            Log.info("fd \(fd): request head or body not complete within the deadline; dropped")
            respondAndClose(.text(.requestTimeout, "request not complete within the deadline"))
        case .idleHTTP:
            terminate(reason: "idle HTTP connection")
        case .ping:
            state.notePingSent(at: now)
            sendFrame(.ping, [])
            flush()
        case .unansweredPing:
            close(.goingAway, reason: "idle timeout: no answer to ping")
        case .closeDeadline:
            terminate(reason: "close deadline passed")
        }
    }
}

/// Loop-confined: only its loop's thread touches a connection; other threads hold a
/// ``ConnectionHandle``.
@available(*, unavailable)
extension Connection: Sendable {}

extension Epoll {
    /// Peer closed its sending side.
    static let peerHangup: UInt32 = Epoll.hangup
}
