import Foundation
import Synchronization

/// Minimal leveled logger: one line per event on standard error in logfmt
/// (`ts=… level=info msg="…"`, or `event=… key=value …` for ``event(_:_:_:)``).
///
/// Each line is written with a single `write`, so lines from different threads never
/// interleave. Anything that may carry a secret (a token) must be passed through
/// ``redactingTokens(_:)`` first.
public enum Log {
    /// Severity of a log line.
    public enum Level: Int, Sendable, Comparable, CustomStringConvertible {
        case debug = 0, info, warning, error

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }

        public var description: String {
            switch self {
            case .debug: return "debug"
            case .info: return "info"
            case .warning: return "warning"
            case .error: return "error"
            }
        }
    }

    private static let minimum = LogSettings()

    /// Lines below this level are dropped.
    public static var level: Level {
        get { minimum.level }
        set { minimum.level = newValue }
    }

    /// Writes a line at `level`.
    public static func write(_ level: Level, _ message: @autoclosure () -> String) {
        guard level >= minimum.level else { return }
        let stamp = timestamp()
        let line = "ts=\(stamp) level=\(level) msg=\(quoted(message()))\n"
        emit(line)
    }

    /// Writes one structured event: `event=name` and its fields as `key=value` pairs
    /// (values quoted when they contain spaces, quotes or `=`).
    public static func event(_ level: Level, _ name: String, _ fields: KeyValuePairs<String, String>) {
        guard level >= minimum.level else { return }
        var line = "ts=\(timestamp()) level=\(level) event=\(name)"
        for (key, value) in fields {
            line += " \(key)=\(quoted(value))"
        }
        emit(line + "\n")
    }

    /// A logfmt value: bare when it is simple, else in double quotes with `"` and `\\` escaped.
    public static func quoted(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\" || $0 == "\n" })
        guard needsQuotes else { return value }
        var escaped = ""
        for character in value {
            switch character {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return "\"" + escaped + "\""
    }

    private static func emit(_ line: String) {
        if let sink = minimum.sink {
            sink(line)
        } else {
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// Sends every line to `sink` instead of standard error (`nil`: back to standard error).
    /// The in-memory backend for tests.
    public static func setSink(_ sink: (@Sendable (String) -> Void)?) {
        minimum.sink = sink
    }

    /// Writes an informational line.
    public static func info(_ message: @autoclosure () -> String) { write(.info, message()) }
    /// Writes a warning.
    public static func warning(_ message: @autoclosure () -> String) { write(.warning, message()) }
    /// Writes an error.
    public static func error(_ message: @autoclosure () -> String) { write(.error, message()) }
    /// Writes a debugging line.
    public static func debug(_ message: @autoclosure () -> String) { write(.debug, message()) }

    /// Replaces the value of every `token=` query parameter in `text` with `<redacted>`.
    public static func redactingTokens(_ text: String) -> String {
        guard text.contains("token=") else { return text }
        var result = ""
        var rest = Substring(text)
        while let range = rest.range(of: "token=") {
            result += rest[..<range.upperBound]
            result += "<redacted>"
            rest = rest[range.upperBound...]
            let end = rest.firstIndex(where: { $0 == "&" || $0 == " " || $0 == "#" }) ?? rest.endIndex
            rest = rest[end...]
        }
        return result + rest
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = time_t(now.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let millis = Int(now.tv_nsec) / 1_000_000
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}

/// Holder of the process-wide log level.
final class LogSettings: Sendable {
    private let raw = Atomic<Int>(Log.Level.info.rawValue)
    private let sinkBox = Mutex<(@Sendable (String) -> Void)?>(nil)

    var sink: (@Sendable (String) -> Void)? {
        get { sinkBox.withLock { $0 } }
        set { sinkBox.withLock { $0 = newValue } }
    }

    var level: Log.Level {
        get { Log.Level(rawValue: raw.load(ordering: .relaxed)) ?? .info }
        set { raw.store(newValue.rawValue, ordering: .relaxed) }
    }
}
