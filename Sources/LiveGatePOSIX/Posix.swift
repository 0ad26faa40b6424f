import CLinux
import Glibc
// Errno, IOError and IOResult are part of this module's API (every socket call throws them).
@_exported import LiveGateSystem

private let sysWritev = Glibc.writev
private let sysShutdown = Glibc.shutdown

/// Sockets and descriptors: every wrapper goes through ``syscall(_:_:)``, that is through
/// `Syscall.call(_:_:)` in `LiveGateSystem`, the one choke point, which retries `EINTR`, turns
/// `EAGAIN` into `.wouldBlock`, stops on `EBADF`/`EFAULT` (a bug in livegate, never the peer's
/// doing) and throws `IOError` for everything else.
public enum Posix {
    @inline(__always)
    static func syscall<T: FixedWidthInteger>(_ name: String, _ body: () -> T) throws(IOError) -> IOResult<T> {
        try Syscall.call(name, body)
    }

    /// Reads into `buffer`. `.processed(0)` is end of stream. The corresponding C function is `read`.
    @inline(__always)
    public static func read(fd: CInt, into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> IOResult<Int> {
        try Syscall.read(fd: fd, into: buffer)
    }

    /// Gathers `count` buffers into one write. The corresponding C function is `writev`.
    @inline(never)
    public static func writev(fd: CInt, iovecs: UnsafePointer<iovec>, count: Int) throws(IOError) -> IOResult<Int> {
        try syscall("writev") { sysWritev(fd, iovecs, CInt(count)) }
    }

    /// Closes a descriptor; errors other than `EBADF` are ignored, as Linux always frees it.
    /// The corresponding C function is `close`.
    @inline(__always)
    public static func close(fd: CInt) {
        Syscall.close(fd: fd)
    }

    /// Shuts down the sending side (`SHUT_WR`), the reading side or both. Errors (the peer
    /// already gone) are ignored. The corresponding C function is `shutdown`.
    @inline(never)
    public static func shutdown(fd: CInt, how: CInt) {
        _ = sysShutdown(fd, how)
    }

    /// Accepts a connection as non-blocking and close-on-exec, or `.wouldBlock`.
    /// The corresponding C function is `accept4`.
    @inline(never)
    public static func accept(fd: CInt) throws(IOError) -> IOResult<CInt> {
        try syscall("accept4") { livegate_accept4(fd, nil, nil) }
    }

    /// Sets an integer socket option. The corresponding C function is `setsockopt`.
    public static func setOption(fd: CInt, level: CInt, name: CInt, value: CInt) throws(IOError) {
        var value = value
        _ = try syscall("setsockopt") {
            setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<CInt>.size))
        }
    }

    /// Sets `TCP_NODELAY`; failures are ignored (a socket that is already closing).
    public static func setNoDelay(fd: CInt) {
        var one: CInt = 1
        _ = setsockopt(fd, CInt(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<CInt>.size))
    }

    /// Whether the peer of a connected socket is on this machine (127.0.0.0/8 or ::1).
    /// The corresponding C function is `getpeername`.
    public static func isLoopbackPeer(fd: CInt) -> Bool {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard result == 0 else { return false }
        return withUnsafeBytes(of: storage) { raw -> Bool in
            let family = raw.load(as: sa_family_t.self)
            if family == sa_family_t(AF_INET) {
                return raw[4] == 127  // sin_addr starts at offset 4
            }
            if family == sa_family_t(AF_INET6) {
                // sin6_addr at offset 8: ::1, or ::ffff:127.x.x.x
                let address = Array(raw[8..<24])
                if address == [UInt8](repeating: 0, count: 15) + [1] { return true }
                return address[0..<10].allSatisfy { $0 == 0 } && address[10] == 0xFF && address[11] == 0xFF && address[12] == 127
            }
            return false
        }
    }

    /// The CPUs this process may run on (`sched_getaffinity`), at least 1.
    public static func availableCPUCount() -> Int {
        let count = Int(livegate_affinity_cpu_count())
        return count > 0 ? count : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Milliseconds of `CLOCK_MONOTONIC`.
    public static func monotonicMilliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }

    /// Nanoseconds of `CLOCK_MONOTONIC`.
    public static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

/// epoll, eventfd: the calls Glibc does not export, through `CLinux`.
public enum Epoll {
    /// Readable.
    public static let readable = UInt32(EPOLLIN.rawValue)
    /// Writable.
    public static let writable = UInt32(EPOLLOUT.rawValue)
    /// The peer hung up, or an error is pending.
    public static let hangup = UInt32(EPOLLHUP.rawValue) | UInt32(EPOLLERR.rawValue) | UInt32(EPOLLRDHUP.rawValue)
    /// An error or a full hang-up: reported even when no event is watched.
    public static let errorOrHangup = UInt32(EPOLLERR.rawValue) | UInt32(EPOLLHUP.rawValue)

    /// Creates an epoll instance. The corresponding C function is `epoll_create1`.
    static func epoll_create1() throws(IOError) -> CInt {
        try Syscall.blocking("epoll_create1") { CLinux.epoll_create1(CInt(EPOLL_CLOEXEC)) }
    }

    /// Adds, changes or removes interest in `fd`. The corresponding C function is `epoll_ctl`.
    @inline(never)
    static func epoll_ctl(epfd: CInt, op: CInt, fd: CInt, events: UInt32, data: UInt64) throws(IOError) {
        _ = try Posix.syscall("epoll_ctl") { livegate_epoll_ctl(epfd, op, fd, events, data) }
    }

    /// Creates a non-blocking eventfd for wake-ups. The corresponding C function is `eventfd`.
    static func eventfd() throws(IOError) -> CInt {
        try Syscall.blocking("eventfd") { CLinux.eventfd(0, CInt(EFD_NONBLOCK | EFD_CLOEXEC)) }
    }
}
