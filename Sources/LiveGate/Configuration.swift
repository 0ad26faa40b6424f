import Foundation
import LiveGateCore
import LiveGatePOSIX

/// The gateway's configuration: `Config/livegate.json5` by default, every key documented there.
public struct Configuration: Sendable, Equatable {
    /// The address to listen on (numeric IPv4 or IPv6).
    public var host = "0.0.0.0"
    /// The TCP port (0 picks a free one).
    public var port = 8080
    /// Event loops; 0 means one per CPU the process may run on.
    public var ioThreads = 0
    /// Whether `/echo` is served (conformance testing only).
    public var echo = false
    /// `debug`, `info`, `warning` or `error`.
    public var logLevel = Log.Level.info
    /// Seconds a shutdown waits for close handshakes before dropping connections.
    public var shutdownGraceSeconds = 5.0

    /// Largest HTTP request head (431 above).
    public var maxHeadBytes = 8192
    /// Largest HTTP request body (413 above).
    public var maxBodyBytes = 1 << 20
    /// Seconds for a request head to arrive complete (slowloris guard); also the keep-alive idle time.
    public var handshakeTimeoutSeconds = 10.0

    /// Largest WebSocket message on application endpoints (1009 above).
    public var maxMessageBytes = 64 * 1024
    /// Largest message on `/echo`.
    public var echoMaxMessageBytes = 16 * 1024 * 1024
    /// Seconds without input before a ping; as long again without input closes (1001).
    public var idlePingSeconds = 30.0
    /// Seconds to wait for the peer's close frame or FIN after ours.
    public var closeTimeoutSeconds = 5.0
    /// Queued outbound bytes above which a connection stops reading its peer.
    public var outboundHighWaterBytes = 4 * 1024 * 1024

    /// The defaults.
    public init() {}

    /// The number of event loops to run.
    public var effectiveIOThreads: Int {
        ioThreads > 0 ? ioThreads : Posix.availableCPUCount()
    }
}

/// A configuration that cannot be used; the message names the key and what is wrong.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    /// The explanation.
    public let message: String

    public var description: String { message }
}

extension Configuration {
    /// Reads and checks a JSON5 configuration file.
    ///
    /// - Throws: `ConfigurationError` naming the file and the key at fault.
    public static func load(path: String) throws -> Configuration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(message: "cannot read configuration file \(path)")
        }
        do {
            return try parse(data)
        } catch let error as ConfigurationError {
            throw ConfigurationError(message: "\(path): \(error.message)")
        }
    }

    /// Parses and checks JSON5 configuration text. Unknown keys and bad values are errors.
    public static func parse(_ data: Data) throws -> Configuration {
        let root: JSONValue
        do {
            root = try JSONValue.parseJSON5(data)
        } catch {
            let detail = (error as? DecodingError).flatMap { error -> String? in
                if case .dataCorrupted(let context) = error {
                    return (context.underlyingError.map { "\($0)" }) ?? context.debugDescription
                }
                return nil
            }
            throw ConfigurationError(message: "not valid JSON5: \(detail ?? "\(error)")")
        }
        var reader = try ObjectReader(root, path: "")
        var config = Configuration()
        config.host = try reader.string("host", default: config.host)
        config.port = try reader.int("port", default: config.port, range: 0...65535)
        config.ioThreads = try reader.int("ioThreads", default: config.ioThreads, range: 0...256)
        config.echo = try reader.bool("echo", default: config.echo)
        let level = try reader.string("logLevel", default: "info")
        switch level {
        case "debug": config.logLevel = .debug
        case "info": config.logLevel = .info
        case "warning": config.logLevel = .warning
        case "error": config.logLevel = .error
        default:
            throw ConfigurationError(message: "logLevel: expected debug, info, warning or error, got '\(level)'")
        }
        config.shutdownGraceSeconds = try reader.seconds("shutdownGraceSeconds", default: config.shutdownGraceSeconds)

        if var http = try reader.object("http") {
            config.maxHeadBytes = try http.int("maxHeadBytes", default: config.maxHeadBytes, range: 256...1 << 20)
            config.maxBodyBytes = try http.int("maxBodyBytes", default: config.maxBodyBytes, range: 0...1 << 30)
            config.handshakeTimeoutSeconds = try http.seconds(
                "handshakeTimeoutSeconds", default: config.handshakeTimeoutSeconds)
            try http.finish()
        }
        if var ws = try reader.object("webSocket") {
            config.maxMessageBytes = try ws.int("maxMessageBytes", default: config.maxMessageBytes, range: 125...1 << 30)
            config.echoMaxMessageBytes = try ws.int(
                "echoMaxMessageBytes", default: config.echoMaxMessageBytes, range: 125...1 << 30)
            config.idlePingSeconds = try ws.seconds("idlePingSeconds", default: config.idlePingSeconds, allowZero: true)
            config.closeTimeoutSeconds = try ws.seconds("closeTimeoutSeconds", default: config.closeTimeoutSeconds)
            config.outboundHighWaterBytes = try ws.int(
                "outboundHighWaterBytes", default: config.outboundHighWaterBytes, range: 4096...1 << 30)
            try ws.finish()
        }
        try reader.finish()
        return config
    }
}

/// Reads the keys of one configuration object and refuses any key it was not asked for.
struct ObjectReader {
    private var object: [String: JSONValue]
    private var seen: Set<String> = []
    private let path: String

    init(_ value: JSONValue, path: String) throws {
        guard case .object(let object) = value else {
            throw ConfigurationError(message: "\(path.isEmpty ? "the configuration" : path): expected an object, got \(value.typeName)")
        }
        self.object = object
        self.path = path
    }

    private func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private mutating func take(_ key: String) -> JSONValue? {
        seen.insert(key)
        return object[key]
    }

    mutating func string(_ key: String, default value: String) throws -> String {
        guard let raw = take(key) else { return value }
        guard case .string(let string) = raw else {
            throw ConfigurationError(message: "\(name(key)): expected a string, got \(raw.typeName)")
        }
        return string
    }

    mutating func bool(_ key: String, default value: Bool) throws -> Bool {
        guard let raw = take(key) else { return value }
        guard case .bool(let bool) = raw else {
            throw ConfigurationError(message: "\(name(key)): expected true or false, got \(raw.typeName)")
        }
        return bool
    }

    mutating func int(_ key: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let raw = take(key) else { return value }
        guard case .int(let int) = raw else {
            throw ConfigurationError(message: "\(name(key)): expected an integer, got \(raw.typeName)")
        }
        guard range.contains(int) else {
            throw ConfigurationError(message: "\(name(key)): \(int) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return int
    }

    mutating func seconds(_ key: String, default value: Double, allowZero: Bool = false) throws -> Double {
        guard let raw = take(key) else { return value }
        let seconds: Double
        switch raw {
        case .int(let int): seconds = Double(int)
        case .double(let double): seconds = double
        default: throw ConfigurationError(message: "\(name(key)): expected a number of seconds, got \(raw.typeName)")
        }
        guard seconds.isFinite, seconds > 0 || (allowZero && seconds == 0), seconds <= 86_400 else {
            throw ConfigurationError(message: "\(name(key)): \(seconds) is not a valid number of seconds")
        }
        return seconds
    }

    mutating func object(_ key: String) throws -> ObjectReader? {
        guard let raw = take(key) else { return nil }
        return try ObjectReader(raw, path: name(key))
    }

    /// Fails on the first key that was not read.
    func finish() throws {
        if let unknown = object.keys.sorted().first(where: { !seen.contains($0) }) {
            throw ConfigurationError(message: "unknown key '\(name(unknown))'")
        }
    }
}
