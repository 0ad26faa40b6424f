import Foundation
import LiveGateCore
import LiveGateWebSocket
import Synchronization
import Testing

@testable import LiveGate

extension TestClient {
    /// Reads the next text frame, inflating it when it is compressed: the JSON object and
    /// whether it came compressed.
    func readMaybeCompressedJSON(_ inflater: MessageInflater) -> (json: [String: Any], isCompressed: Bool)? {
        guard let frame = readFrameWithFlags(), frame.opcode == 1 else { return nil }
        var payload = frame.payload
        if frame.isCompressed {
            do {
                try frame.payload.withUnsafeBytes { try inflater.inflate($0, limit: 1 << 20) { payload = Array($0) } }
            } catch { return nil }
        }
        guard let json = (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any] else { return nil }
        return (json, frame.isCompressed)
    }
}

/// permessage-deflate end to end: negotiation on `/ws`, one deflate per room message, limits.
@Suite(.serialized)
struct DeflateTests {
    static let offer = "permessage-deflate; client_max_window_bits"

    private func joinViewer(_ room: RoomFixture, deflate: Bool, inflater: MessageInflater) throws -> TestClient {
        let client = try TestClient(port: room.port)
        let response = try #require(client.upgradeWithHeaders(
            path: "/ws?token=\(room.token(.viewer))", extensions: deflate ? Self.offer : nil))
        #expect(response.status == 101)
        #expect((response.headers["sec-websocket-extensions"] != nil) == deflate)
        #expect(client.readMaybeCompressedJSON(inflater)?.json["type"] as? String == "snapshot")
        return client
    }

    /// Reads until a `stock` message; returns it and whether it came compressed.
    private func readStock(_ client: TestClient, _ inflater: MessageInflater) -> (json: [String: Any], isCompressed: Bool)? {
        for _ in 0..<20 {
            guard let message = client.readMaybeCompressedJSON(inflater) else { return nil }
            if message.json["type"] as? String == "stock" { return message }
        }
        return nil
    }

    @Test func aRoomMessageIsDeflatedOnceWhateverTheNumberOfSubscribers() throws {
        let room = try RoomFixture {
            $0.compression = true
            $0.compressionMinimumBytes = 0
        }
        let stats = room.gateway.server.stats
        let inflater = MessageInflater()
        let (connector, _) = try room.join(.connector, channel: "taobao")
        var compressedViewers = try (0..<2).map { _ in try joinViewer(room, deflate: true, inflater: inflater) }
        let plainViewers = try (0..<2).map { _ in try joinViewer(room, deflate: false, inflater: inflater) }
        #expect(stats.deflateConnections.load(ordering: .relaxed) == 2)

        func order(_ id: String) throws -> Int {
            let before = stats.messagesDeflated.load(ordering: .relaxed)
            connector.sendJSON(["type": "order", "orderId": id, "sku": "hoodie", "qty": 1, "state": "paid"])
            #expect(connector.read(type: "result")?["ok"] as? Bool == true)
            var plain: [String: Any] = [:]
            for viewer in plainViewers {
                let stock = try #require(readStock(viewer, inflater))
                #expect(!stock.isCompressed)
                plain = stock.json
            }
            for viewer in compressedViewers {
                let stock = try #require(readStock(viewer, inflater))
                #expect(stock.isCompressed)
                #expect(NSDictionary(dictionary: stock.json) == NSDictionary(dictionary: plain))
            }
            return stats.messagesDeflated.load(ordering: .relaxed) - before
        }
        let withTwo = try order("D-1")
        #expect(withTwo >= 1)
        compressedViewers += try (0..<8).map { _ in try joinViewer(room, deflate: true, inflater: inflater) }
        let withTen = try order("D-2")
        // One deflate per published message: five times the subscribers, the same count.
        #expect(withTen == withTwo)
        #expect(stats.deflateConnections.load(ordering: .relaxed) == 10)
        withExtendedLifetime(compressedViewers) {}
    }

    @Test func withoutDeflateSubscribersNothingIsCompressed() throws {
        let room = try RoomFixture { $0.compression = true; $0.compressionMinimumBytes = 0 }
        let inflater = MessageInflater()
        let (connector, _) = try room.join(.connector, channel: "taobao")
        let viewer = try joinViewer(room, deflate: false, inflater: inflater)
        connector.sendJSON(["type": "order", "orderId": "N-1", "sku": "hoodie", "qty": 1, "state": "paid"])
        #expect(readStock(viewer, inflater)?.isCompressed == false)
        #expect(room.gateway.server.stats.messagesDeflated.load(ordering: .relaxed) == 0)
    }

    @Test func compressionOffDeclinesTheOffer() throws {
        let room = try RoomFixture()
        let client = try TestClient(port: room.port)
        let response = try #require(client.upgradeWithHeaders(path: "/ws?token=\(room.token(.viewer))", extensions: Self.offer))
        #expect(response.status == 101)
        #expect(response.headers["sec-websocket-extensions"] == nil)
    }

    @Test func smallMessagesGoOutPlainBelowTheMinimum() throws {
        let room = try RoomFixture { $0.compression = true; $0.compressionMinimumBytes = 100_000 }
        let inflater = MessageInflater()
        let (connector, _) = try room.join(.connector, channel: "taobao")
        let viewer = try joinViewer(room, deflate: true, inflater: inflater)
        connector.sendJSON(["type": "order", "orderId": "S-1", "sku": "hoodie", "qty": 1, "state": "paid"])
        #expect(readStock(viewer, inflater)?.isCompressed == false)
    }

    @Test func aZipBombClosesWith1009AndIsCounted() throws {
        let room = try RoomFixture { $0.compression = true }
        let inflater = MessageInflater()
        let viewer = try joinViewer(room, deflate: true, inflater: inflater)
        // 32 MiB of spaces deflate to about 32 KiB, under the 64 KiB limit on the wire.
        let plain = [UInt8](repeating: 0x20, count: 32 << 20)
        let bomb = plain.withUnsafeBytes { MessageDeflater().withCompressed($0) { Array($0) } }!
        #expect(bomb.count < room.gateway.server.configuration.maxMessageBytes)
        viewer.send(WebSocketFrameEncoder.encode(opcode: .text, payload: bomb, isCompressed: true, maskKey: 0x0102_0304))
        var code: UInt16?
        while let frame = viewer.readFrame() {
            if frame.opcode == 8 { code = closeCode(frame.payload); break }
        }
        #expect(code == 1009)
        #expect(room.gateway.server.stats.inflateLimitCloses.load(ordering: .relaxed) == 1)
        let http = try TestClient(port: room.port)
        http.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        let metrics = try #require(http.readResponse())
        #expect(metrics.body.contains("livegate_inflate_limit_closes_total 1"))
    }

    @Test func aCompressedClientMessageIsInflated() throws {
        let room = try RoomFixture { $0.compression = true }
        let inflater = MessageInflater()
        let (op, _) = try room.join(.operator)
        let client = try TestClient(port: room.port)
        let response = try #require(client.upgradeWithHeaders(path: "/ws?token=\(room.token(.operator, sub: "o2"))", extensions: Self.offer))
        #expect(response.status == 101)
        #expect(client.readMaybeCompressedJSON(inflater)?.json["type"] as? String == "snapshot")
        let command = Array(#"{"type":"restock","id":"r1","sku":"cap","qty":5}"#.utf8)
        let compressed = command.withUnsafeBytes { MessageDeflater().withCompressed($0) { Array($0) } }!
        client.send(WebSocketFrameEncoder.encode(opcode: .text, payload: compressed, isCompressed: true, maskKey: 0x0A0B_0C0D))
        var result: [String: Any]?
        for _ in 0..<20 {
            guard let message = client.readMaybeCompressedJSON(inflater) else { break }
            if message.json["type"] as? String == "result" { result = message.json; break }
        }
        #expect(result?["id"] as? String == "r1")
        #expect(result?["ok"] as? Bool == true)
        withExtendedLifetime(op) {}
    }

    @Test(.timeLimit(.minutes(2)))
    func pythonWebsocketsReceivesRoomMessagesCompressed() throws {
        let room = try RoomFixture { $0.compression = true; $0.compressionMinimumBytes = 0 }
        let script = ConfigurationTests.repositoryRoot.appendingPathComponent("Tests/python/deflate_room.py").path
        let (status, text) = try runPython(
            script, "ws://127.0.0.1:\(room.port)/ws?token=\(room.token(.viewer))",
            "ws://127.0.0.1:\(room.port)/ws?token=\(room.token(.connector, channel: "taobao"))")
        #expect(status == 0, "\(text)")
        #expect(text.contains("negotiated permessage-deflate"), "\(text)")
        #expect(!text.contains("FAIL"), "\(text)")
    }
}
