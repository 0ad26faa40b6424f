import LiveGateCore
import LiveGateWebSocket
import Testing

/// What the parser reported, in a comparable form.
enum Parsed: Equatable {
    case message(WebSocketOpcode, [UInt8])
    case ping([UInt8])
    case pong([UInt8])
    case close(UInt16?, String)
    case error(WebSocketProtocolError)
}

/// Parses `bytes` fed in `pieces` (each copied, so in-place unmasking is per piece), with `inflater` when
/// permessage-deflate is negotiated.
func parse(_ bytes: [UInt8], pieces: [Int], maxMessage: Int = 1 << 20, inflater: MessageInflater? = nil) -> [Parsed] {
    var parser = WebSocketFrameParser(maxMessageBytes: maxMessage, inflater: inflater)
    var events: [Parsed] = []
    var offset = 0
    for size in pieces where offset < bytes.count {
        let end = min(bytes.count, offset + size)
        var piece = Array(bytes[offset..<end])
        offset = end
        do {
            try piece.withUnsafeMutableBytes { buffer in
                try parser.parse(buffer) { event in
                    switch event {
                    case .message(let opcode, let payload): events.append(.message(opcode, Array(payload)))
                    case .ping(let payload): events.append(.ping(Array(payload)))
                    case .pong(let payload): events.append(.pong(Array(payload)))
                    case .close(let code, let reason): events.append(.close(code?.rawValue, reason))
                    }
                }
            }
        } catch {
            events.append(.error(error as! WebSocketProtocolError))
            return events
        }
    }
    return events
}

func splits(of count: Int, seed: UInt64 = 3) -> [[Int]] {
    var result: [[Int]] = [[count], Array(repeating: 1, count: count)]
    for point in stride(from: 1, to: count, by: max(1, count / 64)) { result.append([point, count - point]) }
    var state = seed
    for _ in 0..<40 {
        var left = count
        var pieces: [Int] = []
        while left > 0 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let size = min(left, Int((state >> 33) % 23) + 1)
            pieces.append(size)
            left -= size
        }
        result.append(pieces)
    }
    return result
}

func masked(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, key: UInt32 = 0x1234_5678) -> [UInt8] {
    WebSocketFrameEncoder.encode(opcode: opcode, payload: payload, isFinal: fin, maskKey: key)
}

/// A raw frame header with arbitrary bits, masked with a zero key.
func rawFrame(first: UInt8, length: UInt8, payload: [UInt8] = [], extended: [UInt8] = []) -> [UInt8] {
    [first, 0x80 | length] + extended + [0, 0, 0, 0] + payload
}

struct WebSocketFrameParserTests {
    @Test func handshakeAcceptMatchesRFC6455Example() {
        #expect(WebSocketHandshake.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func sameEventsInEverySplit() {
        let text = Array("héllo wörld, 你好".utf8)
        let stream =
            masked(.text, text)
            + masked(.binary, Array(repeating: 7, count: 300))  // 16-bit length
            + masked(.text, Array(text[0..<4]), fin: false)  // fragmented, with a ping inside
            + masked(.ping, [1, 2, 3])
            + masked(.continuation, Array(text[4...]), fin: false)
            + masked(.continuation, [], fin: true)
            + masked(.binary, Array(repeating: 9, count: 70_000))  // 64-bit length
            + masked(.pong, [])
            + masked(.close, WebSocketFrameEncoder.closePayload(code: .normal, reason: "bye"))
            + masked(.text, Array("ignored after close".utf8))
        let expected: [Parsed] = [
            .message(.text, text), .message(.binary, Array(repeating: 7, count: 300)), .ping([1, 2, 3]),
            .message(.text, text), .message(.binary, Array(repeating: 9, count: 70_000)), .pong([]),
            .close(1000, "bye"),
        ]
        for pieces in splits(of: stream.count) {
            #expect(parse(stream, pieces: pieces) == expected)
        }
    }

    @Test func oneByteAtATime() {
        let stream = masked(.text, Array("abc".utf8), key: 0xDEAD_BEEF) + masked(.close, [])
        #expect(parse(stream, pieces: Array(repeating: 1, count: stream.count)) == [.message(.text, Array("abc".utf8)), .close(nil, "")])
    }

    @Test func unmaskingMatchesAtEveryOffset() {
        let payload = (0..<257).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for key: UInt32 in [0, 0xFFFF_FFFF, 0x0102_0304, 0xA5C3_5A3C] {
            var bytes = payload
            for offset in 0..<4 {
                bytes = payload
                bytes.withUnsafeMutableBytes { buffer in
                    WebSocketMasking.unmask(UnsafeMutableRawBufferPointer(rebasing: buffer[offset...]), key: key, offset: offset)
                }
                let keyBytes = withUnsafeBytes(of: key) { Array($0) }
                for index in offset..<payload.count {
                    #expect(bytes[index] == payload[index] ^ keyBytes[index % 4])
                }
            }
        }
    }

    @Test(arguments: [
        (rawFrame(first: 0x81 | 0x40, length: 0), WebSocketProtocolError.reservedBitsSet),
        (rawFrame(first: 0x83, length: 0), .unknownOpcode(3)),
        (rawFrame(first: 0x8B, length: 0), .unknownOpcode(11)),
        ([0x81, 0x03, 0x61, 0x62, 0x63], .unmaskedClientFrame),
        (rawFrame(first: 0x89, length: 126, payload: [], extended: [0, 126]), .controlFrameTooLong),
        (rawFrame(first: 0x09, length: 0), .fragmentedControlFrame),
        (rawFrame(first: 0x80, length: 0), .unexpectedContinuation),
        (rawFrame(first: 0x01, length: 0) + rawFrame(first: 0x81, length: 0), .expectedContinuation),
        (rawFrame(first: 0x82, length: 127, extended: [0x80, 0, 0, 0, 0, 0, 0, 1]), .invalidLength),
        (rawFrame(first: 0x82, length: 127, extended: [0, 0, 0, 0, 0, 0x10, 0, 1]), .messageTooBig(limit: 1 << 20)),
        (rawFrame(first: 0x81, length: 2, payload: [0xC0, 0x80]), .invalidUTF8),
        (rawFrame(first: 0x88, length: 1, payload: [3]), .invalidClosePayload),
        (rawFrame(first: 0x88, length: 2, payload: [0x03, 0xED]), .invalidCloseCode(1005)),
        (rawFrame(first: 0x88, length: 2, payload: [0x03, 0xE7]), .invalidCloseCode(999)),
        (rawFrame(first: 0x88, length: 2, payload: [0x13, 0x88]), .invalidCloseCode(5000)),
        (rawFrame(first: 0x88, length: 4, payload: [0x03, 0xE8, 0xFF, 0xFE]), .invalidCloseReason),
    ])
    func protocolViolations(bytes: [UInt8], error: WebSocketProtocolError) {
        for pieces in [[bytes.count], Array(repeating: 1, count: bytes.count)] {
            #expect(parse(bytes, pieces: pieces).last == .error(error))
        }
    }

    @Test(arguments: [
        (WebSocketProtocolError.reservedBitsSet, UInt16(1002)), (.invalidUTF8, 1007), (.invalidCloseReason, 1007),
        (.messageTooBig(limit: 1), 1009), (.invalidCloseCode(1004), 1002), (.unmaskedClientFrame, 1002),
    ])
    func errorsMapToCloseCodes(error: WebSocketProtocolError, code: UInt16) {
        #expect(error.closeCode.rawValue == code)
        #expect(error.reason.utf8.count <= 123)
    }

    @Test func fragmentedMessageLimitCountsAllFragments() {
        let stream = masked(.binary, Array(repeating: 1, count: 60), fin: false)
            + masked(.continuation, Array(repeating: 1, count: 60), fin: true)
        #expect(parse(stream, pieces: [stream.count], maxMessage: 100).last == .error(.messageTooBig(limit: 100)))
        #expect(parse(stream, pieces: [stream.count], maxMessage: 120) == [.message(.binary, Array(repeating: 1, count: 120))])
    }

    @Test func invalidUTF8FailsAtTheBadFragmentNotAtTheEnd() {
        // The first fragment is valid, the second holds an invalid byte; the final one never arrives.
        let stream = masked(.text, Array("ok".utf8), fin: false) + masked(.continuation, [0xF5], fin: false)
        #expect(parse(stream, pieces: [stream.count]) == [.error(.invalidUTF8)])
        // A code point split across fragments is fine.
        let euro = Array("€".utf8)
        let split = masked(.text, [euro[0]], fin: false) + masked(.continuation, Array(euro[1...]), fin: true)
        #expect(parse(split, pieces: [split.count]) == [.message(.text, euro)])
        // A truncated code point at the end of the message is not.
        let truncated = masked(.text, [euro[0], euro[1]])
        #expect(parse(truncated, pieces: [truncated.count]) == [.error(.invalidUTF8)])
    }

    @Test(arguments: [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999] as [UInt16])
    func validCloseCodes(code: UInt16) {
        let stream = masked(.close, WebSocketFrameEncoder.closePayload(code: WebSocketCloseCode(rawValue: code), reason: "r"))
        #expect(parse(stream, pieces: [stream.count]) == [.close(code, "r")])
    }

    @Test func closeReasonIsCutAtACodePointBoundary() {
        let payload = WebSocketFrameEncoder.closePayload(code: .normal, reason: String(repeating: "你", count: 60))
        #expect(payload.count <= 125)
        #expect(payload.count == 2 + 41 * 3)
    }

    @Test func sharedFrameIsAServerFrame() throws {
        let payload = Array(repeating: UInt8(42), count: 200)
        let frame = payload.withUnsafeBytes { WebSocketFrameEncoder.makeSharedFrame(opcode: .binary, payload: $0) }
        #expect(frame.array == [0x82, 126, 0, 200] + payload)
        var parser = WebSocketFrameParser(maxMessageBytes: 1000, requiresMask: false)
        var got: [UInt8] = []
        var bytes = frame.array
        try bytes.withUnsafeMutableBytes { buffer in
            try parser.parse(buffer) { event in
                if case .message(_, let data) = event { got = Array(data) }
            }
        }
        #expect(got == payload)
    }
}

struct UTF8ValidatorTests {
    @Test(arguments: [
        ("", true), ("ascii only, long enough for the fast path", true), ("κόσμε", true), ("\u{10FFFF}", true),
    ])
    func validStrings(text: String, valid: Bool) {
        #expect(Array(text.utf8).withUnsafeBytes { UTF8Validator.isValid($0) } == valid)
    }

    @Test(arguments: [
        [0x80], [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
        [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xE2, 0x82], [0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0xFE],
    ] as [[UInt8]])
    func invalidSequences(bytes: [UInt8]) {
        #expect(!bytes.withUnsafeBytes { UTF8Validator.isValid($0) })
    }

    @Test func agreesWithTheStandardLibraryOnRandomBytesInEverySplit() {
        var state: UInt64 = 99
        for _ in 0..<300 {
            let length = Int(state % 12) + 1
            var bytes: [UInt8] = []
            for _ in 0..<length {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                // Bias towards the interesting range.
                bytes.append(UInt8(truncatingIfNeeded: (state >> 40) | ((state >> 20) & 1 == 0 ? 0x80 : 0)))
            }
            let reference = String(validating: bytes, as: UTF8.self) != nil
            for split in 0...bytes.count {
                var validator = UTF8Validator()
                let first = bytes[..<split].withUnsafeBytes { validator.validate($0) }
                let second = first && bytes[split...].withUnsafeBytes { validator.validate($0) }
                #expect((second && validator.isComplete) == reference, "\(bytes) split at \(split)")
            }
        }
    }
}

/// The named close codes: their numbers (RFC 6455 §7.4.1, RFC 6455 registry) and which may be sent.
struct WebSocketCloseCodeTests {
    @Test(arguments: [
        (WebSocketCloseCode.normal, UInt16(1000)), (.goingAway, 1001), (.protocolError, 1002), (.unsupportedData, 1003),
        (.invalidPayload, 1007), (.policyViolation, 1008), (.messageTooBig, 1009), (.mandatoryExtension, 1010),
        (.internalError, 1011), (.serviceRestart, 1012), (.tryAgainLater, 1013),
    ])
    func namedCodesHaveTheirNumbers(code: WebSocketCloseCode, number: UInt16) {
        #expect(code.rawValue == number)
        #expect(code.isValidOnWire)
        #expect(WebSocketFrameEncoder.closePayload(code: code, reason: "")
            == [UInt8(number >> 8), UInt8(number & 0xFF)])
    }

    @Test(arguments: [999, 1004, 1005, 1006, 1015, 2999, 5000] as [UInt16])
    func reservedCodesAreNotSent(number: UInt16) {
        #expect(!WebSocketCloseCode(rawValue: number).isValidOnWire)
    }
}
