import Glibc
import LiveGateCore

extension Posix {
    /// Resolves `host` (an IPv4 or IPv6 literal, or a name through `getaddrinfo`, which may
    /// block) and starts a non-blocking TCP connection to `host:port`. Watch the descriptor for
    /// writability, then ask ``pendingSocketError(fd:)`` whether the connection was made.
    ///
    /// - Returns: the descriptor (non-blocking, close-on-exec, `TCP_NODELAY`) and whether the
    ///   connection is already established.
    /// - Throws: `IOError` from `socket` or `connect` (e.g. `ECONNREFUSED` at once on loopback),
    ///   or `getaddrinfo` with `EHOSTUNREACH` when the name does not resolve.
    public static func connectTCP(host: String, port: Int) throws(IOError) -> (fd: CInt, isConnected: Bool) {
        var hints = addrinfo()
        hints.ai_socktype = CInt(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw IOError(errno: Errno(rawValue: EHOSTUNREACH), syscall: "getaddrinfo \(host)")
        }
        defer { freeaddrinfo(list) }
        // IPv4 first when the name has both (`localhost` is often ::1 first, while a server
        // started with --bind 127.0.0.1 listens on IPv4 only).
        var chosen = first
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if entry.pointee.ai_family == AF_INET {
                chosen = entry
                break
            }
            cursor = entry.pointee.ai_next
        }
        let fd = try Syscall.blocking("socket") {
            socket(chosen.pointee.ai_family, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        }
        let result = Glibc.connect(fd, chosen.pointee.ai_addr, chosen.pointee.ai_addrlen)
        if result == 0 {
            setNoDelay(fd: fd)
            return (fd, true)
        }
        let code = Glibc.errno
        if code == EINPROGRESS || code == EINTR {
            setNoDelay(fd: fd)
            return (fd, false)
        }
        close(fd: fd)
        throw IOError(errno: Errno(rawValue: code), syscall: "connect \(host):\(port)")
    }

    /// The error a non-blocking `connect` ended with (`SO_ERROR`), or nil when it succeeded.
    public static func pendingSocketError(fd: CInt) -> IOError? {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) == 0 else {
            return IOError(errno: Errno(rawValue: Glibc.errno), syscall: "getsockopt")
        }
        return value == 0 ? nil : IOError(errno: Errno(rawValue: value), syscall: "connect")
    }

    /// Writes what it can of `bytes`. The corresponding C function is `write`.
    public static func write(fd: CInt, _ bytes: UnsafeRawBufferPointer) throws(IOError) -> IOResult<Int> {
        try Syscall.write(fd: fd, bytes)
    }
}
