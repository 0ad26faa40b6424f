/// A close status code (RFC 6455 §7.4, IANA "WebSocket Close Code Number Registry").
///
/// A connection is closed only with one of these, so a close site names its reason
/// (`.goingAway`, `.tryAgainLater`) rather than a bare number. Codes outside the named ones
/// (an application's 4000–4999, a peer's code echoed back) are made with ``init(rawValue:)``.
public struct WebSocketCloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code as it goes on the wire.
    public let rawValue: UInt16

    /// A code by number; for codes the named constants do not cover.
    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// 1000: the purpose of the connection was fulfilled.
    public static let normal = WebSocketCloseCode(rawValue: 1000)
    /// 1001: the server is shutting down, or the client navigated away.
    public static let goingAway = WebSocketCloseCode(rawValue: 1001)
    /// 1002: the peer broke the protocol.
    public static let protocolError = WebSocketCloseCode(rawValue: 1002)
    /// 1003: a data type the endpoint cannot accept.
    public static let unsupportedData = WebSocketCloseCode(rawValue: 1003)
    /// 1007: a text message (or close reason) that is not valid UTF-8.
    public static let invalidPayload = WebSocketCloseCode(rawValue: 1007)
    /// 1008: a policy violation (e.g. authentication failed).
    public static let policyViolation = WebSocketCloseCode(rawValue: 1008)
    /// 1009: a message larger than the endpoint accepts.
    public static let messageTooBig = WebSocketCloseCode(rawValue: 1009)
    /// 1010: the client expected an extension the server did not negotiate.
    public static let mandatoryExtension = WebSocketCloseCode(rawValue: 1010)
    /// 1011: an unexpected condition inside the server.
    public static let internalError = WebSocketCloseCode(rawValue: 1011)
    /// 1012: the server is restarting (or draining a room); reconnect now.
    public static let serviceRestart = WebSocketCloseCode(rawValue: 1012)
    /// 1013: try again later (over capacity, slow consumer).
    public static let tryAgainLater = WebSocketCloseCode(rawValue: 1013)

    /// Whether the code may appear in a close frame on the wire: 1000–1003, 1007–1014 and
    /// 3000–4999. 1004–1006 and 1015 are reserved for local use and never sent.
    public var isValidOnWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }

    public var description: String { String(rawValue) }
}
