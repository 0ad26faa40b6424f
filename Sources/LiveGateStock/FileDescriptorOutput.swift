import LiveGateSystem

/// Writes to a raw file descriptor without touching C's `stdout`/`stderr` globals.
enum FileDescriptorOutput {
    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR; returns false on error.
    @discardableResult
    static func write(_ fd: CInt, _ bytes: UnsafeRawBufferPointer) -> Bool {
        (try? Syscall.writeAll(fd: fd, bytes)) != nil
    }
}
