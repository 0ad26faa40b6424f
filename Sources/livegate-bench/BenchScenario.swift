import Foundation
import Glibc
import LiveGateSystem

/// One `livegate-bench` subcommand.
protocol BenchScenario {
    /// The subcommand name, e.g. `stock`.
    static var name: String { get }
    /// One line for the usage text.
    static var summary: String { get }
    /// Whether the usage text leaves it out (helpers for tests).
    static var isHidden: Bool { get }
    /// Runs the scenario and returns the exit status.
    static func run(_ options: BenchOptions) throws -> Int32
}

/// A usage error.
struct BenchUsageError: Error, CustomStringConvertible {
    /// What was wrong.
    var description: String
}

/// `--flag` and `--key value` options.
struct BenchOptions {
    /// Flags seen.
    private var flags: Set<String> = []
    /// Values seen.
    private var values: [String: String] = [:]

    /// Parses `arguments`: `--name value` unless the next argument starts with `--` (then a flag).
    init(_ arguments: [String]) {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if index + 1 < arguments.count, !arguments[index + 1].hasPrefix("--") {
                values[argument] = arguments[index + 1]
                index += 2
            } else {
                flags.insert(argument)
                index += 1
            }
        }
    }

    /// Whether `--name` was given as a flag.
    func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The integer value of `--name`, or `default`.
    func integer(_ name: String, default value: Int) throws -> Int {
        guard let text = values[name] else { return value }
        guard let number = Int(text.replacingOccurrences(of: "_", with: "")) else {
            throw BenchUsageError(description: "\(name) needs an integer, got \(text)")
        }
        return number
    }

    /// The string value of `--name`, or nil.
    func string(_ name: String) -> String? { values[name] }
}

/// Monotonic nanoseconds, for measuring.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// Writes `text` to standard output with `write(2)` (no C `stdout` global, no buffering).
func writeStandardOutput(_ text: String) {
    let bytes = Array(text.utf8)
    bytes.withUnsafeBytes { try? Syscall.writeAll(fd: 1, $0) }
}
