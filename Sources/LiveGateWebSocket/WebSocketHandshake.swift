import COpenSSL
import LiveGateCore
import LiveGateHTTP

/// Why an upgrade request was refused; each maps to an HTTP response.
public enum HandshakeError: Error, Equatable, Sendable {
    /// Not `GET`. Corresponds to 405 with `Allow: GET`.
    case methodNotAllowed(String)
    /// No `Upgrade: websocket`: a plain HTTP request to a WebSocket endpoint. Corresponds to 426.
    case notAnUpgrade
    /// `Connection` does not list `upgrade`. Corresponds to 400.
    case missingConnectionUpgrade
    /// HTTP/1.0. Corresponds to 400.
    case httpVersionTooOld
    /// `Sec-WebSocket-Version` is not 13. Corresponds to 426 with `Sec-WebSocket-Version: 13`.
    case unsupportedVersion(String?)
    /// `Sec-WebSocket-Key` is missing or not 16 bytes of base64. Corresponds to 400.
    case invalidKey

    /// The response that refuses the upgrade, with a reason in the body.
    public var response: HTTPResponse {
        var headers = HTTPHeaders()
        let status: HTTPStatus
        let reason: String
        switch self {
        case .methodNotAllowed(let method):
            status = .methodNotAllowed
            headers.add(name: "Allow", value: "GET")
            reason = "method \(method) not allowed; WebSocket upgrades use GET"
        case .notAnUpgrade:
            status = .upgradeRequired
            headers.add(name: "Upgrade", value: "websocket")
            reason = "this endpoint speaks WebSocket only (Upgrade: websocket)"
        case .missingConnectionUpgrade:
            status = .badRequest
            reason = "Connection header must include 'upgrade'"
        case .httpVersionTooOld:
            status = .badRequest
            reason = "WebSocket upgrades need HTTP/1.1"
        case .unsupportedVersion(let version):
            status = .upgradeRequired
            headers.add(name: "Sec-WebSocket-Version", value: "13")
            reason = "unsupported Sec-WebSocket-Version \(version ?? "(missing)"); only 13 is supported"
        case .invalidKey:
            status = .badRequest
            reason = "Sec-WebSocket-Key must be 16 bytes in base64"
        }
        return .text(status, reason, headers: headers)
    }
}

/// The server side of the opening handshake (RFC 6455 §4.2).
public enum WebSocketHandshake {
    /// The GUID appended to the client's key (§1.3).
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`:
    /// base64(SHA-1(key + GUID)).
    public static func acceptValue(forKey key: String) -> String {
        let input = Array((key + guid).utf8)
        var digest = [UInt8](repeating: 0, count: Int(SHA_DIGEST_LENGTH))
        input.withUnsafeBufferPointer { source in
            digest.withUnsafeMutableBufferPointer { out in
                _ = SHA1(source.baseAddress, source.count, out.baseAddress)
            }
        }
        return Base64.encode(digest)
    }

    /// Checks an upgrade request.
    ///
    /// - Returns: the `101 Switching Protocols` response to send.
    /// - Throws: `HandshakeError` naming what is wrong.
    public static func validate(_ head: HTTPRequestHead) throws(HandshakeError) -> HTTPResponse {
        try validate(head, offersDeflate: false).response
    }

    /// Checks an upgrade request and, when `offersDeflate`, negotiates permessage-deflate
    /// (RFC 7692): the first acceptable offer wins; with none, the upgrade goes on without
    /// the extension.
    ///
    /// - Returns: the `101 Switching Protocols` response and the agreement, if any.
    /// - Throws: `HandshakeError` naming what is wrong.
    public static func validate(
        _ head: HTTPRequestHead, offersDeflate: Bool
    ) throws(HandshakeError) -> (response: HTTPResponse, deflate: DeflateAgreement?) {
        guard head.method == "GET" else { throw .methodNotAllowed(head.method) }
        guard head.headers.contains("upgrade", token: "websocket") else { throw .notAnUpgrade }
        guard head.minorVersion >= 1 else { throw .httpVersionTooOld }
        guard head.headers.contains("connection", token: "upgrade") else { throw .missingConnectionUpgrade }
        let version = head.headers.first("sec-websocket-version")
        guard version?.trimmingCharacters() == "13" else { throw .unsupportedVersion(version) }
        let keys = head.headers.values("sec-websocket-key")
        guard keys.count == 1, let key = keys.first?.trimmingCharacters(),
            let decoded = Base64.decode(key), decoded.count == 16
        else { throw .invalidKey }
        var headers = HTTPHeaders()
        headers.add(name: "Upgrade", value: "websocket")
        headers.add(name: "Connection", value: "Upgrade")
        headers.add(name: "Sec-WebSocket-Accept", value: acceptValue(forKey: key))
        var agreement: DeflateAgreement?
        if offersDeflate {
            let offers = head.headers.values("sec-websocket-extensions")
            if !offers.isEmpty { agreement = PerMessageDeflate.negotiate(offers) }
            if let agreement { headers.add(name: "Sec-WebSocket-Extensions", value: agreement.responseHeaderValue) }
        }
        return (HTTPResponse(status: .switchingProtocols, headers: headers), agreement)
    }
}

extension String {
    fileprivate func trimmingCharacters() -> String {
        var scalars = unicodeScalars[...]
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
