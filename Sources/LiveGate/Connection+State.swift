import LiveGateHTTP
import LiveGateWebSocket

extension Connection {
    /// Where a connection is in its life. Each state carries what only it needs, so an open
    /// WebSocket holds no request parser and a closed connection holds nothing.
    ///
    /// ```
    /// http ──upgrade──▶ webSocket ──close(_:reason:)──▶ closing ──peer's close──▶ draining ──▶ closed
    ///   │                  │ peer's close, protocol error, FIN                  ▲               ▲
    ///   └── error, Connection: close, close(_:reason:) ─────────────────────────┘   reset, deadline
    /// ```
    enum State {
        /// Reading HTTP/1.1 request heads and bodies (keep-alive).
        case http(HTTPExchange)
        /// An open WebSocket.
        case webSocket(WebSocketState)
        /// We sent a close frame and wait for the peer's; frames are still parsed (to find it),
        /// data is discarded.
        case closing(FrameReader, deadline: UInt64)
        /// Our last bytes are queued or sent; once they are flushed our sending side is shut
        /// down (`isShutdownPending` until then), and we read until the peer closes.
        case draining(deadline: UInt64, isShutdownPending: Bool)
        /// The descriptor is closed.
        case closed
    }

    /// Whether the peer's bytes are read.
    enum Reading {
        /// Reading (`EPOLLIN` watched).
        case open
        /// Not reading until the outbound queue drains or a deferred answer is sent.
        case paused
        /// The peer sent FIN: nothing more will come.
        case finished
    }

    /// What only the HTTP state needs, given back at the upgrade: an open WebSocket does not
    /// carry a request parser (idle connections are most of a room).
    final class HTTPExchange {
        var headParser: HTTPHeadParser
        var pendingHead: HTTPRequestHead?
        var body: [UInt8] = []
        var bodyRemaining = 0
        /// A deferred request waits for its answer; input after it waits in `stashedInput`.
        var isAwaitingResponse = false
        var deferredKeepAlive = false
        var stashedInput: [UInt8] = []
        /// Monotonic ms by which the next request must be complete (or the idle connection goes).
        var deadline: UInt64

        init(headParser: HTTPHeadParser, deadline: UInt64) {
            self.headParser = headParser
            self.deadline = deadline
        }

        /// A request head or body is partly read.
        var isInProgress: Bool { headParser.isInProgress || pendingHead != nil }
    }

    /// What an open WebSocket needs: its session, its frame reader and its liveness.
    struct WebSocketState {
        /// The endpoint's session.
        let session: any WebSocketSession
        var reader: FrameReader
        /// Monotonic ms of the last read.
        var lastReadAt: UInt64
        /// Monotonic ms of the ping sent for idleness, or 0 when none is outstanding.
        var pingSentAt: UInt64 = 0
    }

    /// The frame parser between reads. A connection between messages keeps none (no memory
    /// of its own); one with a frame or message partly read keeps it boxed.
    struct FrameReader {
        /// The endpoint's message limit.
        let maxMessageBytes: Int
        /// Whether the client negotiated permessage-deflate (RSV1 messages are inflated).
        let isDeflateNegotiated: Bool
        /// The parser, kept only while a frame or message is partly read.
        var partial: PartialFrames?

        init(maxMessageBytes: Int, isDeflateNegotiated: Bool = false) {
            self.maxMessageBytes = maxMessageBytes
            self.isDeflateNegotiated = isDeflateNegotiated
        }
    }

    /// A boxed parser (see ``FrameReader``).
    final class PartialFrames {
        var parser: WebSocketFrameParser
        init(_ parser: WebSocketFrameParser) { self.parser = parser }
    }

    /// What a connection's timer check asks for.
    enum Timeout: Equatable {
        case none
        /// A request head or body is not complete in time: answer 408 and close.
        case requestTimeout
        /// An idle keep-alive HTTP connection: drop it.
        case idleHTTP
        /// The WebSocket has been quiet for the idle interval: ping it.
        case ping
        /// The ping got no answer within the idle interval: close with 1001.
        case unansweredPing
        /// The close handshake or drain did not finish in time: drop it.
        case closeDeadline
    }

    /// What ``Connection/close(_:reason:)`` does in a state.
    enum CloseStep: Equatable {
        /// Send the close frame and wait for the peer's (`.webSocket` → `.closing`).
        case sendCloseFrame
        /// Nothing is in flight: close the descriptor now.
        case terminate
        /// A request is half read or an answer is queued: flush, shut down, drain.
        case linger
        /// Already closing.
        case none
    }
}

extension Connection.State {
    /// Whether bytes may still be queued for the peer.
    var acceptsOutput: Bool {
        switch self {
        case .http, .webSocket, .closing: return true
        case .draining, .closed: return false
        }
    }

    /// Whether this is an open WebSocket.
    var isWebSocket: Bool {
        if case .webSocket = self { return true }
        return false
    }

    /// Whether the descriptor is closed.
    var isClosed: Bool {
        if case .closed = self { return true }
        return false
    }

    /// Whether it is closing our way: a close frame sent, or draining.
    var isClosingOrDraining: Bool {
        switch self {
        case .closing, .draining: return true
        default: return false
        }
    }

    /// The HTTP exchange, in the HTTP state.
    var exchange: Connection.HTTPExchange? {
        if case .http(let exchange) = self { return exchange }
        return nil
    }

    /// The open WebSocket's session.
    var session: (any WebSocketSession)? {
        if case .webSocket(let webSocket) = self { return webSocket.session }
        return nil
    }

    /// A deferred request waits for its answer.
    var isAwaitingResponse: Bool { exchange?.isAwaitingResponse ?? false }

    /// The frame reader of an open or closing WebSocket.
    var reader: Connection.FrameReader? {
        switch self {
        case .webSocket(let webSocket): return webSocket.reader
        case .closing(let reader, _): return reader
        default: return nil
        }
    }

    /// Keeps `partial` as the frame reader's parser (open or closing WebSocket only).
    mutating func keepPartialFrames(_ partial: Connection.PartialFrames?) {
        switch self {
        case .webSocket(var webSocket):
            guard webSocket.reader.partial !== partial else { return }
            webSocket.reader.partial = partial
            self = .webSocket(webSocket)
        case .closing(var reader, let deadline):
            guard reader.partial !== partial else { return }
            reader.partial = partial
            self = .closing(reader, deadline: deadline)
        default:
            break
        }
    }

    /// The peer sent something: an open WebSocket is not idle, and an outstanding ping is answered.
    mutating func noteRead(at now: UInt64) {
        guard case .webSocket(var webSocket) = self else { return }
        webSocket.lastReadAt = now
        webSocket.pingSentAt = 0
        self = .webSocket(webSocket)
    }

    /// An idle ping went out at `now`.
    mutating func notePingSent(at now: UInt64) {
        guard case .webSocket(var webSocket) = self else { return }
        webSocket.pingSentAt = now
        self = .webSocket(webSocket)
    }

    /// What the timer check at `now` must do.
    ///
    /// - Parameter idlePingMs: the WebSocket idle interval (0: never ping).
    func timeout(now: UInt64, idlePingMs: UInt64) -> Connection.Timeout {
        switch self {
        case .http(let exchange):
            guard !exchange.isAwaitingResponse, now >= exchange.deadline else { return .none }
            return exchange.isInProgress ? .requestTimeout : .idleHTTP
        case .webSocket(let webSocket):
            guard idlePingMs > 0 else { return .none }
            if webSocket.pingSentAt == 0 {
                return now - webSocket.lastReadAt >= idlePingMs ? .ping : .none
            }
            return now - webSocket.pingSentAt >= idlePingMs ? .unansweredPing : .none
        case .closing(_, let deadline), .draining(let deadline, _):
            return now >= deadline ? .closeDeadline : .none
        case .closed:
            return .none
        }
    }

    /// What closing from our side does now.
    ///
    /// - Parameter hasQueuedOutput: whether bytes wait to be written.
    func closeStep(hasQueuedOutput: Bool) -> Connection.CloseStep {
        switch self {
        case .webSocket:
            return .sendCloseFrame
        case .http(let exchange):
            return exchange.isInProgress || hasQueuedOutput ? .linger : .terminate
        case .closing, .draining, .closed:
            return .none
        }
    }
}

extension Connection.Reading {
    /// Stops reading for back-pressure (only while reading).
    mutating func pause() {
        if self == .open { self = .paused }
    }

    /// Reads again after back-pressure (only when paused: a finished peer stays finished).
    mutating func resume() {
        if self == .paused { self = .open }
    }
}
