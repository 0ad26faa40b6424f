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
        var child: pid_t = 0
        let spawned = posix_spawn(&child, binary, &actions, nil, &argv, environ)
        close(ends[1])
        guard spawned == 0 else {
            close(ends[0])
            throw Failure(description: "posix_spawn \(binary): \(String(cString: strerror(spawned)))")
        }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(ends[0], $0.baseAddress, $0.count) }
            if count > 0 {
                output += chunk[..<count]
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        close(ends[0])
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        return (signal == 0 ? (status >> 8) & 0xff : 128 + signal, output)
    }
}
