/// The per-SKU knobs of the alert engine.
///
/// Defaults come from the config (``AlertConfiguration/defaultPolicy``); a SKU's policy changes only through
/// the stock core's journaled `setPolicy`, which calls ``AlertEngine/setPolicy(_:forSku:at:into:)``.
/// The field names match the stock core's `SkuPolicy` where the two overlap. All durations are
/// **nanoseconds of core time** (`Int64`), like every time in this module.
public struct AlertPolicy: Sendable, Hashable, Codable {
    /// One second in nanoseconds of core time.
    public static let second: Int64 = 1_000_000_000
    /// One minute in nanoseconds of core time.
    public static let minute: Int64 = 60 * second

    /// The smallest safety line in sellable units; the safety line is never below it. "Safety" in a
    /// what-if run means this value. Default 20.
    public var safetyMinimum: Int64
    /// How long a restock takes to arrive, in nanoseconds. Drives the safety line and the emergency level.
    /// Default 30 minutes.
    public var restockLeadTime: Int64
    /// The safety line is `max(safetyMinimum, ceil(rate × restockLeadTime × safetyFactor))`. Default 1.5.
    public var safetyFactor: Double
    /// Trend level: the recent window's sales must be at least this many times the previous window's (k).
    /// Default 2.
    public var trendFactor: Double
    /// The length of each of the two velocity windows (recent and previous), in nanoseconds, a whole number of
    /// seconds, at most half of ``AlertConfiguration/horizon``. Default 5 minutes.
    public var trendWindow: Int64
    /// Trend level: the minimum units sold in the recent window for an acceleration to count. Default 10.
    public var trendMinimumVolume: Int64
    /// Trend level: also raised when the sold count crosses this mark; 0 turns the mark off. Default 0.
    public var watchMark: Int64
    /// Emergency level: also raised when sellable units are at or below this line. Default 5.
    public var emergencyLine: Int64
    /// The minimum time a level is held once raised, in nanoseconds, unless a restock lifts it; hence a
    /// level is raised at most once per cooldown. Default 5 minutes.
    public var cooldown: Int64
    /// How far past its line a condition must clear before the level falls, as a fraction of the line
    /// (0.2 = 20 %; unit lines clear by at least one unit). Default 0.2.
    public var hysteresisMargin: Double
    /// How long an unpaid reservation holds stock, in nanoseconds (the stock core expires it). Used to say
    /// within how long unpaid units may free up. Default 15 minutes.
    public var reservationTimeout: Int64
    /// The SKU id the host should switch to at emergency and sold out, if any. Default nil.
    public var substitute: String?

    /// Creates a policy; every parameter has the documented default.
    public init(
        safetyMinimum: Int64 = 20,
        restockLeadTime: Int64 = 30 * AlertPolicy.minute,
        safetyFactor: Double = 1.5,
        trendFactor: Double = 2,
        trendWindow: Int64 = 5 * AlertPolicy.minute,
        trendMinimumVolume: Int64 = 10,
        watchMark: Int64 = 0,
        emergencyLine: Int64 = 5,
        cooldown: Int64 = 5 * AlertPolicy.minute,
        hysteresisMargin: Double = 0.2,
        reservationTimeout: Int64 = 15 * AlertPolicy.minute,
        substitute: String? = nil
    ) {
        self.safetyMinimum = safetyMinimum
        self.restockLeadTime = restockLeadTime
        self.safetyFactor = safetyFactor
        self.trendFactor = trendFactor
        self.trendWindow = trendWindow
        self.trendMinimumVolume = trendMinimumVolume
        self.watchMark = watchMark
        self.emergencyLine = emergencyLine
        self.cooldown = cooldown
        self.hysteresisMargin = hysteresisMargin
        self.reservationTimeout = reservationTimeout
        self.substitute = substitute
    }

    /// The trend window in whole seconds.
    var trendWindowSeconds: Int { Int(trendWindow / AlertPolicy.second) }

    /// Checks every field's range against a bucket horizon.
    ///
    /// - Parameter horizon: the configuration's bucket horizon in nanoseconds; two trend windows must fit in it.
    /// - Throws: ``AlertConfigurationError/invalidPolicy(field:reason:)`` naming the first bad field.
    public func validate(horizon: Int64) throws(AlertConfigurationError) {
        /// The error naming `field`.
        func fail(_ field: String, _ reason: String) -> AlertConfigurationError {
            .invalidPolicy(field: field, reason: reason)
        }
        guard safetyMinimum >= 0 else { throw fail("safetyMinimum", "must be ≥ 0") }
        guard restockLeadTime >= 0 else { throw fail("restockLeadTime", "must be ≥ 0") }
        guard safetyFactor.isFinite, safetyFactor >= 0 else { throw fail("safetyFactor", "must be finite and ≥ 0") }
        guard trendFactor.isFinite, trendFactor > 1 else { throw fail("trendFactor", "must be finite and > 1") }
        guard trendWindow >= AlertPolicy.second, trendWindow % AlertPolicy.second == 0 else {
            throw fail("trendWindow", "must be a whole number of seconds, at least one")
        }
        guard 2 * trendWindow <= horizon else {
            throw fail("trendWindow", "two windows (\(2 * trendWindow / AlertPolicy.second) s) exceed the horizon (\(horizon / AlertPolicy.second) s)")
        }
        guard trendMinimumVolume >= 0 else { throw fail("trendMinimumVolume", "must be ≥ 0") }
        guard watchMark >= 0 else { throw fail("watchMark", "must be ≥ 0 (0 = off)") }
        guard emergencyLine >= 0 else { throw fail("emergencyLine", "must be ≥ 0") }
        guard cooldown >= 0 else { throw fail("cooldown", "must be ≥ 0") }
        guard hysteresisMargin.isFinite, hysteresisMargin >= 0, hysteresisMargin <= 10 else {
            throw fail("hysteresisMargin", "must be between 0 and 10")
        }
        guard reservationTimeout > 0 else { throw fail("reservationTimeout", "must be > 0") }
    }
}

/// The numeric fields of an ``AlertPolicy``, without the substitute's string: what the per-event path reads, so
/// copying a SKU's policy there neither retains nor goes through a value witness.
struct PolicyFigures: Sendable, Hashable {
    /// ``AlertPolicy/safetyMinimum``.
    var safetyMinimum: Int64
    /// ``AlertPolicy/restockLeadTime``.
    var restockLeadTime: Int64
    /// ``AlertPolicy/safetyFactor``.
    var safetyFactor: Double
    /// ``AlertPolicy/trendFactor``.
    var trendFactor: Double
    /// ``AlertPolicy/trendWindow``.
    var trendWindow: Int64
    /// ``AlertPolicy/trendMinimumVolume``.
    var trendMinimumVolume: Int64
    /// ``AlertPolicy/watchMark``.
    var watchMark: Int64
    /// ``AlertPolicy/emergencyLine``.
    var emergencyLine: Int64
    /// ``AlertPolicy/cooldown``.
    var cooldown: Int64
    /// ``AlertPolicy/hysteresisMargin``.
    var hysteresisMargin: Double
    /// ``AlertPolicy/reservationTimeout``.
    var reservationTimeout: Int64

    /// Copies the numeric fields of `policy`.
    init(_ policy: AlertPolicy) {
        safetyMinimum = policy.safetyMinimum
        restockLeadTime = policy.restockLeadTime
        safetyFactor = policy.safetyFactor
        trendFactor = policy.trendFactor
        trendWindow = policy.trendWindow
        trendMinimumVolume = policy.trendMinimumVolume
        watchMark = policy.watchMark
        emergencyLine = policy.emergencyLine
        cooldown = policy.cooldown
        hysteresisMargin = policy.hysteresisMargin
        reservationTimeout = policy.reservationTimeout
    }
}
