import LiveGateHTTP
import LiveGatePOSIX
import LiveGateWebSocket

/// A WebSocket endpoint: its message size limit and how to start a session on it.
struct WebSocketEndpoint: Sendable {
    /// The path, for logs.
    let path: String
    /// The largest message accepted (RFC 6455 close 1009 above it).
    let maxMessageBytes: Int
    /// Makes the session for a newly upgraded connection, on its loop thread.
    let makeSession: @Sendable (HTTPRequestHead) -> any WebSocketSession
    /// Whether permessage-deflate may be negotiated here (when the configuration turns it on).
    var allowsCompression = true
}

/// What to do with a request.
enum Route {
    /// Answer with this response.
    case respond(HTTPResponse)
    /// Upgrade to WebSocket on this endpoint (after the handshake checks).
    case upgrade(WebSocketEndpoint)
    /// Answer later: the closure runs now, on the loop thread, and calls the responder once
    /// (from any thread) when the answer is ready, e.g. after the stock core made it durable.
    case deferred((Responder) -> Void)
}

/// What the transport knows about a request.
struct RequestInfo: Sendable {
    /// Whether the peer is on this machine.
    let isLoopbackPeer: Bool
}

/// Sends the response to a deferred request, from any thread, once.
struct Responder: Sendable {
    private let body: @Sendable (HTTPResponse) -> Void

    /// Answers the connection that waits.
    init(connection: ConnectionHandle) {
        body = { response in connection.execute { _, connection in connection.completeDeferred(response) } }
    }

    /// Answers through `body` (a request that came through Redis).
    init(_ body: @escaping @Sendable (HTTPResponse) -> Void) {
        self.body = body
    }

    func respond(_ response: HTTPResponse) {
        body(response)
    }
}

/// Maps request heads to routes. Immutable and shared by every loop.
struct Router: Sendable {
    /// WebSocket endpoints by path.
    var webSocketEndpoints: [String: WebSocketEndpoint] = [:]
    /// Further HTTP routes (the room API); `nil` means "not mine".
    var httpHandler: (@Sendable (HTTPRequestHead, [UInt8], RequestInfo) -> Route?)?

    /// Routes a complete request.
    ///
    /// - Parameters:
    ///   - head: the request head.
    ///   - body: the request body (empty for none).
    func route(_ head: HTTPRequestHead, body: [UInt8], info: RequestInfo = RequestInfo(isLoopbackPeer: false)) -> Route {
        let path = head.path
        if let endpoint = webSocketEndpoints[path] {
            return .upgrade(endpoint)
        }
        if let httpHandler, let route = httpHandler(head, body, info) {
            return route
        }
        if let page = PageRoutes.response(for: head) { return .respond(page) }
        switch path {
        case "/":
            guard isReadMethod(head.method) else { return .respond(methodNotAllowed(head.method)) }
            var text = "livegate: real-time gateway of a live-commerce room.\n"
            let endpoints = webSocketEndpoints.keys.sorted()
            text += endpoints.isEmpty ? "No WebSocket endpoint is enabled." : "WebSocket endpoints: " + endpoints.joined(separator: ", ")
            return .respond(.text(.ok, text))
        case "/healthz":
            guard isReadMethod(head.method) else { return .respond(methodNotAllowed(head.method)) }
            return .respond(.text(.ok, "ok"))
        default:
            return .respond(.text(.notFound, "no route for \(path)"))
        }
    }

    private func isReadMethod(_ method: String) -> Bool { method == "GET" || method == "HEAD" }

    private func methodNotAllowed(_ method: String) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Allow", value: "GET, HEAD")
        return .text(.methodNotAllowed, "method \(method) not allowed here", headers: headers)
    }
}
