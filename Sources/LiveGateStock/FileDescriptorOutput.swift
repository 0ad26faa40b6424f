import Glibc

/// Writes to a raw file descriptor without touching C's `stdout`/`stderr` globals.
enum FileDescriptorOutput {
    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR; returns false on error.
    @discardableResult
    static func write(_ fd: CInt, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while done < bytes.count {
            let count = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if count < 0 {
                if errno == EINTR { continue }
                return false
            }
            done += count
        }
        return true
    }
}
