import LiveGateCore
import LiveGateHTTP
import LiveGateWebSocket
import Testing

/// Parses `bytes` fed in `pieces` with permessage-deflate negotiated (one shared inflater).
private func parseCompressed(
    _ bytes: [UInt8], pieces: [Int], maxMessage: Int = 1 << 20, inflater: MessageInflater? = MessageInflater()
) -> [Parsed] {
    parse(bytes, pieces: pieces, maxMessage: maxMessage, inflater: inflater)
}

/// The raw DEFLATE form of `payload` as permessage-deflate sends it (tail removed).
private func compress(_ payload: [UInt8]) -> [UInt8] {
    let deflater = MessageDeflater()
    return payload.withUnsafeBytes { deflater.withCompressed($0) { Array($0) } }!
}

private func offer(_ values: String...) -> DeflateAgreement? {
    PerMessageDeflate.negotiate(values)
}

struct PerMessageDeflateNegotiationTests {
    @Test func plainOfferIsAcceptedWithServerNoContextTakeover() {
        let agreement = offer("permessage-deflate")
        #expect(agreement == DeflateAgreement(serverMaxWindowBits: 15))
        #expect(agreement?.responseHeaderValue == "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    }

    @Test func browserOfferWithClientMaxWindowBitsWithoutValue() {
        #expect(offer("permessage-deflate; client_max_window_bits") == DeflateAgreement(serverMaxWindowBits: 15))
    }

    @Test func everyParameterWithValues() {
        let agreement = offer(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12")
        #expect(agreement?.serverMaxWindowBits == 10)
        #expect(agreement?.responseHeaderValue.hasSuffix("; server_max_window_bits=10") == true)
        #expect(agreement?.maxSharedPayloadBytes == 1024)
    }

    @Test func quotedValueAndCaseAndSpacing() {
        #expect(offer("Permessage-Deflate ;\tSERVER_MAX_WINDOW_BITS = \"9\"")?.serverMaxWindowBits == 9)
    }

    @Test(arguments: [
        "permessage-deflate; server_max_window_bits",  // value required
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=abc",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; unknown_parameter",
        "permessage-deflate; server_max_window_bits=\"10",
        "permessage-deflate;",
        "x-webkit-deflate-frame",
        "",
        ",,,",
        "permessage-deflate; a=\"\\",
    ])
    func badOffersAreDeclined(_ value: String) {
        #expect(offer(value) == nil)
    }

    @Test func theFirstAcceptableOfMultipleOffersWins() {
        #expect(offer("permessage-deflate; server_max_window_bits=16, permessage-deflate; server_max_window_bits=11, permessage-deflate")?
            .serverMaxWindowBits == 11)
        #expect(offer("x-webkit-deflate-frame", "foo; bar=1, permessage-deflate; client_max_window_bits")?.serverMaxWindowBits == 15)
        #expect(offer("permessage-deflate; bogus", "permessage-deflate; server_max_window_bits=8")?.serverMaxWindowBits == 8)
    }

    @Test func offersAreParsedInOrderWithParameters() {
        let offers = PerMessageDeflate.parseOffers(["a; x=1; y, permessage-deflate; z=\"10\""])
        #expect(offers.map(\.name) == ["a", "permessage-deflate"])
        #expect(offers[0].parameters.map(\.name) == ["x", "y"])
        #expect(offers[0].parameters.map(\.value) == ["1", nil])
        #expect(offers[1].parameters.map(\.value) == ["10"])
        // A comma inside quotes does not split; the element (a non-token value) is dropped.
        #expect(PerMessageDeflate.parseOffers(["b; q=\"x,y\", permessage-deflate"]).map(\.name) == ["permessage-deflate"])
    }

    @Test func handshakeAnswersWithTheExtensionOnlyWhenOffered() throws {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "x")
        headers.add(name: "Upgrade", value: "websocket")
        headers.add(name: "Connection", value: "Upgrade")
        headers.add(name: "Sec-WebSocket-Version", value: "13")
        headers.add(name: "Sec-WebSocket-Key", value: "dGhlIHNhbXBsZSBub25jZQ==")
        headers.add(name: "Sec-WebSocket-Extensions", value: "permessage-deflate; client_max_window_bits")
        let head = HTTPRequestHead(method: "GET", target: "/ws", minorVersion: 1, headers: headers)
        let on = try WebSocketHandshake.validate(head, offersDeflate: true)
        #expect(on.deflate != nil)
        #expect(on.response.headers.first("sec-websocket-extensions") == on.deflate?.responseHeaderValue)
        let off = try WebSocketHandshake.validate(head, offersDeflate: false)
        #expect(off.deflate == nil)
        #expect(off.response.headers.first("sec-websocket-extensions") == nil)
    }
}

struct PerMessageDeflateCodecTests {
    @Test(arguments: [0, 1, 100, 240, 5000, 70_000])
    func deflateInflateRoundTrip(size: Int) throws {
        var generator = SystemRandomNumberGenerator()
        let words = ["stock", "sku", "hoodie", "\"sellable\":", "42", ",", "{", "}"]
        var text = ""
        while text.utf8.count < size { text += words.randomElement(using: &generator)! }
        let payload = Array(text.utf8.prefix(size))
        let compressed = compress(payload)
        let inflater = MessageInflater()
        var back: [UInt8] = []
        try compressed.withUnsafeBytes { bytes in
            try inflater.inflate(bytes, limit: 1 << 20) { back = Array($0) }
        }
        #expect(back == payload)
        // The same inflater serves the next message (no context carried over).
        try compressed.withUnsafeBytes { bytes in
            try inflater.inflate(bytes, limit: 1 << 20) { back = Array($0) }
        }
        #expect(back == payload)
    }

    @Test func sharedFramesCarryTheCompressedFormWithRSV1() {
        let payload = Array(String(repeating: "{\"type\":\"stock\",\"sku\":\"hoodie\",\"sellable\":41}", count: 6).utf8)
        let frame = payload.withUnsafeBytes { MessageDeflater().makeSharedFrames(opcode: .text, payload: $0) }
        #expect(frame.array == WebSocketFrameEncoder.encode(opcode: .text, payload: payload))
        let deflated = try! #require(frame.deflated)
        #expect(deflated.array[0] == 0xC1)  // FIN, RSV1, text
        #expect(deflated.count < frame.count / 2)
        // A client parser (unmasked frames) with an inflater reads it back.
        var parser = WebSocketFrameParser(maxMessageBytes: 1 << 20, requiresMask: false, inflater: MessageInflater())
        var bytes = deflated.array
        var received: [UInt8] = []
        bytes.withUnsafeMutableBytes { buffer in
            try! parser.parse(buffer) { event in
                if case .message(.text, let plain) = event { received = Array(plain) }
            }
        }
        #expect(received == payload)
    }

    @Test func incompressiblePayloadGetsNoCompressedForm() {
        var generator = SystemRandomNumberGenerator()
        let payload = (0..<300).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let frame = payload.withUnsafeBytes { MessageDeflater().makeSharedFrames(opcode: .binary, payload: $0) }
        #expect(frame.deflated == nil)
    }

    @Test func compressedClientMessageAtEverySplit() {
        let payload = Array(String(repeating: "danmaku 弹幕 ", count: 40).utf8)
        let frame = WebSocketFrameEncoder.encode(opcode: .text, payload: compress(payload), isCompressed: true, maskKey: 0x1234_5678)
        for split in 1..<frame.count {
            #expect(parseCompressed(frame, pieces: [split, frame.count]) == [.message(.text, payload)], "split \(split)")
        }
        #expect(parseCompressed(frame, pieces: Array(repeating: 1, count: frame.count)) == [.message(.text, payload)])
    }

    @Test func fragmentedCompressedMessageHasRSV1OnTheFirstFrameOnly() {
        let payload = Array(String(repeating: "abc", count: 500).utf8)
        let compressed = compress(payload)
        let half = compressed.count / 2
        let frames = WebSocketFrameEncoder.encode(
            opcode: .text, payload: compressed[..<half], isFinal: false, isCompressed: true, maskKey: 7)
            + WebSocketFrameEncoder.encode(opcode: .continuation, payload: compressed[half...], maskKey: 9)
        #expect(parseCompressed(frames, pieces: [frames.count]) == [.message(.text, payload)])
        let bad = WebSocketFrameEncoder.encode(opcode: .text, payload: compressed[..<half], isFinal: false, isCompressed: true, maskKey: 7)
            + WebSocketFrameEncoder.encode(opcode: .continuation, payload: compressed[half...], isCompressed: true, maskKey: 9)
        #expect(parseCompressed(bad, pieces: [bad.count]) == [.error(.reservedBitsSet)])
    }

    @Test func rsv1OnControlFramesOrWithoutNegotiationIsAProtocolError() {
        let ping = WebSocketFrameEncoder.encode(opcode: .ping, payload: [1, 2], isCompressed: true, maskKey: 1)
        #expect(parseCompressed(ping, pieces: [ping.count]) == [.error(.reservedBitsSet)])
        #expect(WebSocketProtocolError.reservedBitsSet.closeCode == .protocolError)
        let text = WebSocketFrameEncoder.encode(opcode: .text, payload: compress([65, 66]), isCompressed: true, maskKey: 1)
        #expect(parseCompressed(text, pieces: [text.count], inflater: nil) == [.error(.reservedBitsSet)])
        // RSV2 and RSV3 stay errors even with the extension.
        var rsv2 = WebSocketFrameEncoder.encode(opcode: .text, payload: [65], maskKey: 1)
        rsv2[0] |= 0x20
        #expect(parseCompressed(rsv2, pieces: [rsv2.count]) == [.error(.reservedBitsSet)])
    }

    @Test func inflatedTextIsValidatedAsUTF8() {
        let frame = WebSocketFrameEncoder.encode(opcode: .text, payload: compress([0x61, 0xC3, 0x28]), isCompressed: true, maskKey: 3)
        #expect(parseCompressed(frame, pieces: [frame.count]) == [.error(.invalidUTF8)])
    }

    @Test func garbageIsInvalidCompressedData() {
        let frame = WebSocketFrameEncoder.encode(opcode: .binary, payload: [0xFF, 0xFF, 0xFF, 0xFF, 0x00], isCompressed: true, maskKey: 3)
        #expect(parseCompressed(frame, pieces: [frame.count]) == [.error(.invalidCompressedData)])
        #expect(WebSocketProtocolError.invalidCompressedData.closeCode == .invalidPayload)
    }

    @Test func zipBombIsRefusedWith1009BeforeItIsInflated() throws {
        // 64 MiB of zeros deflate to about 64 KiB; the limit is 64 KiB inflated.
        let bomb = compress([UInt8](repeating: 0, count: 64 << 20))
        #expect(bomb.count < 128 * 1024)
        let limit = 64 * 1024
        let inflater = MessageInflater()
        let frame = WebSocketFrameEncoder.encode(opcode: .binary, payload: bomb, isCompressed: true, maskKey: 0xA5A5_A5A5)
        let events = parseCompressed(frame, pieces: [frame.count], maxMessage: 1 << 20, inflater: inflater)
        #expect(events == [.error(.inflatedMessageTooBig(limit: 1 << 20))])
        #expect(inflater.lastOutputBytes == (1 << 20) + 1)
        #expect(WebSocketProtocolError.inflatedMessageTooBig(limit: 1).closeCode == .messageTooBig)
        // Straight through the inflater: it never holds more than the limit and one step.
        var delivered = false
        #expect(throws: WebSocketProtocolError.inflatedMessageTooBig(limit: limit)) {
            try bomb.withUnsafeBytes { try inflater.inflate($0, limit: limit) { _ in delivered = true } }
        }
        #expect(!delivered)
        #expect(inflater.lastOutputBytes == limit + 1)
        // A message exactly at the limit passes.
        let exact = compress([UInt8](repeating: 7, count: limit))
        var count = 0
        try exact.withUnsafeBytes { try inflater.inflate($0, limit: limit) { count = $0.count } }
        #expect(count == limit)
    }
}
