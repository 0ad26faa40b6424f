import Glibc

/// A TCP connection to `host:port` (IPv4 or a name), blocking.
enum TCP {
    /// Opens a connection with `TCP_NODELAY`.
    static func connect(host: String, port: Int) throws -> CInt {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = CInt(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw ReplayClientError("cannot resolve \(host)")
        }
        defer { freeaddrinfo(list) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        var lastErrno: Int32 = 0
        while let info = entry {
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            if fd >= 0 {
                if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                    var one: CInt = 1
                    setsockopt(fd, CInt(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<CInt>.size))
                    return fd
                }
                lastErrno = errno
                close(fd)
            }
            entry = info.pointee.ai_next
        }
        throw ReplayClientError("cannot connect to \(host):\(port): \(String(cString: strerror(lastErrno)))")
    }

    /// Reads what has arrived (blocking until something has) onto `buffer`; false at end of
    /// stream or on an error.
    static func read(_ fd: CInt, appendingTo buffer: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return false }
            buffer += chunk[0..<count]
            return true
        }
    }

    /// Writes every byte; false if the peer is gone.
    static func write(_ fd: CInt, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }
}
