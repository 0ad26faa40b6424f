import LiveGateWebSocket

/// The plain pub/sub protocol of the neutral load generator (`--bench-pubsub`): a `/bench`
/// connection that sends a text frame containing `"op":"sub"` joins topic `room1`.
final class BenchSubscriberSession: WebSocketSession {
    static let topic = "bench:room1"
    private let streams: StreamHub
    private var isSubscribed = false

    init(streams: StreamHub) {
        self.streams = streams
    }

    func connectionDidOpen(_ connection: Connection) {}

    func connection(_ connection: Connection, didReceive opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) {
        guard !isSubscribed, opcode == .text, contains(payload, Array(#""op":"sub""#.utf8)),
            let seq = streams.position(room: Self.topic, audience: .viewer)
        else { return }
        isSubscribed = true
        connection.loopContext.subscribe(connection, room: Self.topic, audience: .viewer, startSeq: seq)
    }

    func connectionDidClose(_ connection: Connection) {
        connection.loopContext.unsubscribe(connection)
    }

    private func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) {
            var index = 0
            while index < needle.count && haystack[start + index] == needle[index] { index += 1 }
            if index == needle.count { return true }
        }
        return false
    }
}

/// `/bench/pub`: every text frame is published verbatim to topic `room1` through the
/// room fan-out path (encode once, hand to every loop, flush once per loop turn).
final class BenchPublisherSession: WebSocketSession {
    private let streams: StreamHub

    init(streams: StreamHub) {
        self.streams = streams
    }

    func connectionDidOpen(_ connection: Connection) {}

    func connection(_ connection: Connection, didReceive opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) {
        guard opcode == .text else { return }
        streams.publishVerbatim(
            room: BenchSubscriberSession.topic, audience: .viewer,
            frame: WebSocketFrameEncoder.makeSharedFrame(opcode: .text, payload: payload))
    }

    func connectionDidClose(_ connection: Connection) {}
}
