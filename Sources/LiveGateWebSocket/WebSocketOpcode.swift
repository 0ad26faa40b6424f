/// A frame opcode (RFC 6455 §5.2).
public enum WebSocketOpcode: UInt8, Sendable {
    /// Continuation of a fragmented message.
    case continuation = 0x0
    /// A text frame (UTF-8).
    case text = 0x1
    /// A binary frame.
    case binary = 0x2
    /// Connection close (§5.5.1).
    case close = 0x8
    /// Ping (§5.5.2).
    case ping = 0x9
    /// Pong (§5.5.3).
    case pong = 0xA

    /// Whether this is a control opcode (close, ping, pong).
    @inlinable public var isControl: Bool { rawValue & 0x8 != 0 }
}
