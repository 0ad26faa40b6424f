/// Close status codes (RFC 6455 §7.4, IANA "WebSocket Close Code Number Registry").
public enum WebSocketCloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    public static let normal: UInt16 = 1000
    /// 1001: the server is shutting down, or the client navigated away.
    public static let goingAway: UInt16 = 1001
    /// 1002: the peer broke the protocol.
    public static let protocolError: UInt16 = 1002
    /// 1003: a data type the endpoint cannot accept.
    public static let unsupportedData: UInt16 = 1003
    /// 1007: a text message (or close reason) that is not valid UTF-8.
    public static let invalidPayload: UInt16 = 1007
    /// 1008: a policy violation (e.g. authentication failed).
    public static let policyViolation: UInt16 = 1008
    /// 1009: a message larger than the endpoint accepts.
    public static let messageTooBig: UInt16 = 1009
    /// 1011: an unexpected condition inside the server.
    public static let internalError: UInt16 = 1011
    /// 1012: the server is restarting; reconnect.
    public static let serviceRestart: UInt16 = 1012
    /// 1013: try again later (over capacity, slow consumer).
    public static let tryAgainLater: UInt16 = 1013

    /// Whether `code` may appear in a close frame on the wire: 1000–1003, 1007–1014 and
    /// 3000–4999. 1004–1006 and 1015 are reserved for local use and never sent.
    public static func isValidOnWire(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }
}
