import CLinux
import Glibc
import LiveGateCore

/// A listening TCP socket on one loop: it accepts in batches and hands each new
/// non-blocking descriptor to `onAccept` on the loop thread.
///
/// Every loop gets its own listener bound with `SO_REUSEPORT` to the same address, so the
/// kernel spreads new connections over the loops without an acceptor thread. It is bound
/// on any thread (so the caller learns the port at once), then handed to its loop, which
/// starts watching it with ``start(onAccept:)``.
public final class Listener: EventHandler {
    /// The listening descriptor.
    public let fd: CInt
    /// The port actually bound (useful with port 0).
    public let port: Int
    private unowned let loop: EventLoop
    private var registration: EventRegistration?
    private var onAccept: (CInt) -> Void = { Posix.close(fd: $0) }
    /// A descriptor kept in reserve to accept-and-close when the process is out of descriptors.
    private var spareFD: CInt
    private var lastExhaustionLog: UInt64 = 0
    /// Whether the listener is unwatched because no descriptor was left.
    private var isPaused = false
    private var isClosed = false

    /// Binds and listens on `host:port` for `loop`; nothing is accepted before ``start(onAccept:)``.
    /// Callable from any thread.
    ///
    /// - Throws: `IOError` naming the failing call (e.g. `bind` with `EADDRINUSE`).
    public init(host: String, port: Int, loop: EventLoop) throws {
        let (fd, bound) = try Self.makeListeningSocket(host: host, port: port)
        self.fd = fd
        self.port = bound
        self.loop = loop
        self.spareFD = Self.openSpare()
    }

    /// Registers with the loop and hands each accepted descriptor to `onAccept`. Loop thread only.
    ///
    /// - Throws: `IOError` from `epoll_ctl`.
    public func start(onAccept: @escaping (CInt) -> Void) throws(IOError) {
        precondition(loop.inEventLoop, "Listener.start called off its loop")
        guard !isClosed, registration == nil else { return }
        self.onAccept = onAccept
        registration = try loop.register(fd: fd, events: Epoll.readable, handler: self)
    }

    /// Stops accepting and closes the socket. Loop thread only (or before the listener started).
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        if let registration {
            loop.deregister(registration)
            self.registration = nil
        }
        Posix.close(fd: fd)
        if spareFD >= 0 { Posix.close(fd: spareFD) }
        spareFD = -1
    }

    public func handleEvent(_ events: UInt32) {
        // Bounded batch per wake-up, so one listener cannot starve the loop's connections.
        for _ in 0..<128 {
            do {
                switch try Posix.accept(fd: fd) {
                case .wouldBlock:
                    return
                case .processed(let client):
                    Posix.setNoDelay(fd: client)
                    onAccept(client)
                }
            } catch {
                if error.errno == .tooManyOpenFiles || error.errno == .tooManyOpenFilesInSystem {
                    shedOneConnection()
                    return
                }
                if error.errno == .connectionAborted { continue }
                Log.warning("accept on port \(port): \(error)")
                return
            }
        }
    }

    /// Out of descriptors: free the spare, accept and close one pending connection so the
    /// listener does not spin, then take the spare back.
    private func shedOneConnection() {
        let now = Posix.monotonicMilliseconds()
        if now - lastExhaustionLog > 5000 {
            Log.warning("out of file descriptors: refusing new connections on port \(port)")
            lastExhaustionLog = now
        }
        if spareFD < 0 { spareFD = Self.openSpare() }
        guard spareFD >= 0 else {
            // No descriptor to spare: stop watching the listener (it would stay readable and
            // spin the loop) until the next tick tries again.
            if let registration, !isPaused {
                loop.modify(registration, events: 0)
                isPaused = true
            }
            return
        }
        Posix.close(fd: spareFD)
        if case .processed(let client)? = try? Posix.accept(fd: fd) {
            Posix.close(fd: client)
        }
        spareFD = Self.openSpare()
    }

    /// Watches the listener again after it was paused for lack of descriptors. Loop thread only.
    public func resumeIfPaused() {
        guard isPaused, let registration else { return }
        isPaused = false
        loop.modify(registration, events: Epoll.readable)
    }

    /// The descriptor kept in reserve for ``shedOneConnection()``: `/dev/null`, or -1 when none is free.
    private static func openSpare() -> CInt {
        (try? Syscall.open("/dev/null", flags: O_RDONLY)) ?? -1
    }

    static func makeListeningSocket(host: String, port: Int) throws -> (CInt, Int) {
        var storage = sockaddr_storage()
        var length: socklen_t
        let family: CInt
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            family = AF_INET
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr = v4
            withUnsafeBytes(of: address) { source in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        } else if inet_pton(AF_INET6, host, &v6) == 1 {
            family = AF_INET6
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            address.sin6_addr = v6
            withUnsafeBytes(of: address) { source in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            throw ListenerError.badAddress(host)
        }
        let fd = try Syscall.blocking("socket") {
            socket(family, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        }
        do {
            try Posix.setOption(fd: fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
            try Posix.setOption(fd: fd, level: SOL_SOCKET, name: SO_REUSEPORT, value: 1)
            _ = try Syscall.blocking("bind \(host):\(port)") {
                withUnsafePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) }
                }
            }
            _ = try Syscall.blocking("listen") { Glibc.listen(fd, 4096) }
            var actual = sockaddr_storage()
            var actualLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = withUnsafeMutablePointer(to: &actual) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &actualLength) }
            }
            let actualPort: UInt16 = withUnsafeBytes(of: actual) { raw in
                // sin_port and sin6_port are both at offset 2.
                UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            }
            return (fd, Int(actualPort))
        } catch {
            Posix.close(fd: fd)
            throw error
        }
    }
}

/// A listener configuration that cannot be used.
public enum ListenerError: Error, CustomStringConvertible {
    /// The host is not a numeric IPv4 or IPv6 address.
    case badAddress(String)
    /// Another socket listens on the port (another livegate, say: `SO_REUSEPORT` would otherwise
    /// let two processes share it silently).
    case portInUse(String, Int)

    public var description: String {
        switch self {
        case .badAddress(let host): return "'\(host)' is not a numeric IPv4 or IPv6 address"
        case .portInUse(let host, let port):
            return "\(host):\(port) is in use by another process (another livegate?); stop it or choose another --port"
        }
    }
}

extension Listener {
    /// Throws ``ListenerError/portInUse(_:_:)`` when something already listens on `host:port`.
    /// The listeners bind with `SO_REUSEPORT` (one per loop); a probe without it fails where
    /// another process holds the port, whether or not that process used `SO_REUSEPORT` too.
    public static func checkPortIsFree(host: String, port: Int) throws {
        guard port != 0 else { return }
        var v4 = in_addr()
        var v6 = in6_addr()
        let isV6 = inet_pton(AF_INET, host, &v4) != 1 && inet_pton(AF_INET6, host, &v6) == 1
        let fd = socket(isV6 ? AF_INET6 : AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { Posix.close(fd: fd) }
        var one: CInt = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        let result: CInt
        if isV6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            address.sin6_addr = v6
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            guard inet_pton(AF_INET, host, &v4) == 1 else { return }  // a bad host is reported by the listener
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr = v4
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        if result != 0 && Glibc.errno == EADDRINUSE { throw ListenerError.portInUse(host, port) }
    }
}
