import Foundation
import Glibc
import LiveGateWebSocket
import LiveGateTestSupport

/// A blocking loopback client for end-to-end tests, with a receive timeout.
final class TestClient {
    let fd: CInt
    private var buffer: [UInt8] = []

    init(port: Int, timeoutSeconds: Int = 5, receiveBufferBytes: Int32? = nil) throws {
        fd = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        if var size = receiveBufferBytes {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            Glibc.close(fd)
            throw TestClientError.connectFailed(errno)
        }
    }

    deinit { Glibc.close(fd) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return }
            offset += written
        }
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    /// Reads more bytes into the buffer; `false` on end of stream, error or timeout.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 { return false }
        buffer += chunk[0..<count]
        return true
    }

    /// Reads one HTTP response (head and Content-Length body).
    func readResponse(isHead: Bool = false) -> (status: Int, headers: [String: String], body: String)? {
        while true {
            if let end = find([13, 10, 13, 10]) {
                let head = String(decoding: buffer[0..<end], as: UTF8.self)
                var lines = head.components(separatedBy: "\r\n")
                let statusLine = lines.removeFirst().split(separator: " ")
                var headers: [String: String] = [:]
                for line in lines {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                let length = isHead ? 0 : Int(headers["content-length"] ?? "0") ?? 0
                while buffer.count < end + 4 + length { if !fill() { return nil } }
                let body = String(decoding: buffer[(end + 4)..<(end + 4 + length)], as: UTF8.self)
                buffer.removeFirst(end + 4 + length)
                return (Int(statusLine[1]) ?? 0, headers, body)
            }
            if !fill() { return nil }
        }
    }

    /// Reads one server frame: opcode, payload.
    func readFrame() -> (opcode: UInt8, payload: [UInt8])? {
        readFrameWithFlags().map { ($0.opcode, $0.payload) }
    }

    /// Reads one server frame with its first byte's flags: RSV1 marks a compressed message.
    func readFrameWithFlags() -> (opcode: UInt8, isCompressed: Bool, payload: [UInt8])? {
        while true {
            if buffer.count >= 2 {
                var length = Int(buffer[1] & 0x7F)
                var header = 2
                if length == 126 {
                    guard buffer.count >= 4 else { if !fill() { return nil }; continue }
                    length = Int(buffer[2]) << 8 | Int(buffer[3])
                    header = 4
                } else if length == 127 {
                    guard buffer.count >= 10 else { if !fill() { return nil }; continue }
                    length = buffer[2..<10].reduce(0) { $0 << 8 | Int($1) }
                    header = 10
                }
                if buffer.count >= header + length {
                    let frame = (buffer[0] & 0x0F, buffer[0] & 0x40 != 0, Array(buffer[header..<(header + length)]))
                    buffer.removeFirst(header + length)
                    return frame
                }
            }
            if !fill() { return nil }
        }
    }

    /// Whether the server closed the stream (read returns 0) within the timeout.
    func readsEndOfStream() -> Bool {
        while true {
            var byte: UInt8 = 0
            let count = recv(fd, &byte, 1, 0)
            if count == 0 { return true }
            if count < 0 { return false }
        }
    }

    /// Whether the server dropped the connection (end of stream or reset) within the timeout.
    func isDropped() -> Bool {
        var byte = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &byte, byte.count, 0)
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
        }
    }

    /// Sends an upgrade request to `path` and reads the 101.
    func upgrade(path: String = "/echo") -> Int? {
        upgradeWithHeaders(path: path)?.status
    }

    /// Sends an upgrade request with `extensions` as `Sec-WebSocket-Extensions` (if any) and
    /// reads the response's status and headers.
    func upgradeWithHeaders(path: String = "/echo", extensions: String? = nil) -> (status: Int, headers: [String: String])? {
        send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + (extensions.map { "Sec-WebSocket-Extensions: \($0)\r\n" } ?? "")
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        return readResponse().map { ($0.status, $0.headers) }
    }

    func sendFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true) {
        send(WebSocketFrameEncoder.encode(opcode: opcode, payload: payload, isFinal: fin, maskKey: 0x0A0B_0C0D))
    }

    private func find(_ pattern: [UInt8]) -> Int? {
        guard buffer.count >= pattern.count else { return nil }
        for index in 0...(buffer.count - pattern.count) where buffer[index..<(index + pattern.count)].elementsEqual(pattern) {
            return index
        }
        return nil
    }
}

enum TestClientError: Error {
    case connectFailed(Int32)
}

/// Close code of a close frame payload.
func closeCode(_ payload: [UInt8]) -> UInt16? {
    payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil
}

/// Runs `python3 script arguments…` and returns its exit status and its output (stdout and
/// stderr together).
func runPython(_ script: String, _ arguments: String...) throws -> (status: Int32, output: String) {
    let (status, data) = try ChildProcess.run("/usr/bin/env", ["python3", script] + arguments, mergeOther: true)
    return (status, String(decoding: data, as: UTF8.self))
}
