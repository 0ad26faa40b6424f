import Foundation
import LiveGateStock

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
