import Glibc

private let sysRead = Glibc.read
private let sysWrite = Glibc.write
private let sysPwrite = Glibc.pwrite
private let sysClose = Glibc.close
private let sysFsync = Glibc.fsync
private let sysFdatasync = Glibc.fdatasync
private let sysRename = Glibc.rename
private let sysUnlink = Glibc.unlink

/// The syscall choke point: every call livegate makes to the kernel goes through
/// ``call(_:_:)`` (non-blocking descriptors) or ``blocking(_:_:)`` (files and blocking
/// descriptors), which retry `EINTR`, stop on `EBADF`/`EFAULT` (a bug in livegate, never the
/// peer's doing) and throw ``IOError`` for everything else.
///
/// The file calls the stock journal and the room store use live here too; the socket and epoll
/// calls are in `LiveGatePOSIX` (`Posix`, `Epoll`), on top of ``call(_:_:)``.
public enum Syscall {
    /// Runs `body` until it does not fail with `EINTR`. `EAGAIN` is `.wouldBlock`.
    @inline(__always)
    public static func call<T: FixedWidthInteger>(_ name: String, _ body: () -> T) throws(IOError) -> IOResult<T> {
        while true {
            let result = body()
            if result >= 0 { return .processed(result) }
            let code = Glibc.errno
            switch code {
            case EINTR: continue
            case EAGAIN: return .wouldBlock
            case EBADF, EFAULT: preconditionFailure("\(name): \(Errno(rawValue: code)) — descriptor misuse")
            default: throw IOError(errno: Errno(rawValue: code), syscall: name)
            }
        }
    }

    /// Runs `body` until it does not fail with `EINTR`; every other failure, `EAGAIN` included,
    /// throws.
    @inline(__always)
    public static func blocking<T: FixedWidthInteger>(_ name: String, _ body: () -> T) throws(IOError) -> T {
        switch try call(name, body) {
        case .processed(let result): return result
        case .wouldBlock: throw IOError(errno: .wouldBlock, syscall: name)
        }
    }

    // MARK: Files

    /// Opens `path` (always close-on-exec). The corresponding C function is `open`.
    @inline(never)
    public static func open(_ path: String, flags: CInt, mode: mode_t = 0o644) throws(IOError) -> CInt {
        try blocking("open") { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    /// Closes a descriptor; errors other than `EBADF` are ignored, as Linux always frees it.
    /// The corresponding C function is `close`.
    @inline(never)
    public static func close(fd: CInt) {
        let result = sysClose(fd)
        precondition(result == 0 || Glibc.errno != EBADF, "close: bad descriptor \(fd)")
    }

    /// Reads into `buffer`: `.processed(0)` is end of stream. The corresponding C function is `read`.
    @inline(never)
    public static func read(fd: CInt, into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> IOResult<Int> {
        try call("read") { sysRead(fd, buffer.baseAddress, buffer.count) }
    }

    /// Writes from `buffer`; may write less. The corresponding C function is `write`.
    @inline(never)
    public static func write(fd: CInt, _ buffer: UnsafeRawBufferPointer) throws(IOError) -> IOResult<Int> {
        try call("write") { sysWrite(fd, buffer.baseAddress, buffer.count) }
    }

    /// Writes all of `bytes` to a blocking descriptor, retrying short writes.
    public static func writeAll(fd: CInt, _ bytes: UnsafeRawBufferPointer) throws(IOError) {
        var done = 0
        while done < bytes.count {
            done += try blocking("write") { sysWrite(fd, bytes.baseAddress! + done, bytes.count - done) }
        }
    }

    /// Writes all of `bytes` at `offset`, retrying short writes. The corresponding C function is `pwrite`.
    @inline(never)
    public static func pwriteAll(fd: CInt, _ bytes: UnsafeRawBufferPointer, at offset: Int) throws(IOError) {
        var done = 0
        while done < bytes.count {
            done += try blocking("pwrite") {
                sysPwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            }
        }
    }

    /// Reads a whole file.
    public static func readFile(_ path: String) throws(IOError) -> [UInt8] {
        let fd = try open(path, flags: O_RDONLY)
        defer { close(fd: fd) }
        var status = stat()
        _ = try blocking("fstat") { fstat(fd, &status) }
        let size = Int(status.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let count = try blocking("read") {
                bytes.withUnsafeMutableBytes { sysRead(fd, $0.baseAddress! + done, size - done) }
            }
            // The file is shorter than `fstat` said: it changed under us.
            guard count > 0 else { throw IOError(errno: Errno(rawValue: EIO), syscall: "read") }
            done += count
        }
        return bytes
    }

    /// Flushes data and metadata to the device. The corresponding C function is `fsync`.
    @inline(never)
    public static func fsync(fd: CInt) throws(IOError) {
        _ = try blocking("fsync") { sysFsync(fd) }
    }

    /// Flushes data (and the metadata needed to read it back) to the device. The corresponding C
    /// function is `fdatasync`.
    @inline(never)
    public static func fdatasync(fd: CInt) throws(IOError) {
        _ = try blocking("fdatasync") { sysFdatasync(fd) }
    }

    /// `fsync`s a directory, so the renames and removals in it are durable.
    public static func fsyncDirectory(_ path: String) throws(IOError) {
        let fd = try open(path, flags: O_RDONLY | O_DIRECTORY)
        defer { close(fd: fd) }
        try fsync(fd: fd)
    }

    /// Renames `source` to `destination`, replacing it atomically. The corresponding C function is `rename`.
    @inline(never)
    public static func rename(_ source: String, to destination: String) throws(IOError) {
        _ = try blocking("rename") { sysRename(source, destination) }
    }

    /// Removes a file; a missing one is not an error. The corresponding C function is `unlink`.
    @inline(never)
    public static func unlink(_ path: String) {
        _ = sysUnlink(path)
    }

    /// Takes an exclusive lock on `fd` without waiting: `false` if another holder has it. The
    /// corresponding C function is `flock`.
    public static func lockExclusively(fd: CInt) throws(IOError) -> Bool {
        switch try call("flock", { flock(fd, LOCK_EX | LOCK_NB) }) {
        case .processed: return true
        case .wouldBlock: return false
        }
    }

    /// Replaces `path` with `bytes` atomically: written to `path.tmp`, synced (if `isDurable`),
    /// renamed, and the directory synced (if `isDurable`). A failure leaves `path` as it was.
    public static func replaceFile(_ path: String, with bytes: [UInt8], isDurable: Bool = true) throws(IOError) {
        let temporaryPath = path + ".tmp"
        let fd = try open(temporaryPath, flags: O_RDWR | O_CREAT | O_TRUNC)
        do throws(IOError) {
            let failure = bytes.withUnsafeBytes { buffer -> IOError? in
                do throws(IOError) {
                    try writeAll(fd: fd, buffer)
                    return nil
                } catch {
                    return error
                }
            }
            if let failure { throw failure }
            if isDurable { try fsync(fd: fd) }
            close(fd: fd)
        } catch {
            close(fd: fd)
            unlink(temporaryPath)
            throw error
        }
        try rename(temporaryPath, to: path)
        if isDurable { try fsyncDirectory(directory(of: path)) }
    }

    /// The directory part of `path` (`.` when there is none).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
