/// A complete HTTP/1.1 response with a fixed-length body.
public struct HTTPResponse: Sendable {
    /// The status.
    public var status: HTTPStatus
    /// Header fields other than `Content-Length`, `Connection` and `Server`, which encoding adds.
    public var headers: HTTPHeaders
    /// The body bytes.
    public var body: [UInt8]

    /// Creates a response.
    public init(status: HTTPStatus, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A `text/plain; charset=utf-8` response whose body is `text` plus a newline.
    public static func text(_ status: HTTPStatus, _ text: String, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var headers = headers
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        return HTTPResponse(status: status, headers: headers, body: Array((text + "\n").utf8))
    }

    /// The wire bytes: status line, headers, `Content-Length`, `Connection`, a blank line and the body.
    ///
    /// - Parameters:
    ///   - keepAlive: whether the connection stays open; `false` adds `Connection: close`.
    ///   - includeBody: `false` for a response to `HEAD` (headers still announce the length).
    public func encoded(keepAlive: Bool, includeBody: Bool = true) -> [UInt8] {
        var head = "HTTP/1.1 \(status.code) \(status.phrase)\r\nServer: livegate\r\n"
        for field in headers.fields {
            head += "\(field.name): \(field.value)\r\n"
        }
        if status.code != 101 && status.code != 204 {
            head += "Content-Length: \(body.count)\r\n"
        }
        if !keepAlive && status.code != 101 {
            head += "Connection: close\r\n"
        }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if includeBody { bytes += body }
        return bytes
    }
}
