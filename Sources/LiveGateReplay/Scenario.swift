import Foundation
import LiveGateStock

/// A scripted live sale (Config/scenarios/README.md documents every field).
///
/// Times are scenario time: seconds from the start of the sale, written as a number of seconds or as a
/// string (`"3:00:00"`, `"3:05"` for h:mm, `"20m"`, `"90s"`, `"6h"`).
public struct Scenario: Decodable, Sendable {
    /// A short name, used in the report.
    public var name: String
    /// What the scenario shows.
    public var description: String?
    /// Seeds every random draw, so each run is identical.
    public var seed: UInt64
    /// How long the sale lasts.
    public var duration: ScenarioTime
    /// Core time advances in steps of this length (default 1 s): each step is one `tick`.
    public var step: ScenarioTime?
    /// A step with nothing to send is skipped, but time moves at least this often (default 10 s), so alerts that
    /// fall due with time alone still fire.
    public var idleTick: ScenarioTime?
    /// The room id (default `replay`).
    public var room: String?
    /// The SKU the report is about.
    public var focusSku: String
    /// The static rule the alerts are compared with: "remaining < staticRuleBelow".
    public var staticRuleBelow: Int64
    /// An alert raise not followed by sell-out within this time counts as a false alarm (default 90 min).
    public var falseAlarmHorizon: ScenarioTime?
    /// The SKUs with their stock and policy.
    public var skus: [ScenarioSku]
    /// The sales channels and how their orders travel.
    public var channels: [ScenarioChannel]
    /// Sales rates per SKU and channel.
    public var demand: [DemandStream]?
    /// Relative noise on each stream's rate, drawn once per minute (0.3 = ±30 %).
    public var noise: Double?
    /// Rate multipliers over a time range.
    public var surges: [Surge]?
    /// A fixed number of buyers over a short time (flash sales).
    public var bursts: [Burst]?
    /// What buyers do after placing an order.
    public var buyers: BuyerModel
    /// Scripted events at fixed times.
    public var events: [ScriptedEvent]?
    /// Operator reactions that fire on alerts or on a stock level.
    public var reactions: [Reaction]?
}

/// A time in a scenario, in whole seconds.
public struct ScenarioTime: Decodable, Sendable, Hashable, Comparable {
    /// Seconds.
    public var seconds: Int64

    /// Creates a time of `seconds`.
    public init(seconds: Int64) { self.seconds = seconds }

    /// Earlier.
    public static func < (lhs: ScenarioTime, rhs: ScenarioTime) -> Bool { lhs.seconds < rhs.seconds }

    /// Decodes a number of seconds or a time string.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            guard number.isFinite, number >= 0, number < 1e9 else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "a time must be 0…1e9 seconds")
            }
            seconds = Int64(number.rounded())
            return
        }
        guard let text = try? container.decode(String.self), let parsed = ScenarioTime.parse(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected seconds, \"h:mm:ss\", \"h:mm\" or a number with s, m or h")
        }
        seconds = parsed
    }

    /// Parses `"3:00:00"`, `"3:05"` (h:mm), `"20m"`, `"90s"`, `"6h"`, `"1.5h"` or `"120"`.
    public static func parse(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.contains(":") {
            let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false).map { Int64($0) }
            guard parts.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
            let values = parts.map { $0! }
            switch values.count {
            case 2: return values[1] < 60 ? values[0] * 3600 + values[1] * 60 : nil
            case 3: return values[1] < 60 && values[2] < 60 ? values[0] * 3600 + values[1] * 60 + values[2] : nil
            default: return nil
            }
        }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
        var number = Substring(trimmed)
        var scale = 1.0
        if let last = trimmed.last, let unit = units[last] {
            number = trimmed.dropLast()
            scale = unit
        }
        guard let value = Double(number), value.isFinite, value >= 0, value * scale < 1e9 else { return nil }
        return Int64((value * scale).rounded())
    }

    /// `h:mm:ss`.
    public var clock: String { ScenarioTime.clock(seconds) }

    /// `h:mm:ss` of `seconds`.
    public static func clock(_ seconds: Int64) -> String {
        let sign = seconds < 0 ? "-" : ""
        let total = abs(seconds)
        let minutes = total / 60 % 60
        let rest = total % 60
        return "\(sign)\(total / 3600):\(minutes < 10 ? "0" : "")\(minutes):\(rest < 10 ? "0" : "")\(rest)"
    }
}

/// A SKU of the scenario.
public struct ScenarioSku: Decodable, Sendable {
    /// The SKU id orders name.
    public var id: String
    /// Its display name.
    public var name: String?
    /// Units on hand at the start.
    public var onHand: Int64
    /// The SKU to pitch instead when it runs out.
    public var substitute: String?
    /// Its alert policy; omitted fields take the gateway's defaults.
    public var policy: PolicyFields?
}

/// Policy fields with the names of the `policy` command (durations in seconds).
public struct PolicyFields: Codable, Sendable, Hashable {
    /// The smallest safety line, units ("safety" in a what-if).
    public var safetyMinimum: Double?
    /// How long a restock takes, seconds.
    public var restockLeadTimeSec: Double?
    /// The safety line covers rate × lead time × this.
    public var safetyFactor: Double?
    /// Trend: recent window at least this many times the previous ("k").
    public var trendFactor: Double?
    /// Trend: each window's length, seconds ("window").
    public var trendWindowSec: Double?
    /// Trend: least units in the recent window ("volume").
    public var trendMinimumVolume: Double?
    /// Trend also when this many are sold (0: off).
    public var watchMark: Double?
    /// Emergency at or below this many sellable units.
    public var emergencyLine: Double?
    /// A raised level stays up at least this long, seconds.
    public var cooldownSec: Double?
    /// How far a condition must clear before its level falls (a fraction).
    public var hysteresisMargin: Double?
    /// An unpaid reservation expires after this long, seconds.
    public var reservationTimeoutSec: Double?

    /// No field set.
    public init() {}

    /// The fields set in `other` replace these.
    public func merged(with other: PolicyFields) -> PolicyFields {
        var result = self
        result.safetyMinimum = other.safetyMinimum ?? safetyMinimum
        result.restockLeadTimeSec = other.restockLeadTimeSec ?? restockLeadTimeSec
        result.safetyFactor = other.safetyFactor ?? safetyFactor
        result.trendFactor = other.trendFactor ?? trendFactor
        result.trendWindowSec = other.trendWindowSec ?? trendWindowSec
        result.trendMinimumVolume = other.trendMinimumVolume ?? trendMinimumVolume
        result.watchMark = other.watchMark ?? watchMark
        result.emergencyLine = other.emergencyLine ?? emergencyLine
        result.cooldownSec = other.cooldownSec ?? cooldownSec
        result.hysteresisMargin = other.hysteresisMargin ?? hysteresisMargin
        result.reservationTimeoutSec = other.reservationTimeoutSec ?? reservationTimeoutSec
        return result
    }

    /// The stock core's policy: `base` with these fields applied.
    public func apply(to base: SkuPolicy) -> SkuPolicy {
        let second = 1_000_000_000.0
        var policy = base
        if let value = safetyMinimum { policy.safetyMinimum = Int64(value) }
        if let value = restockLeadTimeSec { policy.restockLeadTime = Int64(value * second) }
        if let value = safetyFactor { policy.safetyFactor = value }
        if let value = trendFactor { policy.trendFactor = value }
        if let value = trendWindowSec { policy.trendWindow = Int64(value * second) }
        if let value = trendMinimumVolume { policy.trendMinimumVolume = Int64(value) }
        if let value = watchMark { policy.watchMark = Int64(value) }
        if let value = emergencyLine { policy.emergencyLine = Int64(value) }
        if let value = cooldownSec { policy.cooldown = Int64(value * second) }
        if let value = hysteresisMargin { policy.hysteresisMargin = value }
        if let value = reservationTimeoutSec { policy.reservationTimeout = Int64(value * second) }
        return policy
    }

    /// The fields that are set, by name, in a fixed order.
    public var entries: [(String, Double)] {
        let all: [(String, Double?)] = [
            ("safetyMinimum", safetyMinimum), ("restockLeadTimeSec", restockLeadTimeSec), ("safetyFactor", safetyFactor),
            ("trendFactor", trendFactor), ("trendWindowSec", trendWindowSec), ("trendMinimumVolume", trendMinimumVolume),
            ("watchMark", watchMark), ("emergencyLine", emergencyLine), ("cooldownSec", cooldownSec),
            ("hysteresisMargin", hysteresisMargin), ("reservationTimeoutSec", reservationTimeoutSec),
        ]
        return all.compactMap { name, value in value.map { (name, $0) } }
    }

    /// Parses a what-if override: `k=1.5,window=3m,safety=80` (short names `k`, `window`, `safety`,
    /// `volume`, `lead`, `factor`, `cooldown`, `emergency`, or any field name).
    /// - Throws: ``ScenarioError`` naming the bad key or value.
    public static func parseOverride(_ text: String) throws -> PolicyFields {
        var fields = PolicyFields()
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ScenarioError(file: "--policy", field: String(pair), message: "expected key=value")
            }
            let key = parts[0]
            let raw = parts[1]
            let isDuration = ["window", "lead", "cooldown", "trendWindowSec", "restockLeadTimeSec", "cooldownSec",
                              "reservationTimeoutSec", "timeout"].contains(key)
            let parsed: Double? = isDuration ? ScenarioTime.parse(raw).map(Double.init) : Double(raw)
            guard let value = parsed, value.isFinite, value >= 0 else {
                throw ScenarioError(file: "--policy", field: key, message: "'\(raw)' is not a non-negative \(isDuration ? "duration" : "number")")
            }
            switch key {
            case "k", "trendFactor": fields.trendFactor = value
            case "window", "trendWindowSec": fields.trendWindowSec = value
            case "safety", "safetyMinimum": fields.safetyMinimum = value
            case "volume", "trendMinimumVolume": fields.trendMinimumVolume = value
            case "lead", "restockLeadTimeSec": fields.restockLeadTimeSec = value
            case "factor", "safetyFactor": fields.safetyFactor = value
            case "cooldown", "cooldownSec": fields.cooldownSec = value
            case "emergency", "emergencyLine": fields.emergencyLine = value
            case "watch", "watchMark": fields.watchMark = value
            case "margin", "hysteresisMargin": fields.hysteresisMargin = value
            case "timeout", "reservationTimeoutSec": fields.reservationTimeoutSec = value
            default:
                throw ScenarioError(
                    file: "--policy", field: key,
                    message: "unknown key (use k, window, safety, volume, lead, factor, cooldown, emergency, watch, margin, timeout or a policy field name)")
            }
        }
        guard !fields.entries.isEmpty else { throw ScenarioError(file: "--policy", field: "", message: "no setting given") }
        return fields
    }
}

/// A sales channel.
public struct ScenarioChannel: Decodable, Sendable {
    /// The channel id (`taobao`, `douyin`, `kuaishou`).
    public var id: String
    /// Connector sockets for this channel (default 2).
    public var sockets: Int?
    /// Share of its orders sent over `POST /v1/orders` instead of a socket, 0…1 (default 0.25).
    public var httpShare: Double?
}

/// The sales rate of one SKU on one channel over time: linear between points, flat after the last.
public struct DemandStream: Decodable, Sendable {
    /// The SKU.
    public var sku: String
    /// The channel.
    public var channel: String
    /// The rate in orders per minute at given times.
    public var rate: [RatePoint]
    /// Orders only while the SKU is featured in the room (e.g. a substitute once it is put up).
    public var whenFeatured: Bool?
}

/// A rate at a time.
public struct RatePoint: Decodable, Sendable {
    /// When.
    public var at: ScenarioTime
    /// Orders per minute.
    public var perMin: Double
}

/// A rate multiplier over a time range (a guest influencer, a coupon).
public struct Surge: Decodable, Sendable {
    /// Start.
    public var from: ScenarioTime
    /// End (exclusive).
    public var to: ScenarioTime
    /// The multiplier, reached linearly over `ramp` from 1.
    public var factor: Double
    /// How long the multiplier takes to reach `factor` (default 0).
    public var ramp: ScenarioTime?
    /// The channels it applies to (default: all).
    public var channels: [String]?
    /// What it is, for the report.
    public var label: String?
}

/// A fixed number of buyers spread evenly over a short time.
public struct Burst: Decodable, Sendable {
    /// Start.
    public var at: ScenarioTime
    /// Spread over this long (default 1 s).
    public var duration: ScenarioTime?
    /// The number of buyers (orders).
    public var orders: Int
    /// The SKU.
    public var sku: String
    /// The channels the buyers come through, in turn (default: all).
    public var channels: [String]?
}

/// What a buyer does after placing an order. The rest of the orders (1 − pay − cancel) stay unpaid and expire.
public struct BuyerModel: Decodable, Sendable {
    /// Units per order, drawn evenly from this range (default [1, 1]).
    public var quantity: [Int64]?
    /// The share of reserved orders that are paid.
    public var payRatio: Double
    /// The share that are cancelled.
    public var cancelRatio: Double
    /// Delay before paying, drawn evenly from this range.
    public var payDelay: [ScenarioTime]
    /// Delay before cancelling.
    public var cancelDelay: ScenarioTime
}

/// An operator action or scripted event, sent over the operator socket as a protocol message.
public struct ScenarioAction: Decodable, Sendable {
    /// `restock`, `hold`, `release`, `pause`, `resume`, `feature`, `switch`, `undo`, `announce`, `policy` or
    /// `note` (recorded only).
    public var type: String
    /// The SKU (default: the focus SKU).
    public var sku: String?
    /// Units (`restock`, `hold`, `release`).
    public var qty: Int64?
    /// Where a restock comes from.
    public var source: String?
    /// Text (`announce`, `note`).
    public var text: String?
    /// Policy fields (`policy`).
    public var policy: PolicyFields?
    /// Multiplies the demand of the SKU's streams from now on (the pitch changed).
    public var demandFactor: Double?

    /// The action types a scenario may use.
    static let types: Set<String> = [
        "restock", "hold", "release", "pause", "resume", "feature", "switch", "undo", "announce", "policy", "note",
    ]
}

/// A scripted event: actions at a fixed time.
public struct ScriptedEvent: Decodable, Sendable {
    /// When.
    public var at: ScenarioTime
    /// What it is, for the report.
    public var label: String?
    /// What is done.
    public var actions: [ScenarioAction]
}

/// An operator reaction: actions scheduled when an alert arrives (or a stock level is reached).
public struct Reaction: Decodable, Sendable {
    /// What triggers it.
    public struct Trigger: Decodable, Sendable {
        /// An alert level raised (`trend`, `threshold`, `emergency`, `soldout`).
        public var level: String?
        /// Or: sellable units at or below this.
        public var sellableAtMost: Int64?
        /// The SKU (default: the focus SKU).
        public var sku: String?
    }

    /// What triggers it.
    public var on: Trigger
    /// The actions happen this long after the trigger, in core time (default 0: the next step).
    public var after: ScenarioTime?
    /// What it is, for the report.
    public var label: String?
    /// What is done.
    public var actions: [ScenarioAction]
    /// Whether it fires only once (default true).
    public var once: Bool?
}

/// A scenario that cannot be used, with the file and field at fault.
public struct ScenarioError: Error, CustomStringConvertible, Sendable {
    /// The file.
    public var file: String
    /// The field path, e.g. `skus[0].onHand`.
    public var field: String
    /// What is wrong.
    public var message: String

    /// `file: field: message`.
    public var description: String { field.isEmpty ? "\(file): \(message)" : "\(file): \(field): \(message)" }

    /// An error naming `file` and `field`.
    public init(file: String, field: String, message: String) {
        self.file = file
        self.field = field
        self.message = message
    }
}

extension Scenario {
    /// Reads and checks a scenario file.
    /// - Throws: ``ScenarioError`` naming the file and field.
    public static func load(path: String) throws -> Scenario {
        let name = (path as NSString).lastPathComponent
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ScenarioError(file: path, field: "", message: "cannot read the file")
        }
        return try decode(data, file: name)
    }

    /// Decodes and checks a scenario.
    /// - Throws: ``ScenarioError`` naming `file` and the field.
    public static func decode(_ data: Data, file: String) throws -> Scenario {
        let scenario: Scenario
        do {
            let decoder = JSONDecoder()
            decoder.allowsJSON5 = true
            scenario = try decoder.decode(Scenario.self, from: data)
        } catch let error as DecodingError {
            throw ScenarioError(decoding: error, file: file)
        } catch {
            throw ScenarioError(file: file, field: "", message: "\(error)")
        }
        try scenario.validate(file: file)
        return scenario
    }

    /// Checks references and ranges.
    func validate(file: String) throws {
        func fail(_ field: String, _ message: String) -> ScenarioError { ScenarioError(file: file, field: field, message: message) }
        guard duration.seconds > 0 else { throw fail("duration", "must be positive") }
        if let step, step.seconds < 1 || step.seconds > 60 { throw fail("step", "must be 1…60 s") }
        if let idleTick, idleTick.seconds < 1 || idleTick.seconds > 300 { throw fail("idleTick", "must be 1…300 s") }
        guard !skus.isEmpty else { throw fail("skus", "at least one SKU is needed") }
        let ids = skus.map(\.id)
        guard Set(ids).count == ids.count else { throw fail("skus", "SKU ids must be unique") }
        for (index, sku) in skus.enumerated() {
            guard !sku.id.isEmpty, sku.id.utf8.count <= 64, !sku.id.contains(where: \.isWhitespace) else {
                throw fail("skus[\(index)].id", "1 to 64 bytes without spaces")
            }
            guard sku.onHand >= 0 else { throw fail("skus[\(index)].onHand", "must be ≥ 0") }
            if let substitute = sku.substitute, !ids.contains(substitute) {
                throw fail("skus[\(index)].substitute", "no SKU '\(substitute)' in skus")
            }
            for (key, value) in sku.policy?.entries ?? [] where !value.isFinite || value < 0 {
                throw fail("skus[\(index)].policy.\(key)", "must be a non-negative number")
            }
        }
        guard ids.contains(focusSku) else { throw fail("focusSku", "no SKU '\(focusSku)' in skus") }
        guard staticRuleBelow > 0 else { throw fail("staticRuleBelow", "must be positive") }
        guard !channels.isEmpty else { throw fail("channels", "at least one channel is needed") }
        let channelIDs = channels.map(\.id)
        guard Set(channelIDs).count == channelIDs.count else { throw fail("channels", "channel ids must be unique") }
        for (index, channel) in channels.enumerated() {
            guard !channel.id.isEmpty, channel.id.utf8.count <= 64 else { throw fail("channels[\(index)].id", "1 to 64 bytes") }
            if let sockets = channel.sockets, !(1...8).contains(sockets) { throw fail("channels[\(index)].sockets", "must be 1…8") }
            if let share = channel.httpShare, !(0...1).contains(share) { throw fail("channels[\(index)].httpShare", "must be 0…1") }
        }
        for (index, stream) in (demand ?? []).enumerated() {
            guard ids.contains(stream.sku) else { throw fail("demand[\(index)].sku", "no SKU '\(stream.sku)' in skus") }
            guard channelIDs.contains(stream.channel) else {
                throw fail("demand[\(index)].channel", "no channel '\(stream.channel)' in channels")
            }
            guard !stream.rate.isEmpty else { throw fail("demand[\(index)].rate", "at least one point is needed") }
            for (point, value) in stream.rate.enumerated() {
                guard value.perMin.isFinite, value.perMin >= 0, value.perMin <= 100_000 else {
                    throw fail("demand[\(index)].rate[\(point)].perMin", "must be 0…100000")
                }
                if point > 0, value.at < stream.rate[point - 1].at {
                    throw fail("demand[\(index)].rate[\(point)].at", "points must be in time order")
                }
            }
        }
        if let noise, !(0...1).contains(noise) { throw fail("noise", "must be 0…1") }
        for (index, surge) in (surges ?? []).enumerated() {
            guard surge.from < surge.to else { throw fail("surges[\(index)].to", "must be after from") }
            guard surge.factor.isFinite, surge.factor >= 0, surge.factor <= 1000 else { throw fail("surges[\(index)].factor", "must be 0…1000") }
            for channel in surge.channels ?? [] where !channelIDs.contains(channel) {
                throw fail("surges[\(index)].channels", "no channel '\(channel)' in channels")
            }
        }
        for (index, burst) in (bursts ?? []).enumerated() {
            guard ids.contains(burst.sku) else { throw fail("bursts[\(index)].sku", "no SKU '\(burst.sku)' in skus") }
            guard (1...10_000_000).contains(burst.orders) else { throw fail("bursts[\(index)].orders", "must be 1…10000000") }
            for channel in burst.channels ?? [] where !channelIDs.contains(channel) {
                throw fail("bursts[\(index)].channels", "no channel '\(channel)' in channels")
            }
        }
        if let quantity = buyers.quantity {
            guard quantity.count == 2, quantity[0] >= 1, quantity[0] <= quantity[1], quantity[1] <= 1000 else {
                throw fail("buyers.quantity", "must be [min, max] with 1 ≤ min ≤ max ≤ 1000")
            }
        }
        guard (0...1).contains(buyers.payRatio) else { throw fail("buyers.payRatio", "must be 0…1") }
        guard (0...1).contains(buyers.cancelRatio), buyers.payRatio + buyers.cancelRatio <= 1 + 1e-9 else {
            throw fail("buyers.cancelRatio", "must be 0…1 and payRatio + cancelRatio ≤ 1")
        }
        guard buyers.payDelay.count == 2, buyers.payDelay[0] <= buyers.payDelay[1] else {
            throw fail("buyers.payDelay", "must be [min, max]")
        }
        func check(_ actions: [ScenarioAction], _ path: String) throws {
            guard !actions.isEmpty else { throw fail(path, "at least one action is needed") }
            for (index, action) in actions.enumerated() {
                let field = "\(path)[\(index)]"
                guard ScenarioAction.types.contains(action.type) else {
                    throw fail("\(field).type", "unknown action '\(action.type)' (\(ScenarioAction.types.sorted().joined(separator: ", ")))")
                }
                if let sku = action.sku, !ids.contains(sku) { throw fail("\(field).sku", "no SKU '\(sku)' in skus") }
                if ["restock", "hold", "release"].contains(action.type) {
                    guard let qty = action.qty, qty >= 1 else { throw fail("\(field).qty", "\(action.type) needs qty ≥ 1") }
                }
                if ["announce", "note"].contains(action.type), (action.text ?? "").isEmpty {
                    throw fail("\(field).text", "\(action.type) needs a text")
                }
                if action.type == "policy", action.policy?.entries.isEmpty ?? true {
                    throw fail("\(field).policy", "policy needs at least one field")
                }
                if let factor = action.demandFactor, !(factor.isFinite && factor >= 0) {
                    throw fail("\(field).demandFactor", "must be ≥ 0")
                }
            }
        }
        for (index, event) in (events ?? []).enumerated() {
            try check(event.actions, "events[\(index)].actions")
        }
        let levels = ["trend", "threshold", "emergency", "soldout"]
        for (index, reaction) in (reactions ?? []).enumerated() {
            let trigger = reaction.on
            guard (trigger.level == nil) != (trigger.sellableAtMost == nil) else {
                throw fail("reactions[\(index)].on", "give exactly one of level and sellableAtMost")
            }
            if let level = trigger.level, !levels.contains(level) {
                throw fail("reactions[\(index)].on.level", "must be one of \(levels.joined(separator: ", "))")
            }
            if let sku = trigger.sku, !ids.contains(sku) { throw fail("reactions[\(index)].on.sku", "no SKU '\(sku)' in skus") }
            try check(reaction.actions, "reactions[\(index)].actions")
        }
    }
}

extension ScenarioError {
    /// The decoding error as a message naming the field path.
    public init(decoding error: DecodingError, file: String) {
        func path(_ codingPath: [any CodingKey]) -> String {
            var text = ""
            for key in codingPath {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return text
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context.codingPath)
            self.init(file: file, field: parent.isEmpty ? key.stringValue : "\(parent).\(key.stringValue)", message: "is required")
        case .typeMismatch(let type, let context):
            self.init(file: file, field: path(context.codingPath), message: "expected \(Self.typeName(type))")
        case .valueNotFound(let type, let context):
            self.init(file: file, field: path(context.codingPath), message: "expected \(Self.typeName(type)), found null")
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            let message = context.codingPath.isEmpty ? "not valid JSON: \(underlying ?? context.debugDescription)" : context.debugDescription
            self.init(file: file, field: path(context.codingPath), message: message)
        @unknown default:
            self.init(file: file, field: "", message: "\(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type, is UInt64.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        default:
            let name = "\(type)"
            return name.hasPrefix("Array") ? "an array" : name.hasPrefix("Dictionary") ? "an object" : "a \(name)"
        }
    }
}
