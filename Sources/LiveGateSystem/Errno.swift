import Glibc

/// A POSIX error number with readable names (swift-system style); `rawValue` is the C `errno`.
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The C value.
    public let rawValue: CInt

    /// Wraps a C value.
    public init(rawValue: CInt) { self.rawValue = rawValue }

    public static let wouldBlock = Errno(rawValue: EAGAIN)
    public static let interrupted = Errno(rawValue: EINTR)
    public static let connectionReset = Errno(rawValue: ECONNRESET)
    public static let brokenPipe = Errno(rawValue: EPIPE)
    public static let badFileDescriptor = Errno(rawValue: EBADF)
    public static let badAddress = Errno(rawValue: EFAULT)
    public static let tooManyOpenFiles = Errno(rawValue: EMFILE)
    public static let tooManyOpenFilesInSystem = Errno(rawValue: ENFILE)
    public static let addressInUse = Errno(rawValue: EADDRINUSE)
    public static let connectionAborted = Errno(rawValue: ECONNABORTED)

    public var description: String {
        String(cString: strerror(rawValue)) + " (errno \(rawValue))"
    }
}

/// A failed system call: which one, and why.
public struct IOError: Error, CustomStringConvertible, Sendable {
    /// The error number.
    public let errno: Errno
    /// The system call's name.
    public let syscall: String

    public var description: String { "\(syscall) failed: \(errno)" }

    /// An error for a call that reports its errno another way (`SO_ERROR` after a
    /// non-blocking `connect`, `getaddrinfo`).
    public init(errno: Errno, syscall: String) {
        self.errno = errno
        self.syscall = syscall
    }
}

/// The outcome of a non-blocking call: done, or it would have blocked.
public enum IOResult<T> {
    case processed(T)
    case wouldBlock
}
