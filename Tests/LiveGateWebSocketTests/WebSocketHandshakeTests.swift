import LiveGateHTTP
import LiveGateWebSocket
import Testing

struct WebSocketHandshakeTests {
    func head(_ fields: [(String, String)], method: String = "GET", minor: Int = 1) -> HTTPRequestHead {
        HTTPRequestHead(method: method, target: "/echo", minorVersion: minor, headers: HTTPHeaders(fields.map { (name: $0.0, value: $0.1) }))
    }

    let good: [(String, String)] = [
        ("Host", "h"), ("upgrade", "websocket"), ("CONNECTION", "keep-alive, Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13"),
    ]

    @Test func acceptsAValidUpgrade() throws {
        let response = try WebSocketHandshake.validate(head(good))
        #expect(response.status.code == 101)
        #expect(response.headers.first("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func refusals() {
        func refusal(_ fields: [(String, String)], method: String = "GET", minor: Int = 1) -> HandshakeError? {
            do {
                _ = try WebSocketHandshake.validate(head(fields, method: method, minor: minor))
                return nil
            } catch {
                return error
            }
        }
        func replacing(_ name: String, with value: String?) -> [(String, String)] {
            var fields = good.filter { $0.0.lowercased() != name.lowercased() }
            if let value { fields.append((name, value)) }
            return fields
        }
        #expect(refusal(good, method: "POST") == .methodNotAllowed("POST"))
        #expect(refusal(replacing("Upgrade", with: nil)) == .notAnUpgrade)
        #expect(refusal(replacing("Connection", with: "keep-alive")) == .missingConnectionUpgrade)
        #expect(refusal(good, minor: 0) == .httpVersionTooOld)
        #expect(refusal(replacing("Sec-WebSocket-Version", with: "8")) == .unsupportedVersion("8"))
        #expect(refusal(replacing("Sec-WebSocket-Key", with: "c2hvcnQ=")) == .invalidKey)
        #expect(refusal(replacing("Sec-WebSocket-Key", with: nil)) == .invalidKey)
        #expect(refusal(replacing("Sec-WebSocket-Key", with: "not base64 at all!!!!!!")) == .invalidKey)
        let version = HandshakeError.unsupportedVersion("8").response
        #expect(version.status.code == 426)
        #expect(version.headers.first("Sec-WebSocket-Version") == "13")
        #expect(HandshakeError.methodNotAllowed("POST").response.status.code == 405)
        #expect(HandshakeError.notAnUpgrade.response.status.code == 426)
    }
}
