import Foundation
import LiveGateAlerts
import LiveGateCore
import LiveGateRedis
import LiveGatePOSIX
import LiveGateStock

/// A SKU as the configuration seeds it: one physical stock, shared by every room that lists it.
public struct SkuSpec: Sendable, Equatable {
    /// The SKU id (what orders name).
    public var id: String
    /// The display name.
    public var name: String
    /// Units on hand when the SKU is first created (recovered state wins afterwards).
    public var onHand: Int64
    /// The SKU to pitch instead when this one runs out.
    public var substitute: String?
    /// The per-SKU policy.
    public var policy: SkuPolicy

    /// Creates a SKU specification.
    public init(id: String, name: String, onHand: Int64, substitute: String? = nil, policy: SkuPolicy = SkuPolicy()) {
        self.id = id
        self.name = name
        self.onHand = onHand
        self.substitute = substitute
        self.policy = policy
    }
}

/// A room (one live session): the SKUs it sells and the featured one.
public struct RoomSpec: Sendable, Equatable {
    /// The room id (tokens name it).
    public var id: String
    /// A title for pages and logs.
    public var title: String
    /// The SKU ids of the room, in display order.
    public var skus: [String]
    /// The featured SKU (the one the host is pitching), if any.
    public var featured: String?

    /// Creates a room specification.
    public init(id: String, title: String, skus: [String], featured: String? = nil) {
        self.id = id
        self.title = title
        self.skus = skus
        self.featured = featured
    }
}

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
    /// Whether permessage-deflate (RFC 7692) is offered to clients that ask for it.
    public var compression = false
    /// Messages smaller than this many bytes go out uncompressed even to clients that negotiated it.
    public var compressionMinimumBytes = 128

    /// Directory of the stock core's journal and snapshots (created if missing).
    public var dataDir = "data"
    /// The HS256 secret that signs tokens. The shipped value is for the demo only.
    public var tokenSecret = Configuration.demoTokenSecret
    /// The stock core's clock: live (wall clock) or external (only `tick` moves it).
    public var stockClock = StockConfiguration.Clock.live
    /// Snapshot the stock core after this many journal records, or after as many as there are orders
    /// remembered when that is more (a snapshot encodes them all).
    public var snapshotEvery = 100_000
    /// Seconds of core time an order key is remembered (idempotency window).
    public var orderRetentionSeconds = 48.0 * 3600
    /// SKUs to seed.
    public var skus: [SkuSpec] = []
    /// Rooms.
    public var rooms: [RoomSpec] = []
    /// A Bearer token that may read `/metrics` from other machines (loopback always may).
    public var metricsToken: String?
    /// The TLS listener's port (`nil`: no TLS listener). Same host as the plain listener.
    public var tlsPort: Int?
    /// PEM certificate chain for TLS (server certificate first).
    public var tlsCertificateChain = ""
    /// PEM private key for TLS.
    public var tlsPrivateKey = ""
    /// Whether the plain (ws://, http://) listener is opened too when TLS is configured.
    public var plainListener = true

    /// Messages kept per room stream for resume.
    public var historySize = 1024
    /// Queued bytes above which a viewer's state messages are conflated.
    public var viewerSoftBudgetBytes = 64 * 1024
    /// Queued bytes above which a viewer is closed with 1013.
    public var viewerHardBudgetBytes = 1024 * 1024
    /// Queued bytes above which a host, operator or connector is closed with 1013.
    public var priorityHardBudgetBytes = 16 * 1024 * 1024
    /// The alert engine's settings and texts (validated at load).
    public var alerts = AlertConfiguration()
    /// Serve the load generator's plain pub/sub protocol on `/bench` and `/bench/pub`.
    public var benchPubSub = false
    /// The cluster over Redis (`nil`: one process, no Redis; see ClusterPublisher.swift).
    public var cluster: ClusterSettings?
    /// Largest danmaku text, in characters.
    public var danmakuMaxCharacters = 120
    /// Danmaku a connection may send per 10 seconds.
    public var danmakuPer10Seconds = 10

    /// The token secret in the shipped configuration; start-up warns when it is in use.
    public static let demoTokenSecret = "livegate-demo-secret-change-me"

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
            // Foundation says only "The given data was not valid JSON.": find where and why.
            if let diagnosis = JSON5Diagnosis.diagnose([UInt8](data)) {
                throw ConfigurationError(message: "not valid JSON5: \(diagnosis)")
            }
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
            switch try ws.string("compression", default: "off") {
            case "off": config.compression = false
            case "on": config.compression = true
            case let other: throw ConfigurationError(message: "webSocket.compression: expected off or on, got '\(other)'")
            }
            config.compressionMinimumBytes = try ws.int(
                "compressionMinimumBytes", default: config.compressionMinimumBytes, range: 0...1 << 30)
            try ws.finish()
        }
        config.dataDir = try reader.string("dataDir", default: config.dataDir)
        config.tokenSecret = try reader.string("tokenSecret", default: config.tokenSecret)
        config.metricsToken = try reader.optionalString("metricsToken")
        if var tls = try reader.object("tls") {
            config.tlsPort = try tls.int("port", default: 8443, range: 0...65535)
            config.tlsCertificateChain = try tls.requiredString("certificateChain")
            config.tlsPrivateKey = try tls.requiredString("privateKey")
            config.plainListener = try tls.bool("plainListener", default: true)
            try tls.finish()
        }
        if var streams = try reader.object("streams") {
            config.historySize = try streams.int("historySize", default: config.historySize, range: 1...1_000_000)
            config.viewerSoftBudgetBytes = try streams.int(
                "viewerSoftBudgetBytes", default: config.viewerSoftBudgetBytes, range: 1024...1 << 30)
            config.viewerHardBudgetBytes = try streams.int(
                "viewerHardBudgetBytes", default: config.viewerHardBudgetBytes, range: 4096...1 << 30)
            config.priorityHardBudgetBytes = try streams.int(
                "priorityHardBudgetBytes", default: config.priorityHardBudgetBytes, range: 4096...1 << 30)
            try streams.finish()
            guard config.viewerSoftBudgetBytes < config.viewerHardBudgetBytes else {
                throw ConfigurationError(message: "streams.viewerSoftBudgetBytes must be below streams.viewerHardBudgetBytes")
            }
        }
        if var alerts = try reader.object("alerts") {
            var settings = config.alerts
            settings.horizon = Int64(try alerts.seconds("horizonSeconds", default: 600) * 1e9)
            settings.smoothingTime = Int64(try alerts.seconds("smoothingSeconds", default: 300) * 1e9)
            settings.launchQuietPeriod = Int64(try alerts.seconds("launchQuietSeconds", default: 600, allowZero: true) * 1e9)
            settings.trendBaselineTime = Int64(try alerts.seconds("trendBaselineSeconds", default: 7200) * 1e9)
            settings.trendWarmUp = Int64(try alerts.seconds("trendWarmUpSeconds", default: 1200, allowZero: true) * 1e9)
            settings.trendFalseAlarmTime = Int64(
                try alerts.number("trendFalseAlarmHours", default: 300, range: 1...1_000_000) * 3600 * 1e9)
            settings.danmakuInterval = Int64(try alerts.seconds("danmakuIntervalSeconds", default: 10) * 1e9)
            settings.payThroughMemory = Int64(try alerts.seconds("payThroughMemorySeconds", default: 1800) * 1e9)
            if var fields = try alerts.object("defaultPolicy") { settings.defaultPolicy = try fields.policy(base: settings.defaultPolicy) }
            let language = try alerts.string("language", default: "zh")
            switch language {
            case "zh": settings.templates = .chinese
            case "en": settings.templates = .english
            default: throw ConfigurationError(message: "alerts.language: expected zh or en, got '\(language)'")
            }
            if var texts = try alerts.object("templates") {
                var templates = settings.templates
                templates.thresholdBanner = try texts.string("thresholdBanner", default: templates.thresholdBanner)
                templates.thresholdDanmaku = try texts.string("thresholdDanmaku", default: templates.thresholdDanmaku)
                templates.emergencyBanner = try texts.string("emergencyBanner", default: templates.emergencyBanner)
                templates.emergencyDanmaku = try texts.string("emergencyDanmaku", default: templates.emergencyDanmaku)
                templates.soldoutBanner = try texts.string("soldoutBanner", default: templates.soldoutBanner)
                templates.soldoutDanmaku = try texts.string("soldoutDanmaku", default: templates.soldoutDanmaku)
                templates.hostHint = try texts.string("hostHint", default: templates.hostHint)
                templates.stockReplyAvailable = try texts.string("stockReplyAvailable", default: templates.stockReplyAvailable)
                templates.stockReplySoldOut = try texts.string("stockReplySoldOut", default: templates.stockReplySoldOut)
                templates.substituteFallback = try texts.string("substituteFallback", default: templates.substituteFallback)
                let keywords = try texts.stringArray("stockQuestionKeywords")
                if !keywords.isEmpty { templates.stockQuestionKeywords = keywords }
                try texts.finish()
                settings.templates = templates
            }
            try alerts.finish()
            config.alerts = settings
        }
        do {
            try config.alerts.validate()
        } catch {
            throw ConfigurationError(message: "alerts: \(error)")
        }
        if var cluster = try reader.object("cluster") {
            let text = try cluster.requiredString("redis")
            let url: RedisURL
            do {
                url = try RedisURL(parsing: text)
            } catch {
                throw ConfigurationError(message: "cluster.redis: \(error)")
            }
            var settings = ClusterSettings(redis: url)
            settings.redisCAFile = try cluster.optionalString("redisCAFile")
            settings.redisCertFile = try cluster.optionalString("redisCertFile")
            settings.redisKeyFile = try cluster.optionalString("redisKeyFile")
            if let problem = settings.tlsFilesProblem() { throw ConfigurationError(message: problem) }
            let role = try cluster.string("role", default: "core")
            guard let parsed = ClusterSettings.Role(rawValue: role) else {
                throw ConfigurationError(message: "cluster.role: expected core or edge, got '\(role)'")
            }
            settings.role = parsed
            settings.prefix = try cluster.string("prefix", default: settings.prefix)
            guard !settings.prefix.isEmpty, !settings.prefix.contains(" ") else {
                throw ConfigurationError(message: "cluster.prefix: a non-empty key prefix without spaces")
            }
            if let node = try cluster.optionalString("node") {
                guard ClusterSettings.isValidNode(node) else {
                    throw ConfigurationError(message: "cluster.node: 1 to 64 letters, digits, '-', '_' or '.'")
                }
                settings.node = node
            }
            settings.streamLength = try cluster.int("streamLength", default: max(settings.streamLength, config.historySize),
                                                    range: 100...100_000_000)
            guard settings.streamLength >= config.historySize else {
                throw ConfigurationError(message: "cluster.streamLength: at least streams.historySize (\(config.historySize)), the resume window")
            }
            try cluster.finish()
            config.cluster = settings
        }
        if var bench = try reader.object("bench") {
            config.benchPubSub = try bench.bool("pubSub", default: false)
            try bench.finish()
        }
        guard config.tokenSecret.utf8.count >= 16 else {
            throw ConfigurationError(message: "tokenSecret: must be at least 16 bytes")
        }
        if var stock = try reader.object("stock") {
            let clock = try stock.string("clock", default: "live")
            switch clock {
            case "live": config.stockClock = .live
            case "external": config.stockClock = .external
            default: throw ConfigurationError(message: "stock.clock: expected live or external, got '\(clock)'")
            }
            config.snapshotEvery = try stock.int("snapshotEvery", default: config.snapshotEvery, range: 100...100_000_000)
            config.orderRetentionSeconds = try stock.seconds("orderRetentionSeconds", default: config.orderRetentionSeconds, maximum: 30 * 86_400)
            try stock.finish()
        }
        if var danmaku = try reader.object("danmaku") {
            config.danmakuMaxCharacters = try danmaku.int("maxCharacters", default: config.danmakuMaxCharacters, range: 1...2000)
            config.danmakuPer10Seconds = try danmaku.int("per10Seconds", default: config.danmakuPer10Seconds, range: 1...1000)
            try danmaku.finish()
        }
        for (index, value) in try reader.array("skus").enumerated() {
            var sku = try ObjectReader(value, path: "skus[\(index)]")
            let id = try sku.requiredString("id")
            var policy = config.alerts.defaultPolicy
            if var fields = try sku.object("policy") { policy = try fields.policy(base: policy) }
            let substitute = try sku.optionalString("substitute")
            policy.substitute = substitute
            config.skus.append(SkuSpec(
                id: id, name: try sku.string("name", default: id),
                onHand: Int64(try sku.int("onHand", default: 0, range: 0...1_000_000_000)),
                substitute: substitute, policy: policy))
            try sku.finish()
        }
        for sku in config.skus {
            do {
                try config.alerts.check(sku.policy)
            } catch {
                throw ConfigurationError(message: "skus[\(sku.id)].policy: \(error)")
            }
        }
        for (index, value) in try reader.array("rooms").enumerated() {
            var room = try ObjectReader(value, path: "rooms[\(index)]")
            let id = try room.requiredString("id")
            let skus = try room.stringArray("skus")
            config.rooms.append(RoomSpec(
                id: id, title: try room.string("title", default: id), skus: skus,
                featured: try room.optionalString("featured")))
            try room.finish()
        }
        try reader.finish()
        try config.validateRooms()
        return config
    }

    /// Checks that ids are unique and every reference names a configured SKU.
    func validateRooms() throws {
        var ids = Set<String>()
        for sku in skus {
            guard ids.insert(sku.id).inserted else { throw ConfigurationError(message: "skus: duplicate id '\(sku.id)'") }
            guard !sku.id.isEmpty, sku.id.utf8.count <= 64 else {
                throw ConfigurationError(message: "skus: id '\(sku.id)' must be 1 to 64 bytes")
            }
        }
        for sku in skus {
            if let substitute = sku.substitute, !ids.contains(substitute) {
                throw ConfigurationError(message: "skus[\(sku.id)].substitute: no SKU '\(substitute)'")
            }
        }
        var roomIds = Set<String>()
        for room in rooms {
            guard roomIds.insert(room.id).inserted else { throw ConfigurationError(message: "rooms: duplicate id '\(room.id)'") }
            for sku in room.skus where !ids.contains(sku) {
                throw ConfigurationError(message: "rooms[\(room.id)].skus: no SKU '\(sku)'")
            }
            if let featured = room.featured, !room.skus.contains(featured) {
                throw ConfigurationError(message: "rooms[\(room.id)].featured: '\(featured)' is not one of the room's SKUs")
            }
        }
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

    mutating func seconds(_ key: String, default value: Double, allowZero: Bool = false, maximum: Double = 86_400) throws -> Double {
        guard let raw = take(key) else { return value }
        let seconds: Double
        switch raw {
        case .int(let int): seconds = Double(int)
        case .double(let double): seconds = double
        default: throw ConfigurationError(message: "\(name(key)): expected a number of seconds, got \(raw.typeName)")
        }
        guard seconds.isFinite, seconds > 0 || (allowZero && seconds == 0), seconds <= maximum else {
            throw ConfigurationError(message: "\(name(key)): \(seconds) is not a valid number of seconds")
        }
        return seconds
    }

    /// Reads a policy object through ``SkuPolicy/fields``: each field by its name (or a deprecated name, not
    /// both), ranges checked; fields left out keep `base`'s values. Finishes the object.
    mutating func policy(base: SkuPolicy) throws -> SkuPolicy {
        var policy = base
        for field in SkuPolicy.fields {
            let given = ([field.name] + field.deprecatedNames).filter { object[$0] != nil }
            guard let key = given.first else { continue }
            guard given.count == 1 else {
                throw ConfigurationError(message: "\(name(key)): give one of \(given.joined(separator: " and ")), not both")
            }
            let value: Double
            switch take(key) {
            case .int(let int)?: value = Double(int)
            case .double(let double)?: value = double
            case let raw?: throw ConfigurationError(message: "\(name(key)): expected a number, got \(raw.typeName)")
            case nil: continue
            }
            do {
                try policy.set(field, to: value)
            } catch {
                throw ConfigurationError(message: "\(name(key)): \(error.reason)")
            }
        }
        try finish()
        return policy
    }

    mutating func requiredString(_ key: String) throws -> String {
        guard object[key] != nil else { throw ConfigurationError(message: "\(name(key)): required") }
        let value = try string(key, default: "")
        guard !value.isEmpty else { throw ConfigurationError(message: "\(name(key)): must not be empty") }
        return value
    }

    mutating func optionalString(_ key: String) throws -> String? {
        guard let raw = take(key) else { return nil }
        if case .null = raw { return nil }
        guard case .string(let string) = raw else {
            throw ConfigurationError(message: "\(name(key)): expected a string, got \(raw.typeName)")
        }
        return string
    }

    mutating func number(_ key: String, default value: Double, range: ClosedRange<Double>) throws -> Double {
        guard let raw = take(key) else { return value }
        let number: Double
        switch raw {
        case .int(let int): number = Double(int)
        case .double(let double): number = double
        default: throw ConfigurationError(message: "\(name(key)): expected a number, got \(raw.typeName)")
        }
        guard range.contains(number) else {
            throw ConfigurationError(message: "\(name(key)): \(number) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    mutating func array(_ key: String) throws -> [JSONValue] {
        guard let raw = take(key) else { return [] }
        guard case .array(let array) = raw else {
            throw ConfigurationError(message: "\(name(key)): expected an array, got \(raw.typeName)")
        }
        return array
    }

    mutating func stringArray(_ key: String) throws -> [String] {
        try array(key).enumerated().map { index, value in
            guard case .string(let string) = value else {
                throw ConfigurationError(message: "\(name(key))[\(index)]: expected a string, got \(value.typeName)")
            }
            return string
        }
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
