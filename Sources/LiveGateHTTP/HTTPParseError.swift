/// Why a request head or body was refused; each maps to one HTTP status.
public enum HTTPParseError: Error, Equatable, Sendable {
    /// The head exceeded the configured limit before it ended. Corresponds to 431.
    case headTooLarge(limit: Int)
    /// The request line is not `method SP target SP HTTP/1.x`. Corresponds to 400.
    case malformedRequestLine(String)
    /// A header line is malformed (no colon, space before the colon, bad characters, folding). Corresponds to 400.
    case malformedHeader(String)
    /// The version is not HTTP/1.0 or HTTP/1.1. Corresponds to 505.
    case unsupportedVersion(String)
    /// An HTTP/1.1 request without exactly one `Host` field. Corresponds to 400.
    case missingHost
    /// `Content-Length` is not a number, or several disagree, or it comes with `Transfer-Encoding`. Corresponds to 400.
    case badContentLength(String)
    /// A `Transfer-Encoding` (chunked) body; only `Content-Length` bodies are accepted. Corresponds to 411.
    case chunkedBodyRefused
    /// The declared body is larger than the limit. Corresponds to 413.
    case bodyTooLarge(length: Int, limit: Int)

    /// The response status code.
    public var status: HTTPStatus {
        switch self {
        case .headTooLarge: return .requestHeaderFieldsTooLarge
        case .malformedRequestLine, .malformedHeader, .missingHost, .badContentLength: return .badRequest
        case .unsupportedVersion: return .httpVersionNotSupported
        case .chunkedBodyRefused: return .lengthRequired
        case .bodyTooLarge: return .contentTooLarge
        }
    }

    /// A one-line explanation for the response body and the log.
    public var reason: String {
        switch self {
        case .headTooLarge(let limit): return "request head larger than \(limit) bytes"
        case .malformedRequestLine(let why): return "malformed request line: \(why)"
        case .malformedHeader(let why): return "malformed header field: \(why)"
        case .unsupportedVersion(let version): return "unsupported HTTP version \(version)"
        case .missingHost: return "HTTP/1.1 request needs exactly one Host header"
        case .badContentLength(let why): return "bad Content-Length: \(why)"
        case .chunkedBodyRefused: return "chunked request bodies are not accepted; send Content-Length"
        case .bodyTooLarge(let length, let limit): return "request body of \(length) bytes exceeds the limit of \(limit)"
        }
    }
}
