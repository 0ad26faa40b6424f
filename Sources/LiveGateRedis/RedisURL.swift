import Foundation

/// Where a Redis server is and how to log in: `redis://[[user]:password@]host[:port][/db]`,
/// or `rediss://` for TLS. The password may be percent-encoded.
public struct RedisURL: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String?
    public var password: String?
    public var database: Int
    public var usesTLS: Bool

    public init(host: String, port: Int = 6379, user: String? = nil, password: String? = nil, database: Int = 0,
                usesTLS: Bool = false) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.usesTLS = usesTLS
    }

    /// The URL without its password (for logs).
    public var description: String {
        let login = password != nil ? "\(user ?? ""):***@" : ""
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(usesTLS ? "rediss" : "redis")://\(login)\(hostPart):\(port)/\(database)"
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Parses a URL; the error says what is wrong with it.
    public init(parsing text: String) throws(ParseError) {
        func fail(_ why: String) -> ParseError { ParseError(description: "redis URL '\(Self.redacted(text))': \(why)") }
        var rest = Substring(text)
        if rest.hasPrefix("redis://") {
            usesTLS = false
            rest = rest.dropFirst(8)
        } else if rest.hasPrefix("rediss://") {
            usesTLS = true
            rest = rest.dropFirst(9)
        } else {
            throw fail("expected redis://HOST[:PORT][/DB] or rediss://")
        }
        // The login first (it may hold '/', '?' or '#'): up to the last '@'. Nothing of it is
        // echoed in an error.
        user = nil
        password = nil
        if let at = rest.lastIndex(of: "@") {
            let login = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = login.firstIndex(of: ":") {
                let name = login[..<colon]
                user = name.isEmpty ? nil : try Self.percentDecoded(name, fail)
                password = try Self.percentDecoded(login[login.index(after: colon)...], fail)
            } else {
                // `redis://secret@host`: a lone userinfo is the password, as redis-cli reads it.
                password = try Self.percentDecoded(login, fail)
            }
        }
        if let query = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) {
            throw fail("query and fragment are not supported ('\(rest[query...])')")
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !path.isEmpty {
                guard let number = Int(path), (0...1_000_000).contains(number) else {
                    throw fail("the database must be a number, not '\(path)'")
                }
                database = number
            }
        }
        self.database = database
        var hostPart = rest
        var port = 6379
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { throw fail("an IPv6 address needs its ']'") }
            let after = hostPart[hostPart.index(after: close)...]
            host = String(hostPart[hostPart.index(after: hostPart.startIndex)..<close])
            if !after.isEmpty {
                guard after.hasPrefix(":"), let number = Int(after.dropFirst()) else { throw fail("bad port '\(after)'") }
                port = number
            }
        } else {
            if let colon = hostPart.lastIndex(of: ":") {
                let portText = hostPart[hostPart.index(after: colon)...]
                guard let number = Int(portText) else { throw fail("bad port '\(portText)'") }
                port = number
                hostPart = hostPart[..<colon]
            }
            host = String(hostPart)
        }
        guard !host.isEmpty else { throw fail("the host is missing") }
        guard (1...65535).contains(port) else { throw fail("the port must be 1...65535, not \(port)") }
        self.port = port
    }

    private static func percentDecoded(_ text: Substring, _ fail: (String) -> ParseError) throws(ParseError) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard iterator.count >= 2, let value = UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16) else {
                    throw fail("a bad percent escape in the login")
                }
                bytes.append(value)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The text with anything between `//` and `@` hidden.
    static func redacted(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text.range(of: "@", options: .backwards),
              at.lowerBound > scheme.upperBound
        else { return text }
        return String(text[..<scheme.upperBound]) + "***" + String(text[at.lowerBound...])
    }
}
