import LiveGateCore

/// What the frame parser found in the byte stream.
///
/// Buffers are valid only during the callback that receives them.
public enum WebSocketEvent {
    /// A complete text or binary message, unmasked (text already validated as UTF-8).
    case message(WebSocketOpcode, UnsafeRawBufferPointer)
    /// A ping with its application data; answer with a pong carrying the same bytes.
    case ping(UnsafeRawBufferPointer)
    /// A pong (solicited or not).
    case pong(UnsafeRawBufferPointer)
    /// A valid close frame. `code` is `nil` for an empty close payload. The parser reads
    /// nothing after it.
    case close(code: WebSocketCloseCode?, reason: String)
}

/// Incremental RFC 6455 frame parser and message assembler for frames sent by a client.
///
/// Feed it the received bytes in any split, one byte at a time included; it calls back
/// with complete messages and control frames. Every rule that can be checked from the
/// header (reserved bits, opcode, mask, control-frame length and fragmentation,
/// continuation order, 64-bit length, message size) is checked before any payload is
/// buffered. Text is validated as UTF-8 as each chunk arrives, so an invalid sequence
/// fails the message at once. A frame that arrives whole in one read is unmasked in place
/// and delivered without a copy; only fragmented or split messages are assembled.
public struct WebSocketFrameParser {
    private enum State {
        case firstByte
        case secondByte
        case extendedLength(remaining: Int)
        case maskKey(remaining: Int)
        case payload
        case closed
    }

    /// The largest message accepted, in bytes, summed over its fragments.
    public let maxMessageBytes: Int
    /// Whether frames must be masked (true when parsing what a client sends).
    public let requiresMask: Bool

    private var state = State.firstByte
    private var isFinal = false
    private var opcode = WebSocketOpcode.continuation
    private var isMasked = false
    private var length: UInt64 = 0
    private var remaining: UInt64 = 0
    private var maskKey: UInt32 = 0
    private var maskOffset = 0
    private var isText = false
    private var isWholeFrameDeliverable = false
    /// Whether the frame being read has RSV1 (a compressed message's first frame).
    private var hasRSV1 = false
    /// Whether the message being assembled is compressed (permessage-deflate).
    private var isCompressed = false
    /// Inflates compressed messages; `nil` when permessage-deflate was not negotiated (RSV1
    /// is then a protocol error).
    public let inflater: MessageInflater?
    /// The opcode of the message being assembled, or `nil` between messages.
    private var messageOpcode: WebSocketOpcode?
    private var message: [UInt8] = []
    private var utf8 = UTF8Validator()
    private var control: [UInt8] = []

    /// Creates a parser.
    ///
    /// - Parameter inflater: given when the connection negotiated permessage-deflate; a
    ///   compressed message is inflated in bounded steps up to `maxMessageBytes` (1009 past it).
    public init(maxMessageBytes: Int, requiresMask: Bool = true, inflater: MessageInflater? = nil) {
        self.maxMessageBytes = maxMessageBytes
        self.requiresMask = requiresMask
        self.inflater = inflater
    }

    /// Whether a close frame was parsed (everything after it is ignored).
    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// Whether the parser holds part of a frame or message (memory beyond its fixed size).
    public var isIdle: Bool {
        if case .firstByte = state, messageOpcode == nil { return true }
        return false
    }

    /// Parses the next bytes of the stream, unmasking them in place.
    ///
    /// - Parameters:
    ///   - input: received bytes; payload bytes are unmasked in place.
    ///   - handle: called for each message and control frame, in order.
    /// - Throws: the first protocol violation; the connection must then be failed with
    ///   its close code and nothing more parsed.
    /// - Complexity: O(n) in the input.
    public mutating func parse(
        _ input: UnsafeMutableRawBufferPointer,
        _ handle: (WebSocketEvent) -> Void
    ) throws(WebSocketProtocolError) {
        guard let base = input.baseAddress else { return }
        let count = input.count
        var index = 0
        while index < count {
            switch state {
            case .closed:
                return
            case .firstByte:
                try readFirstByte(base.load(fromByteOffset: index, as: UInt8.self))
                index += 1
            case .secondByte:
                try readSecondByte(base.load(fromByteOffset: index, as: UInt8.self), handle)
                index += 1
            case .extendedLength(let left):
                length = length << 8 | UInt64(base.load(fromByteOffset: index, as: UInt8.self))
                index += 1
                if left > 1 {
                    state = .extendedLength(remaining: left - 1)
                } else {
                    try lengthComplete(handle)
                }
            case .maskKey(let left):
                maskKey |= UInt32(base.load(fromByteOffset: index, as: UInt8.self)) << (8 * UInt32(4 - left))
                index += 1
                if left > 1 {
                    state = .maskKey(remaining: left - 1)
                } else {
                    try startPayload(handle)
                }
            case .payload:
                let available = count - index
                let take = remaining < UInt64(available) ? Int(remaining) : available
                let chunk = UnsafeMutableRawBufferPointer(start: base + index, count: take)
                if isMasked {
                    WebSocketMasking.unmask(chunk, key: maskKey, offset: maskOffset)
                }
                index += take
                maskOffset &+= take
                remaining -= UInt64(take)
                if opcode.isControl {
                    control.append(contentsOf: UnsafeRawBufferPointer(chunk))
                } else if isWholeFrameDeliverable && remaining == 0 && UInt64(take) == length {
                    // The whole frame is in this read: deliver it from the read buffer.
                    messageOpcode = nil
                    state = .firstByte
                    if isCompressed {
                        try deliverInflated(opcode, UnsafeRawBufferPointer(chunk), handle)
                        continue
                    }
                    if isText && !UTF8Validator.isValid(UnsafeRawBufferPointer(chunk)) { throw .invalidUTF8 }
                    handle(.message(opcode, UnsafeRawBufferPointer(chunk)))
                    continue
                } else {
                    if isText && !isCompressed && !utf8.validate(UnsafeRawBufferPointer(chunk)) { throw .invalidUTF8 }
                    message.append(contentsOf: UnsafeRawBufferPointer(chunk))
                }
                if remaining == 0 { try finishFrame(handle) }
            }
        }
    }

    private mutating func readFirstByte(_ byte: UInt8) throws(WebSocketProtocolError) {
        isFinal = byte & 0x80 != 0
        // RSV1 is permessage-deflate's bit, on a data message's first frame only (RFC 7692 §6.1).
        hasRSV1 = byte & 0x40 != 0
        guard byte & 0x30 == 0, !hasRSV1 || inflater != nil else { throw .reservedBitsSet }
        guard let code = WebSocketOpcode(rawValue: byte & 0x0F) else { throw .unknownOpcode(byte & 0x0F) }
        if hasRSV1 && (code.isControl || code == .continuation) { throw .reservedBitsSet }
        opcode = code
        if code.isControl {
            guard isFinal else { throw .fragmentedControlFrame }
        } else if code == .continuation {
            guard messageOpcode != nil else { throw .unexpectedContinuation }
        } else {
            guard messageOpcode == nil else { throw .expectedContinuation }
        }
        state = .secondByte
    }

    private mutating func readSecondByte(_ byte: UInt8, _ handle: (WebSocketEvent) -> Void) throws(WebSocketProtocolError) {
        isMasked = byte & 0x80 != 0
        if requiresMask && !isMasked { throw .unmaskedClientFrame }
        let short = byte & 0x7F
        if opcode.isControl && short > 125 { throw .controlFrameTooLong }
        length = 0
        switch short {
        case 126: state = .extendedLength(remaining: 2)
        case 127: state = .extendedLength(remaining: 8)
        default:
            length = UInt64(short)
            try lengthComplete(handle)
        }
    }

    private mutating func lengthComplete(_ handle: (WebSocketEvent) -> Void) throws(WebSocketProtocolError) {
        guard length & (1 << 63) == 0 else { throw .invalidLength }
        if !opcode.isControl {
            if UInt64(message.count) + length > UInt64(maxMessageBytes) { throw .messageTooBig(limit: maxMessageBytes) }
        }
        maskKey = 0
        if isMasked {
            state = .maskKey(remaining: 4)
        } else {
            try startPayload(handle)
        }
    }

    private mutating func startPayload(_ handle: (WebSocketEvent) -> Void) throws(WebSocketProtocolError) {
        remaining = length
        maskOffset = 0
        if opcode.isControl {
            control.removeAll(keepingCapacity: true)
            isWholeFrameDeliverable = false
        } else {
            if opcode != .continuation {
                messageOpcode = opcode
                utf8 = UTF8Validator()
                isCompressed = hasRSV1
            }
            isText = messageOpcode == .text
            isWholeFrameDeliverable = opcode != .continuation && isFinal
        }
        state = .payload
        if remaining == 0 { try finishFrame(handle) }
    }

    private mutating func finishFrame(_ handle: (WebSocketEvent) -> Void) throws(WebSocketProtocolError) {
        state = .firstByte
        switch opcode {
        case .ping:
            control.withUnsafeBytes { handle(.ping($0)) }
        case .pong:
            control.withUnsafeBytes { handle(.pong($0)) }
        case .close:
            let (code, reason) = try Self.parseClosePayload(control)
            state = .closed
            handle(.close(code: code, reason: reason))
        case .text, .binary, .continuation:
            guard isFinal, let kind = messageOpcode else { return }
            messageOpcode = nil
            if isCompressed {
                let failure: WebSocketProtocolError? = message.withUnsafeBytes { compressed in
                    do throws(WebSocketProtocolError) {
                        try deliverInflated(kind, compressed, handle)
                        return nil
                    } catch {
                        return error
                    }
                }
                message.removeAll(keepingCapacity: message.capacity <= 64 * 1024)
                if let failure { throw failure }
                return
            }
            if kind == .text && !utf8.isComplete { throw .invalidUTF8 }
            message.withUnsafeBytes { handle(.message(kind, $0)) }
            // Keep a modest buffer for the next message; give back a large one.
            message.removeAll(keepingCapacity: message.capacity <= 64 * 1024)
        }
    }

    /// Inflates a compressed message (bounded by `maxMessageBytes`), checks its text as UTF-8
    /// and hands it on.
    private func deliverInflated(
        _ kind: WebSocketOpcode, _ compressed: UnsafeRawBufferPointer, _ handle: (WebSocketEvent) -> Void
    ) throws(WebSocketProtocolError) {
        guard let inflater else { throw .reservedBitsSet }
        var isValid = true
        try inflater.inflate(compressed, limit: maxMessageBytes) { plain in
            if kind == .text && !UTF8Validator.isValid(plain) {
                isValid = false
                return
            }
            handle(.message(kind, plain))
        }
        if !isValid { throw .invalidUTF8 }
    }

    /// Decodes and validates a close frame's payload (RFC 6455 §5.5.1, §7.4).
    ///
    /// - Returns: the code (`nil` when the payload is empty) and the reason.
    public static func parseClosePayload(_ payload: [UInt8]) throws(WebSocketProtocolError) -> (WebSocketCloseCode?, String) {
        if payload.isEmpty { return (nil, "") }
        guard payload.count >= 2 else { throw .invalidClosePayload }
        let code = WebSocketCloseCode(rawValue: UInt16(payload[0]) << 8 | UInt16(payload[1]))
        guard code.isValidOnWire else { throw .invalidCloseCode(code.rawValue) }
        let reason = payload[2...]
        let isValid = reason.withUnsafeBytes { UTF8Validator.isValid($0) }
        guard isValid else { throw .invalidCloseReason }
        return (code, String(decoding: reason, as: UTF8.self))
    }
}
