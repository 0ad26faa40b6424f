import Foundation
import LiveGate
import LiveGateCore
import LiveGateWebSocket
import Testing

/// Starts a server on 127.0.0.1:0 with `/echo`, runs `body`, shuts it down.
func withServer(
    _ adjust: (inout Configuration) -> Void = { _ in },
    _ body: (Server) throws -> Void
) throws {
    var configuration = Configuration()
    configuration.host = "127.0.0.1"
    configuration.port = 0
    configuration.ioThreads = 2
    configuration.echo = true
    configuration.logLevel = .warning
    configuration.shutdownGraceSeconds = 2
    adjust(&configuration)
    let server = try Server(configuration: configuration)
    try server.start()
    defer { server.shutdown() }
    try body(server)
}

@Suite(.serialized)
struct ServerTests {
    @Test func keepAliveServesSeveralRequestsOnOneSocket() throws {
        try withServer { server in
            let client = try TestClient(port: server.port)
            client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            let first = try #require(client.readResponse())
            #expect(first.status == 200)
            #expect(first.body.contains("/echo"))
            // Pipelined: the favicon a browser asks for next, then a health check.
            client.send("GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(client.readResponse()?.status == 404)
            let health = try #require(client.readResponse())
            #expect(health.status == 200)
            #expect(health.body == "ok\n")
            client.send("HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let head = try #require(client.readResponse(isHead: true))
            #expect(head.headers["connection"] == "close")
            #expect(head.headers["content-length"] == "3")
            #expect(client.readsEndOfStream())
        }
    }

    @Test func requestBodiesAreReadAndLimited() throws {
        try withServer({ $0.maxBodyBytes = 100 }) { server in
            let client = try TestClient(port: server.port)
            // A body on a GET-only route is consumed, then the next request is served.
            client.send("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            let refused = try #require(client.readResponse())
            #expect(refused.status == 405)
            #expect(refused.headers["allow"] == "GET, HEAD")
            #expect(client.readResponse()?.status == 200)
            client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n")
            let tooLarge = try #require(client.readResponse())
            #expect(tooLarge.status == 413)
            #expect(tooLarge.body.contains("limit of 100"))
            #expect(client.readsEndOfStream())

            let chunked = try TestClient(port: server.port)
            chunked.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
            #expect(chunked.readResponse()?.status == 411)
        }
    }

    @Test func badHeadsGetAStatusWithAReason() throws {
        try withServer({ $0.maxHeadBytes = 512 }) { server in
            let big = try TestClient(port: server.port)
            big.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 1000) + "\r\n\r\n")
            #expect(big.readResponse()?.status == 431)
            let garbage = try TestClient(port: server.port)
            garbage.send("HELLO\r\n\r\n")
            let response = try #require(garbage.readResponse())
            #expect(response.status == 400)
            #expect(response.body.contains("request line"))
            // A framing error closes; a 404 or 405 on a well-formed request does not (see above).
            #expect(garbage.readsEndOfStream())
            let version = try TestClient(port: server.port)
            version.send("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
            let refused = try #require(version.readResponse())
            #expect(refused.status == 426)
            #expect(refused.headers["sec-websocket-version"] == "13")
            let key = try TestClient(port: server.port)
            key.send("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n")
            #expect(key.readResponse()?.status == 400)
        }
    }

    @Test func slowHeadIsDroppedAtTheDeadline() throws {
        try withServer({ $0.handshakeTimeoutSeconds = 0.5 }) { server in
            let client = try TestClient(port: server.port)
            let started = Date()
            client.send("GET / HTTP/1.1\r\nHost: x\r\n")  // never finishes
            let response = try #require(client.readResponse())
            #expect(response.status == 408)
            #expect(client.readsEndOfStream())
            #expect(Date().timeIntervalSince(started) < 3)
        }
    }

    @Test func echoTextBinaryPingAndClose() throws {
        try withServer { server in
            let client = try TestClient(port: server.port)
            #expect(client.upgrade() == 101)
            client.sendFrame(.text, Array("hello".utf8))
            #expect(client.readFrame()?.payload == Array("hello".utf8))
            client.sendFrame(.binary, [0, 1, 2], fin: false)
            client.sendFrame(.ping, [9])
            client.sendFrame(.continuation, [3], fin: true)
            let pong = try #require(client.readFrame())
            #expect(pong.opcode == 0xA)
            #expect(pong.payload == [9])
            let binary = try #require(client.readFrame())
            #expect(binary.opcode == 0x2)
            #expect(binary.payload == [0, 1, 2, 3])
            client.sendFrame(.close, [0x03, 0xE8] + Array("done".utf8))
            let close = try #require(client.readFrame())
            #expect(close.opcode == 0x8)
            #expect(closeCode(close.payload) == 1000)
            #expect(client.readsEndOfStream())
        }
    }

    @Test func idleConnectionIsPingedThenClosed() throws {
        try withServer({ $0.idlePingSeconds = 0.3 }) { server in
            let client = try TestClient(port: server.port)
            #expect(client.upgrade() == 101)
            let ping = try #require(client.readFrame())
            #expect(ping.opcode == 0x9)
            // No answer at all: the server gives up with 1001.
            let close = try #require(client.readFrame())
            #expect(close.opcode == 0x8)
            #expect(closeCode(close.payload) == 1001)

            // A peer that answers stays open.
            let lively = try TestClient(port: server.port)
            #expect(lively.upgrade() == 101)
            for _ in 0..<3 {
                let ping = try #require(lively.readFrame())
                #expect(ping.opcode == 0x9)
                lively.sendFrame(.pong, ping.payload)
            }
            lively.sendFrame(.text, Array("still here".utf8))
            #expect(lively.readFrame()?.payload == Array("still here".utf8))
        }
    }

    @Test func protocolErrorsCloseWithTheirCode() throws {
        try withServer({ $0.echoMaxMessageBytes = 1000 }) { server in
            let unmasked = try TestClient(port: server.port)
            #expect(unmasked.upgrade() == 101)
            unmasked.send([0x81, 0x01, 0x61])
            let close = try #require(unmasked.readFrame())
            #expect(closeCode(close.payload) == 1002)
            #expect(unmasked.readsEndOfStream())

            let tooBig = try TestClient(port: server.port)
            #expect(tooBig.upgrade() == 101)
            tooBig.sendFrame(.binary, Array(repeating: 1, count: 1001))
            #expect(closeCode(try #require(tooBig.readFrame()).payload) == 1009)

            let badText = try TestClient(port: server.port)
            #expect(badText.upgrade() == 101)
            badText.sendFrame(.text, [0xC0, 0xAF])
            #expect(closeCode(try #require(badText.readFrame()).payload) == 1007)
        }
    }

    @Test func shutdownSendsGoingAway() throws {
        var configuration = Configuration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.echo = true
        configuration.logLevel = .warning
        configuration.shutdownGraceSeconds = 2
        let server = try Server(configuration: configuration)
        try server.start()
        let clients = try (0..<3).map { _ in try TestClient(port: server.port) }
        for client in clients { #expect(client.upgrade() == 101) }
        let stopper = Thread { server.shutdown() }
        stopper.start()
        for client in clients {
            let close = try #require(client.readFrame())
            #expect(close.opcode == 0x8)
            #expect(closeCode(close.payload) == 1001)
            client.sendFrame(.close, [0x03, 0xE9])
            #expect(client.readsEndOfStream())
        }
        // New connections are refused once the listeners are closed.
        var refused = false
        for _ in 0..<50 {
            if (try? TestClient(port: server.port)) == nil { refused = true; break }
            usleep(20_000)
        }
        #expect(refused)
    }
}
