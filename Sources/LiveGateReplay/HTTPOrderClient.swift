import Foundation
import Glibc

/// A keep-alive HTTP/1.1 client for `POST /v1/orders`, blocking.
final class HTTPOrderClient {
    private let fd: CInt
    private let host: String
    private var buffer: [UInt8] = []

    init(host: String, port: Int) throws {
        self.host = host
        fd = try TCP.connect(host: host, port: port)
    }

    deinit { Glibc.close(fd) }

    /// Posts `body` with a Bearer token; returns the status and body.
    func post(path: String, token: String, body: [UInt8]) throws -> (status: Int, body: [UInt8]) {
        let head = "POST \(path) HTTP/1.1\r\nHost: \(host)\r\nAuthorization: Bearer \(token)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        guard TCP.write(fd, Array(head.utf8) + body) else { throw ReplayClientError("HTTP connection closed") }
        while true {
            if let end = WebSocketClient.find([13, 10, 13, 10], in: buffer) {
                let text = String(decoding: buffer[0..<end], as: UTF8.self)
                let lines = text.components(separatedBy: "\r\n")
                let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
                var length = 0
                for line in lines.dropFirst() where line.lowercased().hasPrefix("content-length:") {
                    length = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? 0
                }
                while buffer.count < end + 4 + length {
                    guard fill() else { throw ReplayClientError("HTTP response cut short") }
                }
                let body = Array(buffer[(end + 4)..<(end + 4 + length)])
                buffer.removeFirst(end + 4 + length)
                return (status, body)
            }
            guard fill() else { throw ReplayClientError("HTTP connection closed before a response") }
        }
    }

    private func fill() -> Bool { TCP.read(fd, appendingTo: &buffer) }
}
