import CLinux
import COpenSSL
import Glibc
import LiveGateSystem

/// One client connection of the load generator.
///
/// Confined to the generator's single thread; nothing here is shared.
final class LoadConnection {
    /// What the connection does in a scenario.
    enum Kind {
        /// Reads every message (a room viewer or a `/bench` subscriber).
        case viewer
        /// Sends orders and reads their results (a connector, or the `/bench/pub` publisher).
        case sender
        /// Connects, sends its upgrade request and never reads a byte.
        case stuck
    }

    /// Where the connection is in its life.
    enum State {
        case connecting, tlsHandshake, upgrading, open, closed
    }

    /// Index in ``LoadGenerator/connections`` (also its epoll data).
    let index: Int
    let kind: Kind
    var fd: CInt = -1
    var state = State.connecting
    /// The client TLS session, when the generator speaks TLS.
    var ssl: OpaquePointer?
    /// Received bytes not yet parsed (a partial response head or frame); empty most of the time.
    var inbound: [UInt8] = []
    /// Bytes not yet written; empty most of the time.
    var outbound: [UInt8] = []
    /// Whether EPOLLOUT is armed.
    var isWaitingForWritable = false
    /// The request line's target (`/ws?token=…`).
    let path: String
    /// When `connect` was called, and when the 101 arrived (monotonic ns).
    var connectStarted: UInt64 = 0
    var openedAt: UInt64 = 0
    /// The last stream `seq` (room) or message index (pub/sub) seen; -1 before any.
    var lastSeq: Int64 = -1
    /// Whether its first message (snapshot, or a warm-up message) has arrived.
    var isReady = false
    /// Room mode: the `sold` figure last seen per SKU (orders up to it are reflected).
    var lastSold: [Int32] = []
    /// Counted messages, sequence gaps and messages that went backwards.
    var messages = 0
    var gaps = 0
    var outOfOrder = 0
    /// The close code the server sent, 0 if none.
    var closeCode = 0
    /// Whether the server accepted permessage-deflate for this connection.
    var isDeflate = false
    /// The port it connects to (set by ``LoadGenerator/connect(kind:path:receiveBuffer:port:)``).
    var port: UInt16 = 0
    /// A viewer that reconnected with `since`/`epoch` after its node went away (the edge-kill drill).
    var isResumed = false
    /// Reconnections tried for this viewer.
    var resumeAttempts = 0
    /// When a resumed viewer's first message after reconnecting arrived (0: none yet).
    var firstAfterResume: UInt64 = 0
    /// Left out of the accounting (a resumed viewer that got a `reset` snapshot, or gave up).
    var isExcluded = false

    init(index: Int, kind: Kind, path: String) {
        self.index = index
        self.kind = kind
        self.path = path
    }
}

@available(*, unavailable) extension LoadConnection: Sendable {}

/// The load generator: one thread, one level-triggered epoll instance, non-blocking sockets,
/// its own minimal RFC 6455 client (masked client frames with a zero key, unmasked server
/// frames), one 256 KiB receive buffer shared by every connection, optional TLS (OpenSSL).
///
/// Scenarios drive it with ``poll(timeoutMilliseconds:)`` and react through the callbacks;
/// the receive path hands each text frame's payload to ``onMessage`` without copying it.
///
/// This is a client, not part of the server, so it calls Glibc's socket API directly (it
/// needs `bind` before `connect` and non-blocking connects, which `LiveGatePOSIX` has no
/// reason to offer the server).
final class LoadGenerator {
    let host = "127.0.0.1"
    let port: UInt16
    private let epfd: CInt
    private(set) var connections: [LoadConnection] = []
    private let readBuffer: UnsafeMutableRawBufferPointer
    private let eventBuffer: UnsafeMutablePointer<epoll_event>
    private let eventFlags: UnsafeMutablePointer<UInt32>
    private let eventData: UnsafeMutablePointer<UInt64>
    private let maxEvents = 1024
    private var tlsContext: OpaquePointer?
    /// Viewers offer permessage-deflate in their upgrade (`fanout --deflate`).
    var offersDeflate = false
    /// Inflates compressed frames (once per distinct frame).
    let inflateCache = InflateCache()
    /// The wire size (header and payload) of the frame being handed to `onMessage`.
    private(set) var lastFrameBytes = 0
    /// Whether the frame being handed to `onMessage` came compressed (RSV1).
    private(set) var isLastFrameCompressed = false
    /// Source addresses 127.0.0.B … 127.0.0.(B+K-1) used round-robin (K grows with the connection
    /// count; B, ``sourceAddressBase``, keeps viewer child processes on addresses of their own).
    var sourceAddressCount = 1
    var sourceAddressBase: UInt32 = 1
    /// Other descriptors on the same epoll instance (a viewer child's control pipe), by slot.
    private var watchers: [() -> Void] = []
    private static let watcherTag: UInt64 = 1 << 40

    /// A connection completed its upgrade (the 101 arrived).
    var onOpen: (LoadConnection, UInt64) -> Void = { _, _ in }
    /// A text or binary message arrived: the connection, the payload, the time of the `read` that returned it.
    var onMessage: (LoadConnection, UnsafeRawBufferPointer, UInt64) -> Void = { _, _, _ in }
    /// A connection failed or was closed.
    var onClose: (LoadConnection) -> Void = { _ in }

    /// Connections whose connect or upgrade has not finished.
    private(set) var pendingCount = 0
    private(set) var openCount = 0
    private(set) var failedCount = 0
    private(set) var closedCount = 0
    /// connect→101 times in µs.
    private(set) var handshakeMicroseconds: [UInt32] = []

    /// - Parameter useTLS: speak TLS (no certificate verification: loopback benchmark only).
    init(port: Int, useTLS: Bool = false) throws {
        self.port = UInt16(port)
        epfd = epoll_create1(CInt(EPOLL_CLOEXEC))
        guard epfd >= 0 else { throw BenchUsageError(description: "epoll_create1: errno \(errno)") }
        readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        eventBuffer = .allocate(capacity: maxEvents)
        eventFlags = .allocate(capacity: maxEvents)
        eventData = .allocate(capacity: maxEvents)
        if useTLS {
            guard let context = SSL_CTX_new(TLS_client_method()) else {
                throw BenchUsageError(description: "SSL_CTX_new failed")
            }
            _ = livegate_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
            _ = livegate_SSL_CTX_set_mode(context, livegate_server_modes())
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
            tlsContext = context
        }
    }

    deinit {
        closeAll()
        Syscall.close(fd: epfd)
        readBuffer.deallocate()
        eventBuffer.deallocate()
        eventFlags.deallocate()
        eventData.deallocate()
        if let tlsContext { SSL_CTX_free(tlsContext) }
    }

    /// Viewers' ports, round-robin (the cluster scenario's edges); empty: every connection to ``port``.
    var viewerPorts: [UInt16] = []

    func destinationPort(for connection: LoadConnection) -> UInt16 {
        guard connection.kind == .viewer, !viewerPorts.isEmpty else { return port }
        return viewerPorts[connection.index % viewerPorts.count]
    }

    /// Stops watching `fd` (before it reports end of file forever).
    func unwatch(fd: CInt) {
        _ = livegate_epoll_ctl(epfd, EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// Calls `handler` whenever `fd` is readable (level-triggered), from ``poll(timeoutMilliseconds:)``.
    func watch(fd: CInt, _ handler: @escaping () -> Void) {
        watchers.append(handler)
        _ = livegate_epoll_ctl(epfd, EPOLL_CTL_ADD, fd, UInt32(EPOLLIN.rawValue), Self.watcherTag + UInt64(watchers.count - 1))
    }

    /// Starts one connection to `path`; its upgrade request goes out once TCP (and TLS) is up.
    ///
    /// - Parameter receiveBuffer: `SO_RCVBUF` to set before connecting (stuck viewers), 0 for the default.
    @discardableResult
    func connect(kind: LoadConnection.Kind, path: String, receiveBuffer: Int = 0, port: UInt16? = nil) -> LoadConnection {
        let connection = LoadConnection(index: connections.count, kind: kind, path: path)
        connection.port = port ?? destinationPort(for: connection)
        connections.append(connection)
        pendingCount += 1
        connection.connectStarted = monotonicNanoseconds()
        let fd = socket(
            AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            fail(connection)
            return connection
        }
        connection.fd = fd
        var one: CInt = 1
        _ = setsockopt(fd, CInt(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<CInt>.size))
        if receiveBuffer > 0 {
            var size = CInt(receiveBuffer)
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        }
        if sourceAddressCount > 1 || sourceAddressBase != 1 {
            // IP_BIND_ADDRESS_NO_PORT (24): the port is chosen at connect time, per destination.
            _ = setsockopt(fd, CInt(IPPROTO_IP), 24, &one, socklen_t(MemoryLayout<CInt>.size))
            var source = Self.address(
                127 << 24 | (sourceAddressBase + UInt32(connection.index % sourceAddressCount)), port: 0)
            let bound = withUnsafePointer(to: &source) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if bound != 0 {
                fail(connection)
                return connection
            }
        }
        var destination = Self.address(127 << 24 | 1, port: connection.port)
        let result = withUnsafePointer(to: &destination) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result != 0 && errno != EINPROGRESS {
            fail(connection)
            return connection
        }
        connection.isWaitingForWritable = true
        _ = livegate_epoll_ctl(
            epfd, EPOLL_CTL_ADD, fd, UInt32(EPOLLIN.rawValue) | UInt32(EPOLLOUT.rawValue), UInt64(connection.index))
        return connection
    }

    /// Opens `count` connections, at most `inflight` connecting at a time, until all are open or
    /// failed or `timeoutSeconds` pass. Returns the connect phase's duration in seconds.
    func connectMany(
        count: Int, kind: LoadConnection.Kind, path: (Int) -> String, inflight: Int = 256, timeoutSeconds: Double = 60,
        receiveBuffer: Int = 0
    ) -> Double {
        let start = monotonicNanoseconds()
        let deadline = start + UInt64(timeoutSeconds * 1e9)
        var started = 0
        while monotonicNanoseconds() < deadline {
            while started < count && pendingCount < inflight {
                connect(kind: kind, path: path(started), receiveBuffer: receiveBuffer)
                started += 1
            }
            if started == count && pendingCount == 0 { break }
            poll(timeoutMilliseconds: 5)
        }
        return Double(monotonicNanoseconds() - start) / 1e9
    }

    /// Waits for events once (at most `timeoutMilliseconds`) and handles them.
    func poll(timeoutMilliseconds: Int32) {
        let count = livegate_epoll_wait(epfd, eventBuffer, CInt(maxEvents), timeoutMilliseconds, eventFlags, eventData)
        guard count > 0 else { return }
        for slot in 0..<Int(count) {
            let data = eventData[slot]
            if data >= Self.watcherTag {
                watchers[Int(data - Self.watcherTag)]()
                continue
            }
            let connection = connections[Int(data)]
            let flags = eventFlags[slot]
            if connection.state == .closed { continue }
            if flags & UInt32(EPOLLOUT.rawValue) != 0 { handleWritable(connection) }
            if connection.state == .closed { continue }
            if flags & (UInt32(EPOLLIN.rawValue) | UInt32(EPOLLHUP.rawValue) | UInt32(EPOLLERR.rawValue)) != 0 {
                handleReadable(connection)
            }
        }
    }

    /// Queues `bytes` (a complete frame, or several) on `connection` and writes what the socket takes.
    func send(_ connection: LoadConnection, _ bytes: [UInt8]) {
        guard connection.state == .open || connection.state == .upgrading else { return }
        if connection.outbound.isEmpty {
            let written = bytes.withUnsafeBytes { writeSome(connection, $0) }
            if written < 0 { return }
            if written == bytes.count { return }
            connection.outbound.append(contentsOf: bytes[written...])
        } else {
            connection.outbound.append(contentsOf: bytes)
            flushOutbound(connection)
        }
        armWritable(connection)
    }

    /// Closes every connection (no close handshake: the server sees EOF).
    func closeAll() {
        for connection in connections where connection.fd >= 0 {
            if let ssl = connection.ssl {
                SSL_free(ssl)
                connection.ssl = nil
            }
            Syscall.close(fd: connection.fd)
            connection.fd = -1
            connection.state = .closed
        }
    }

    // MARK: - Internals

    private static func address(_ ip: UInt32, port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = ip.bigEndian
        return address
    }

    private func fail(_ connection: LoadConnection) {
        if connection.state == .connecting || connection.state == .tlsHandshake || connection.state == .upgrading {
            pendingCount -= 1
            failedCount += 1
        } else if connection.state == .open {
            openCount -= 1
            closedCount += 1
        }
        let wasOpen = connection.state != .closed
        if let ssl = connection.ssl {
            SSL_free(ssl)
            connection.ssl = nil
        }
        if connection.fd >= 0 {
            Syscall.close(fd: connection.fd)
            connection.fd = -1
        }
        connection.state = .closed
        if wasOpen { onClose(connection) }
    }

    private func armWritable(_ connection: LoadConnection) {
        let wants = !connection.outbound.isEmpty
        guard wants != connection.isWaitingForWritable, connection.state != .closed, connection.kind != .stuck else {
            return
        }
        connection.isWaitingForWritable = wants
        let events = UInt32(EPOLLIN.rawValue) | (wants ? UInt32(EPOLLOUT.rawValue) : 0)
        _ = livegate_epoll_ctl(epfd, EPOLL_CTL_MOD, connection.fd, events, UInt64(connection.index))
    }

    private func handleWritable(_ connection: LoadConnection) {
        switch connection.state {
        case .connecting:
            var error: CInt = 0
            var length = socklen_t(MemoryLayout<CInt>.size)
            _ = getsockopt(connection.fd, SOL_SOCKET, SO_ERROR, &error, &length)
            if error != 0 {
                fail(connection)
                return
            }
            if let tlsContext {
                guard let ssl = SSL_new(tlsContext) else {
                    fail(connection)
                    return
                }
                connection.ssl = ssl
                SSL_set_fd(ssl, connection.fd)
                SSL_set_connect_state(ssl)
                connection.state = .tlsHandshake
                continueHandshake(connection)
            } else {
                startUpgrade(connection)
            }
        case .tlsHandshake:
            continueHandshake(connection)
        default:
            flushOutbound(connection)
            armWritable(connection)
        }
    }

    private func continueHandshake(_ connection: LoadConnection) {
        guard let ssl = connection.ssl else { return }
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            startUpgrade(connection)
            return
        }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ:
            setEvents(connection, UInt32(EPOLLIN.rawValue))
        case SSL_ERROR_WANT_WRITE:
            setEvents(connection, UInt32(EPOLLIN.rawValue) | UInt32(EPOLLOUT.rawValue))
        default:
            fail(connection)
        }
    }

    private func setEvents(_ connection: LoadConnection, _ events: UInt32) {
        connection.isWaitingForWritable = events & UInt32(EPOLLOUT.rawValue) != 0
        _ = livegate_epoll_ctl(epfd, EPOLL_CTL_MOD, connection.fd, events, UInt64(connection.index))
    }

    private func startUpgrade(_ connection: LoadConnection) {
        connection.state = .upgrading
        let request =
            "GET \(connection.path) HTTP/1.1\r\nHost: \(host):\(connection.port)\r\nUpgrade: websocket\r\n"
            + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            + (offersDeflate && connection.kind == .viewer ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "")
            + "\r\n"
        connection.outbound = Array(request.utf8)
        flushOutbound(connection)
        if connection.kind == .stuck {
            // Never read: leave epoll, so the server's bytes pile up in the kernel and then in its queue.
            _ = livegate_epoll_ctl(epfd, EPOLL_CTL_DEL, connection.fd, 0, 0)
            connection.isWaitingForWritable = false
            connection.state = .open
            pendingCount -= 1
            openCount += 1
            return
        }
        connection.isWaitingForWritable = true  // force the MOD below
        armWritable(connection)
    }

    /// Writes as much of `bytes` as the socket takes; -1 if the connection failed.
    private func writeSome(_ connection: LoadConnection, _ bytes: UnsafeRawBufferPointer) -> Int {
        guard bytes.count > 0 else { return 0 }
        if let ssl = connection.ssl {
            let result = SSL_write(ssl, bytes.baseAddress, CInt(bytes.count))
            if result > 0 { return Int(result) }
            let error = SSL_get_error(ssl, result)
            if error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ { return 0 }
            fail(connection)
            return -1
        }
        do {
            let fd = connection.fd
            switch try Syscall.call("send", { Glibc.send(fd, bytes.baseAddress, bytes.count, CInt(MSG_NOSIGNAL)) }) {
            case .processed(let count): return count
            case .wouldBlock: return 0
            }
        } catch {
            fail(connection)
            return -1
        }
    }

    private func flushOutbound(_ connection: LoadConnection) {
        guard !connection.outbound.isEmpty else { return }
        let written = connection.outbound.withUnsafeBytes { writeSome(connection, $0) }
        if written > 0 { connection.outbound.removeFirst(written) }
    }

    private func handleReadable(_ connection: LoadConnection) {
        if connection.state == .connecting { return }  // EPOLLIN with an error: EPOLLOUT handles it
        if connection.state == .tlsHandshake {
            continueHandshake(connection)
            return
        }
        for _ in 0..<4 {
            var count: Int
            if let ssl = connection.ssl {
                let result = SSL_read(ssl, readBuffer.baseAddress, CInt(readBuffer.count))
                if result <= 0 {
                    let error = SSL_get_error(ssl, result)
                    if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { return }
                    fail(connection)
                    return
                }
                count = Int(result)
            } else {
                switch try? Syscall.read(fd: connection.fd, into: readBuffer) {
                case .processed(let read)?: count = read
                case .wouldBlock?: return
                case nil:
                    fail(connection)
                    return
                }
                if count == 0 {
                    fail(connection)
                    return
                }
            }
            let now = monotonicNanoseconds()
            if connection.inbound.isEmpty {
                let consumed = parse(
                    connection, UnsafeRawBufferPointer(start: readBuffer.baseAddress, count: count), now: now)
                if connection.state != .closed && consumed < count {
                    connection.inbound.append(
                        contentsOf: UnsafeRawBufferPointer(rebasing: readBuffer[consumed..<count]))
                }
            } else {
                connection.inbound.append(
                    contentsOf: UnsafeRawBufferPointer(start: readBuffer.baseAddress, count: count))
                var pending = connection.inbound
                connection.inbound = []
                let consumed = pending.withUnsafeBytes { parse(connection, $0, now: now) }
                if connection.state != .closed && consumed < pending.count {
                    pending.removeFirst(consumed)
                    connection.inbound = pending
                }
            }
            if connection.state == .closed { return }
            if count < readBuffer.count && connection.ssl == nil { return }
        }
    }

    /// Parses the response head and frames in `bytes`; returns how many bytes it consumed.
    private func parse(_ connection: LoadConnection, _ bytes: UnsafeRawBufferPointer, now: UInt64) -> Int {
        var offset = 0
        if connection.state == .upgrading {
            guard let end = Self.headEnd(bytes) else { return 0 }
            let isSwitching =
                bytes.count >= 12 && bytes[9] == UInt8(ascii: "1") && bytes[10] == UInt8(ascii: "0")
                && bytes[11] == UInt8(ascii: "1")
            guard isSwitching else {
                fail(connection)
                return bytes.count
            }
            connection.state = .open
            connection.isDeflate = PayloadScanner.contains(
                UnsafeRawBufferPointer(rebasing: bytes[0..<end]), "permessage-deflate")
            connection.openedAt = now
            pendingCount -= 1
            openCount += 1
            handshakeMicroseconds.append(UInt32(min((now - connection.connectStarted) / 1000, UInt64(UInt32.max))))
            onOpen(connection, now)
            offset = end
        }
        let base = bytes.baseAddress!
        while connection.state == .open {
            let available = bytes.count - offset
            if available < 2 { break }
            let first = base.load(fromByteOffset: offset, as: UInt8.self)
            let second = base.load(fromByteOffset: offset + 1, as: UInt8.self)
            var header = 2
            var length = Int(second & 0x7f)
            if length == 126 {
                if available < 4 { break }
                length =
                    Int(base.load(fromByteOffset: offset + 2, as: UInt8.self)) << 8
                    | Int(base.load(fromByteOffset: offset + 3, as: UInt8.self))
                header = 4
            } else if length == 127 {
                if available < 10 { break }
                length = 0
                for index in 2..<10 {
                    length = length << 8 | Int(base.load(fromByteOffset: offset + index, as: UInt8.self))
                }
                header = 10
            }
            if available < header + length { break }
            let payload = UnsafeRawBufferPointer(start: base + offset + header, count: length)
            offset += header + length
            switch first & 0x0f {
            case 0x0, 0x1, 0x2:
                lastFrameBytes = header + length
                isLastFrameCompressed = first & 0x40 != 0
                if isLastFrameCompressed && connection.isDeflate {
                    _ = inflateCache.withPlain(payload) { onMessage(connection, $0, now) }
                } else {
                    onMessage(connection, payload, now)
                }
            case 0x8:
                connection.closeCode = length >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : 1005
                fail(connection)
            case 0x9:
                send(connection, Self.frame(opcode: 0xA, payload: Array(payload)))
            default:
                break
            }
        }
        return offset
    }

    private static func headEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 3..<bytes.count
        where bytes[index] == 10 && bytes[index - 1] == 13 && bytes[index - 2] == 10 && bytes[index - 3] == 13 {
            return index + 1
        }
        return nil
    }

    /// A masked client frame (FIN set) with a zero masking key, so the payload is sent as is.
    static func frame(opcode: UInt8 = 0x1, payload: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = []
        appendFrame(opcode: opcode, payload: payload, to: &frame)
        return frame
    }

    /// Appends a masked client frame (zero key) to `buffer`.
    static func appendFrame(opcode: UInt8 = 0x1, payload: [UInt8], to buffer: inout [UInt8]) {
        buffer.append(0x80 | opcode)
        if payload.count < 126 {
            buffer.append(0x80 | UInt8(payload.count))
        } else if payload.count < 65536 {
            buffer.append(0x80 | 126)
            buffer.append(UInt8(payload.count >> 8))
            buffer.append(UInt8(payload.count & 0xff))
        } else {
            buffer.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { buffer.append(UInt8((payload.count >> shift) & 0xff)) }
        }
        buffer.append(contentsOf: [0, 0, 0, 0])
        buffer.append(contentsOf: payload)
    }
}

// MARK: - Scanning payloads without a JSON decoder

/// Byte scanning helpers for the receive path: find `"key":` and read the integer after it.
enum PayloadScanner {
    /// Whether `needle` occurs anywhere in `payload`.
    static func contains(_ payload: UnsafeRawBufferPointer, _ needle: StaticString) -> Bool {
        let count = needle.utf8CodeUnitCount
        guard payload.count >= count else { return false }
        for index in 0...(payload.count - count)
        where memcmp(payload.baseAddress! + index, needle.utf8Start, count) == 0 {
            return true
        }
        return false
    }

    /// Whether `payload` starts with `prefix`.
    @inline(__always)
    static func hasPrefix(_ payload: UnsafeRawBufferPointer, _ prefix: StaticString) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard payload.count >= count else { return false }
        return memcmp(payload.baseAddress!, prefix.utf8Start, count) == 0
    }

    /// The bytes after the first `key` (e.g. `"epoch":"`) up to the next `"` (not on the hot path).
    static func string(after key: StaticString, in payload: UnsafeRawBufferPointer) -> Range<Int>? {
        let count = key.utf8CodeUnitCount
        guard payload.count >= count else { return nil }
        for index in 0...(payload.count - count) where memcmp(payload.baseAddress! + index, key.utf8Start, count) == 0 {
            var end = index + count
            while end < payload.count && payload[end] != UInt8(ascii: "\"") { end += 1 }
            return end < payload.count ? (index + count)..<end : nil
        }
        return nil
    }

    /// The integer after the first `key` (e.g. `"seq":`) at or after `from`, and the offset after it.
    @inline(__always)
    static func integer(after key: StaticString, in payload: UnsafeRawBufferPointer, from: Int = 0) -> (
        value: Int64, end: Int
    )? {
        let keyCount = key.utf8CodeUnitCount
        let keyStart = key.utf8Start
        let first = keyStart.pointee
        var index = from
        let limit = payload.count - keyCount
        while index <= limit {
            if payload[index] == first && memcmp(payload.baseAddress! + index, keyStart, keyCount) == 0 {
                var position = index + keyCount
                var isNegative = false
                if position < payload.count && payload[position] == UInt8(ascii: "\"") { position += 1 }
                if position < payload.count && payload[position] == UInt8(ascii: "-") {
                    isNegative = true
                    position += 1
                }
                var value: Int64 = 0
                var digits = 0
                while position < payload.count {
                    let byte = payload[position]
                    guard byte >= 48 && byte <= 57 else { break }
                    value = value * 10 + Int64(byte - 48)
                    position += 1
                    digits += 1
                }
                guard digits > 0 else { return nil }
                return (isNegative ? -value : value, position)
            }
            index += 1
        }
        return nil
    }
}

/// Appends the decimal digits of `value` to `buffer` (no String on the send path).
@inline(__always)
func appendDecimal(_ value: Int, to buffer: inout [UInt8]) {
    if value < 0 {
        buffer.append(UInt8(ascii: "-"))
        appendDecimal(-value, to: &buffer)
        return
    }
    if value >= 10 { appendDecimal(value / 10, to: &buffer) }
    buffer.append(UInt8(48 + value % 10))
}
