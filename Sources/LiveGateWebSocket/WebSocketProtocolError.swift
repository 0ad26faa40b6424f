/// A violation of RFC 6455 by the peer; each maps to the close code the connection fails with.
public enum WebSocketProtocolError: Error, Equatable, Sendable {
    /// RSV1–3 set without a negotiated extension (§5.2), or RSV1 on a control or continuation
    /// frame with permessage-deflate (RFC 7692 §6.1).
    case reservedBitsSet
    /// An opcode RFC 6455 does not define (§5.2).
    case unknownOpcode(UInt8)
    /// A client frame without the mask bit (§5.1).
    case unmaskedClientFrame
    /// A control frame with a payload over 125 bytes (§5.5).
    case controlFrameTooLong
    /// A control frame without FIN (§5.5).
    case fragmentedControlFrame
    /// A continuation frame with no fragmented message in progress (§5.4).
    case unexpectedContinuation
    /// A new text or binary frame while a fragmented message is in progress (§5.4).
    case expectedContinuation
    /// A 64-bit payload length with the most significant bit set (§5.2).
    case invalidLength
    /// A message larger than the endpoint's limit.
    case messageTooBig(limit: Int)
    /// A text message that is not valid UTF-8 (§8.1).
    case invalidUTF8
    /// A close frame whose payload is one byte long (§5.5.1).
    case invalidClosePayload
    /// A close code that may not be sent on the wire (§7.4).
    case invalidCloseCode(UInt16)
    /// A close reason that is not valid UTF-8 (§5.5.1).
    case invalidCloseReason
    /// A compressed message that inflates past the endpoint's limit (refused before it is
    /// inflated in full: a zip bomb costs at most the limit).
    case inflatedMessageTooBig(limit: Int)
    /// A compressed message (RSV1, permessage-deflate) that is not valid DEFLATE data (RFC 7692 §7.2.2).
    case invalidCompressedData

    /// The close code to fail the connection with.
    public var closeCode: WebSocketCloseCode {
        switch self {
        case .reservedBitsSet, .unknownOpcode, .unmaskedClientFrame, .controlFrameTooLong,
            .fragmentedControlFrame, .unexpectedContinuation, .expectedContinuation, .invalidLength,
            .invalidClosePayload, .invalidCloseCode:
            return .protocolError
        case .messageTooBig, .inflatedMessageTooBig:
            return .messageTooBig
        case .invalidUTF8, .invalidCloseReason, .invalidCompressedData:
            return .invalidPayload
        }
    }

    /// The close reason sent to the peer and logged (at most 123 bytes).
    public var reason: String {
        switch self {
        case .reservedBitsSet: return "reserved bits set without an extension"
        case .unknownOpcode(let opcode): return "unknown opcode \(opcode)"
        case .unmaskedClientFrame: return "client frames must be masked"
        case .controlFrameTooLong: return "control frame payload over 125 bytes"
        case .fragmentedControlFrame: return "fragmented control frame"
        case .unexpectedContinuation: return "continuation frame without a message in progress"
        case .expectedContinuation: return "new message before the fragmented one ended"
        case .invalidLength: return "64-bit payload length with the top bit set"
        case .messageTooBig(let limit): return "message larger than \(limit) bytes"
        case .invalidUTF8: return "text message is not valid UTF-8"
        case .invalidClosePayload: return "close frame payload of one byte"
        case .invalidCloseCode(let code): return "invalid close code \(code)"
        case .invalidCloseReason: return "close reason is not valid UTF-8"
        case .inflatedMessageTooBig(let limit): return "compressed message inflates past \(limit) bytes"
        case .invalidCompressedData: return "compressed message is not valid DEFLATE data"
        }
    }
}
