import COpenSSL
import Foundation
import LiveGateCore

/// Who a connection is, as its token says.
public enum Role: String, Sendable, CaseIterable {
    /// The host's teleprompter.
    case host
    /// The operator console.
    case `operator`
    /// A viewer overlay.
    case viewer
    /// A sales channel's integration: sends orders, receives stock levels.
    case connector
    /// An internal back-end: sends orders for any channel, receives stock levels.
    case service
}

/// The claims livegate reads from a token.
public struct TokenClaims: Sendable, Equatable {
    /// The subject (a user or integration name).
    public var subject: String
    /// The room the token is for.
    public var room: String
    /// The role.
    public var role: Role
    /// Expiry, seconds since the Unix epoch.
    public var expiresAt: Int64
    /// A connector's sales channel (required for `connector`).
    public var channel: String?

    /// Creates claims.
    public init(subject: String, room: String, role: Role, expiresAt: Int64, channel: String? = nil) {
        self.subject = subject
        self.room = room
        self.role = role
        self.expiresAt = expiresAt
        self.channel = channel
    }
}

/// Why a token was refused; the message is safe to send back (it never echoes the token).
public enum TokenError: Error, Equatable, Sendable, CustomStringConvertible {
    case missing
    case malformed(String)
    case unsupportedAlgorithm(String)
    case badSignature
    case expired
    case badClaim(String)

    public var description: String {
        switch self {
        case .missing: return "no token: pass ?token=… or Authorization: Bearer …"
        case .malformed(let why): return "malformed token: \(why)"
        case .unsupportedAlgorithm(let alg): return "unsupported token algorithm \(alg); only HS256"
        case .badSignature: return "token signature does not verify"
        case .expired: return "token expired"
        case .badClaim(let why): return "bad token claim: \(why)"
        }
    }
}

/// Mints and verifies JWTs signed with HMAC-SHA256 (RFC 7519, RFC 7515 `HS256`), so any JWT
/// library can make tokens for livegate.
public struct TokenAuthority: Sendable {
    private let secret: [UInt8]

    /// Creates an authority with the shared secret (config `tokenSecret`).
    public init(secret: String) {
        self.secret = Array(secret.utf8)
    }

    /// A signed token for `claims`.
    public func mint(_ claims: TokenClaims) -> String {
        var payload: [String: Any] = [
            "sub": claims.subject, "room": claims.room, "role": claims.role.rawValue, "exp": claims.expiresAt,
        ]
        if let channel = claims.channel { payload["channel"] = channel }
        let header = Base64.encodeURL(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let body = (try? JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])) ?? Data()
        let signingInput = header + "." + Base64.encodeURL(Array(body))
        return signingInput + "." + Base64.encodeURL(sign(Array(signingInput.utf8)))
    }

    /// Verifies the signature, the algorithm, the expiry and the claims.
    ///
    /// - Parameter now: seconds since the Unix epoch.
    public func verify(_ token: String, now: Int64) throws(TokenError) -> TokenClaims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("expected three dot-separated parts") }
        guard let headerBytes = Base64.decodeURL(parts[0]), let bodyBytes = Base64.decodeURL(parts[1]),
            let signature = Base64.decodeURL(parts[2])
        else { throw .malformed("not base64url") }
        guard case .object(let header)? = try? JSONValue.parse(headerBytes) else {
            throw .malformed("header is not a JSON object")
        }
        var algorithm = "(none)"
        if case .string(let value)? = header["alg"] { algorithm = value }
        guard algorithm == "HS256" else { throw .unsupportedAlgorithm(algorithm) }
        let expected = sign(Array((parts[0] + "." + parts[1]).utf8))
        guard constantTimeEquals(expected, signature) else { throw .badSignature }
        guard let claims = try? JSONValue.parse(bodyBytes), case .object(let object) = claims else {
            throw .malformed("payload is not a JSON object")
        }
        guard case .string(let subject)? = object["sub"], !subject.isEmpty else { throw .badClaim("sub must be a non-empty string") }
        guard case .string(let room)? = object["room"], !room.isEmpty else { throw .badClaim("room must be a non-empty string") }
        guard case .string(let roleName)? = object["role"], let role = Role(rawValue: roleName) else {
            throw .badClaim("role must be one of host, operator, viewer, connector, service")
        }
        let expiry: Int64
        switch object["exp"] {
        case .int(let value)?: expiry = Int64(value)
        case .double(let value)?: expiry = Int64(value)
        default: throw .badClaim("exp must be a number (seconds since 1970)")
        }
        guard expiry > now else { throw .expired }
        var channel: String?
        if case .string(let value)? = object["channel"] { channel = value }
        if role == .connector && (channel ?? "").isEmpty { throw .badClaim("a connector token needs a channel") }
        return TokenClaims(subject: subject, room: room, role: role, expiresAt: expiry, channel: channel)
    }

    private func sign(_ input: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 32
        secret.withUnsafeBufferPointer { key in
            input.withUnsafeBufferPointer { data in
                digest.withUnsafeMutableBufferPointer { out in
                    _ = HMAC(EVP_sha256(), key.baseAddress, Int32(key.count), data.baseAddress, data.count,
                             out.baseAddress, &length)
                }
            }
        }
        return digest
    }

    private func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<a.count { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
