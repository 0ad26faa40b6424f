import Foundation
import Glibc

/// A small blocking WebSocket client (RFC 6455) for the replay's operator, host, viewer and connector
/// clients: masked frames, fragmented messages reassembled, pings answered, close answered.
///
/// One reader thread per client calls `onMessage` with each text message, in order; any thread may send.
public final class WebSocketClient: @unchecked Sendable {
    // @unchecked: `fd` is set once in init; writes are serialised by `writeLock`; the receive
    // buffer and the assembler are touched only by the reader thread.
    private let fd: CInt
    private let writeLock = NSLock()
    private var isClosedForWriting = false
    private let finished = DispatchSemaphore(value: 0)
    private var buffer: [UInt8] = []
    private var maskSeed: UInt32
    /// Called on the reader thread with each text message.
    private let onMessage: @Sendable ([UInt8]) -> Void
    /// Called once on the reader thread when the connection ends, with the close code if the server sent one.
    private let onClose: @Sendable (UInt16?, String) -> Void

    /// Connects to `ws://host:port/path`, completes the handshake and starts reading.
    /// - Throws: ``ReplayClientError`` if the connection or the handshake fails.
    public init(
        host: String, port: Int, path: String, onMessage: @escaping @Sendable ([UInt8]) -> Void,
        onClose: @escaping @Sendable (UInt16?, String) -> Void = { _, _ in }
    ) throws {
        fd = try TCP.connect(host: host, port: port)
        self.onMessage = onMessage
        self.onClose = onClose
        maskSeed = UInt32.random(in: 1...UInt32.max)
        var keyBytes = [UInt8](repeating: 0, count: 16)
        for index in keyBytes.indices { keyBytes[index] = UInt8.random(in: 0...255) }
        let key = Data(keyBytes).base64EncodedString()
        let request = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n"
        guard TCP.write(fd, Array(request.utf8)) else {
            Glibc.close(fd)
            throw ReplayClientError("the server closed the connection during the handshake")
        }
        // Read the response head.
        while true {
            if let end = Self.find([13, 10, 13, 10], in: buffer) {
                let head = String(decoding: buffer[0..<end], as: UTF8.self)
                buffer.removeFirst(end + 4)
                guard head.hasPrefix("HTTP/1.1 101") else {
                    Glibc.close(fd)
                    throw ReplayClientError("upgrade refused: \(head.split(separator: "\r\n").first ?? "")")
                }
                break
            }
            guard fill() else {
                Glibc.close(fd)
                throw ReplayClientError("no handshake response")
            }
        }
        let thread = Thread { [self] in readLoop() }
        thread.name = "replay-ws"
        thread.start()
    }

    deinit {
        Glibc.close(fd)
    }

    /// Sends a text message (masked); false if the connection is closed.
    @discardableResult
    public func send(text bytes: [UInt8]) -> Bool {
        sendFrame(opcode: 0x1, payload: bytes)
    }

    /// Sends a JSON object as a text message.
    @discardableResult
    public func send(json object: [String: Any]) -> Bool {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return false }
        return send(text: Array(data))
    }

    private func sendFrame(opcode: UInt8, payload: [UInt8]) -> Bool {
        writeLock.lock()
        defer { writeLock.unlock() }
        if isClosedForWriting { return false }
        maskSeed = maskSeed &* 1_664_525 &+ 1_013_904_223
        let mask = withUnsafeBytes(of: maskSeed.bigEndian) { Array($0) }
        var frame: [UInt8] = [0x80 | opcode]
        frame.reserveCapacity(payload.count + 14)
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            frame.append(0x80 | 126)
            frame.append(UInt8(payload.count >> 8))
            frame.append(UInt8(payload.count & 0xFF))
        } else {
            frame.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((payload.count >> shift) & 0xFF)) }
        }
        frame += mask
        for (index, byte) in payload.enumerated() { frame.append(byte ^ mask[index & 3]) }
        if opcode == 0x8 { isClosedForWriting = true }
        return TCP.write(fd, frame)
    }

    /// Sends a close frame (1000) and waits up to `timeout` for the server's close and the reader to end.
    public func close(timeout: Double = 2) {
        _ = sendFrame(opcode: 0x8, payload: [0x03, 0xE8])
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            shutdown(fd, CInt(SHUT_RDWR))
            _ = finished.wait(timeout: .now() + 1)
        }
    }

    private func fill() -> Bool { TCP.read(fd, appendingTo: &buffer) }

    private func readLoop() {
        var message: [UInt8] = []
        var isAssembling = false
        var closeCode: UInt16?
        var closeReason = "connection lost"
        var offset = 0
        outer: while true {
            // Parse every complete frame in the buffer.
            while buffer.count - offset >= 2 {
                let first = buffer[offset]
                let second = buffer[offset + 1]
                var length = Int(second & 0x7F)
                var header = 2
                if length == 126 {
                    guard buffer.count - offset >= 4 else { break }
                    length = Int(buffer[offset + 2]) << 8 | Int(buffer[offset + 3])
                    header = 4
                } else if length == 127 {
                    guard buffer.count - offset >= 10 else { break }
                    length = buffer[(offset + 2)..<(offset + 10)].reduce(0) { $0 << 8 | Int($1) }
                    header = 10
                }
                let isMasked = second & 0x80 != 0
                if isMasked { header += 4 }
                guard buffer.count - offset >= header + length else { break }
                var payload = Array(buffer[(offset + header)..<(offset + header + length)])
                if isMasked {
                    let mask = Array(buffer[(offset + header - 4)..<(offset + header)])
                    for index in payload.indices { payload[index] ^= mask[index & 3] }
                }
                offset += header + length
                let isFinal = first & 0x80 != 0
                switch first & 0x0F {
                case 0x0:
                    guard isAssembling else { closeReason = "continuation without a first fragment"; break outer }
                    message += payload
                    if isFinal {
                        isAssembling = false
                        onMessage(message)
                        message = []
                    }
                case 0x1, 0x2:
                    if isFinal {
                        if first & 0x0F == 0x1 { onMessage(payload) }
                    } else {
                        isAssembling = true
                        message = payload
                    }
                case 0x8:
                    closeCode = payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil
                    closeReason = payload.count > 2 ? String(decoding: payload[2...], as: UTF8.self) : "closed"
                    _ = sendFrame(opcode: 0x8, payload: Array(payload.prefix(2)))
                    break outer
                case 0x9:
                    _ = sendFrame(opcode: 0xA, payload: payload)
                default:
                    break
                }
            }
            if offset > 0 {
                buffer.removeFirst(offset)
                offset = 0
            }
            if !fill() { break }
        }
        writeLock.lock()
        isClosedForWriting = true
        writeLock.unlock()
        shutdown(fd, CInt(SHUT_RDWR))
        onClose(closeCode, closeReason)
        finished.signal()
    }

    static func find(_ pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        for index in 0...(bytes.count - pattern.count) where bytes[index..<(index + pattern.count)].elementsEqual(pattern) {
            return index
        }
        return nil
    }
}
