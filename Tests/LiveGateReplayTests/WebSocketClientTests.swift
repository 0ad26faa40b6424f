import Foundation
import Glibc
import Synchronization
import Testing

@testable import LiveGateReplay

/// The replay's WebSocket client against a scripted server: fragments reassembled, a ping between
/// fragments answered with a masked pong, the server's close answered.
struct WebSocketClientTests {
    /// A listening socket on 127.0.0.1 and its port.
    static func listen() throws -> (fd: CInt, port: Int) {
        let fd = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                Glibc.bind(fd, pointer, length) == 0 && Glibc.listen(fd, 1) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        try #require(bound)
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// Reads exactly `count` bytes.
    static func read(_ fd: CInt, _ count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: count)
        while bytes.count < count {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count - bytes.count, 0) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return bytes
    }

    /// Reads one client frame: opcode, whether it was masked, the unmasked payload.
    static func readFrame(_ fd: CInt) -> (opcode: UInt8, isMasked: Bool, payload: [UInt8]) {
        let head = read(fd, 2)
        guard head.count == 2 else { return (0xFF, false, []) }
        let length = Int(head[1] & 0x7F)  // Small frames only in this test.
        let mask = read(fd, 4)
        let payload = read(fd, length).enumerated().map { $0.element ^ mask[$0.offset & 3] }
        return (head[0] & 0x0F, head[1] & 0x80 != 0, payload)
    }

    @Test func fragmentsPingAndClose() throws {
        let (listener, port) = try Self.listen()
        defer { close(listener) }
        let received = Mutex<[String]>([])
        let closed = Mutex<UInt16?>(nil)
        let serverSaw = Mutex<[(UInt8, Bool, [UInt8])]>([])
        let done = DispatchSemaphore(value: 0)
        let server = Thread {
            let fd = accept(listener, nil, nil)
            defer { close(fd) }
            var request: [UInt8] = []
            while !request.suffix(4).elementsEqual([13, 10, 13, 10]) { request += Self.read(fd, 1) }
            let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            _ = send(fd, response, response.utf8.count, 0)
            // "hel" (not final), a ping, "lo" (continuation, final), then a close 1000.
            let frames: [[UInt8]] = [[0x01, 3] + Array("hel".utf8), [0x89, 1, 0x70], [0x80, 2] + Array("lo".utf8), [0x88, 2, 0x03, 0xE8]]
            for frame in frames { _ = frame.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) } }
            // The client answers the ping and the close.
            for _ in 0..<2 { let frame = Self.readFrame(fd); serverSaw.withLock { $0.append(frame) } }
            done.signal()
        }
        server.start()
        let client = try WebSocketClient(
            host: "127.0.0.1", port: port, path: "/ws",
            onMessage: { bytes in received.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) } },
            onClose: { code, _ in closed.withLock { $0 = code } })
        #expect(done.wait(timeout: .now() + 5) == .success)
        client.close(timeout: 1)
        #expect(received.withLock { $0 } == ["hello"])
        #expect(closed.withLock { $0 } == 1000)
        let frames = serverSaw.withLock { $0 }
        #expect(frames.count == 2)
        #expect(frames.first?.0 == 0xA && frames.first?.1 == true && frames.first?.2 == [0x70], "a masked pong with the ping's payload")
        #expect(frames.last?.0 == 0x8 && frames.last?.1 == true && frames.last?.2 == [0x03, 0xE8], "the close answered with its code")
        // Nothing more can be sent on a closed connection.
        #expect(client.send(text: Array("late".utf8)) == false)
    }
}
