/// A parsed HTTP/1.x request line and header fields.
public struct HTTPRequestHead: Sendable {
    /// The method, e.g. `GET` (case-sensitive, RFC 9110 §9.1).
    public var method: String
    /// The request target as sent (origin form: path and optional query).
    public var target: String
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    /// The header fields.
    public var headers: HTTPHeaders
    /// The body length from `Content-Length` (0 when absent); checked by the parser.
    public var contentLength: Int = 0

    /// Creates a head from its parts.
    public init(method: String, target: String, minorVersion: Int = 1, headers: HTTPHeaders = HTTPHeaders()) {
        self.method = method
        self.target = target
        self.minorVersion = minorVersion
        self.headers = headers
    }

    /// The path part of the target, before any `?`.
    public var path: String {
        if let index = target.firstIndex(of: "?") { return String(target[..<index]) }
        return target
    }

    /// The query part of the target, after the first `?`, or `nil`.
    public var query: String? {
        guard let index = target.firstIndex(of: "?") else { return nil }
        return String(target[target.index(after: index)...])
    }

    /// The percent-decoded value of the first query parameter called `name`.
    public func queryParameter(_ name: String) -> String? {
        guard let query else { return nil }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts[0] == name {
                return parts.count > 1 ? String(parts[1]).percentDecoded() : ""
            }
        }
        return nil
    }

    /// Whether the connection stays open after the response (RFC 9112 §9.3): HTTP/1.1
    /// unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    public var isKeepAlive: Bool {
        let tokens = headers.tokens("connection")
        if minorVersion >= 1 { return !tokens.contains("close") }
        return tokens.contains("keep-alive")
    }
}

extension String {
    /// Decodes `%XX` escapes and `+` as space; invalid escapes are kept as they are.
    func percentDecoded() -> String {
        var bytes: [UInt8] = []
        var input = Array(self.utf8)[...]
        while let byte = input.popFirst() {
            if byte == UInt8(ascii: "%"), input.count >= 2,
                let high = hexValue(input[input.startIndex]), let low = hexValue(input[input.startIndex + 1])
            {
                bytes.append(high << 4 | low)
                input = input.dropFirst(2)
            } else if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}
