import Glibc

/// A program run to its end with `posix_spawn`: its exit status and one of its output streams.
///
/// Not Foundation's `Process`: under AddressSanitizer its scan of `/proc/self/fd` (to close the
/// descriptors a child must not inherit) overflowed a heap buffer while parallel tests held many
/// sockets, and its `waitUntilExit` needs a run loop.
public enum ChildProcess {
    public enum Stream: Sendable {
        case standardOutput
        case standardError

        var descriptor: Int32 { self == .standardOutput ? 1 : 2 }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs `binary` with `arguments`, reads `capture` to its end and waits for the exit.
    ///
    /// - Parameters:
    ///   - discardOther: the other output stream goes to /dev/null (else it is inherited).
    ///   - mergeOther: the other output stream goes where `capture` goes (both read together).
    /// - Returns: the exit status (128 + the signal's number when a signal ended it) and the bytes.
    public static func run(_ binary: String, _ arguments: [String], capture: Stream = .standardOutput,
                           discardOther: Bool = false, mergeOther: Bool = false) throws -> (status: Int32, output: [UInt8]) {
        let child = try spawn(binary, arguments, capture: capture, discardOther: discardOther, mergeOther: mergeOther)
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = child.read(into: &chunk)
            if count <= 0 { break }
            output += chunk[..<count]
        }
        return (child.wait(), output)
    }

    /// Starts `binary`; the caller reads its output and waits for it (see ``run(_:_:capture:discardOther:mergeOther:)``).
    public static func spawn(_ binary: String, _ arguments: [String], capture: Stream = .standardOutput,
                             discardOther: Bool = false, mergeOther: Bool = false) throws -> Child {
        // A socket pair, made close-on-exec at once (Glibc does not export pipe2): another thread's
        // child never inherits it, so the end of the output is seen when this child exits.
        var ends: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            throw Failure(description: "socketpair: errno \(errno)")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, ends[1], capture.descriptor)
        if mergeOther {
            posix_spawn_file_actions_adddup2(&actions, ends[1], capture == .standardOutput ? 2 : 1)
        } else if discardOther {
            posix_spawn_file_actions_addopen(&actions, capture == .standardOutput ? 2 : 1, "/dev/null", O_WRONLY, 0)
        }
        var argv: [UnsafeMutablePointer<CChar>?] = ([binary] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, binary, &actions, nil, &argv, environ)
        close(ends[1])
        guard spawned == 0 else {
            close(ends[0])
            throw Failure(description: "posix_spawn \(binary): \(String(cString: strerror(spawned)))")
        }
        return Child(pid: pid, output: ends[0])
    }

    /// A started program: its process id and the read end of its captured output.
    public final class Child: @unchecked Sendable {
        public let pid: pid_t
        private let output: Int32
        private var status: Int32?

        init(pid: pid_t, output: Int32) {
            self.pid = pid
            self.output = output
        }

        /// Reads what the program wrote next (blocking): the byte count, 0 at its end.
        public func read(into buffer: inout [UInt8]) -> Int {
            while true {
                let count = buffer.withUnsafeMutableBytes { Glibc.read(output, $0.baseAddress, $0.count) }
                if count >= 0 || errno != EINTR { return max(count, 0) }
            }
        }

        /// Waits for the exit: the status (128 + the signal's number when a signal ended it).
        public func wait() -> Int32 {
            if let status { return status }
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
            let signal = raw & 0x7f
            let result = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
            status = result
            return result
        }

        deinit { close(output) }
    }
}
