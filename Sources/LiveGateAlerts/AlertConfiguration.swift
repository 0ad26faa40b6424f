import LiveGateCore

/// Engine-wide settings: the bucket horizon, the smoothing constant, the launch quiet period, the danmaku
/// rate limit, the default policy and the texts.
///
/// All durations are nanoseconds of core time. Validate with ``validate()`` at config load;
/// ``AlertEngine/init(configuration:)`` requires a valid configuration.
public struct AlertConfiguration: Sendable, Hashable {
    /// How far back the per-SKU ring of one-second buckets reaches, in nanoseconds (whole seconds). It sets the
    /// memory per SKU (`horizon / 1 s` buckets of 4 bytes) and must hold two trend windows. Default 10 minutes.
    public var horizon: Int64
    /// The time constant τ of the exponentially weighted moving average that gives the smoothed ("current")
    /// rate, in nanoseconds. Default 5 minutes, the default trend window: the current rate is then about as
    /// steady as a window's rate (±13 % at 6 units per minute, against ±21 % with 2 minutes), yet it follows a
    /// change continuously rather than in window steps. A surge is caught by the trend level's surge test.
    public var smoothingTime: Int64
    /// After a launch marker, the trend test neither scores nor raises for this long, in nanoseconds, and its
    /// baseline follows the launch's new rate. Default 10 minutes.
    public var launchQuietPeriod: Int64
    /// The least time between two injected danmaku for one SKU, in nanoseconds. Default 10 seconds.
    public var danmakuInterval: Int64
    /// The time constant of the decayed paid and lost (cancelled or expired) counts that give the pay-through
    /// ratio behind ``SkuMetrics/mayFreeUp``, in nanoseconds. Default 30 minutes.
    public var payThroughMemory: Int64
    /// The time constant of the trend level's baseline rate (an EWMA the surge test compares sales with), in
    /// nanoseconds. Long enough that a surge does not become its own baseline before it is caught, short enough
    /// to follow a show's slow changes. Default 2 hours.
    public var trendBaselineTime: Int64 = 120 * SkuPolicy.minute
    /// How long a SKU must have sold before the trend level can fire (the baseline and the dispersion need
    /// history), in nanoseconds. Default 20 minutes.
    public var trendWarmUp: Int64 = 20 * SkuPolicy.minute
    /// The trend test's false-alarm scale, in nanoseconds: its limit is the logarithm of the
    /// dispersion-adjusted sales expected in this time, so that steady sales raise a false trend about once in
    /// this time or less, at any rate. Default 300 hours.
    public var trendFalseAlarmTime: Int64 = 300 * 60 * SkuPolicy.minute
    /// The policy of a SKU added without one.
    public var defaultPolicy: SkuPolicy
    /// Banner, danmaku, host-hint and stock-reply texts, and the stock-question keywords.
    public var templates: AlertTemplates

    /// Creates a configuration; every parameter has the documented default (Chinese texts).
    public init(
        horizon: Int64 = 10 * SkuPolicy.minute,
        smoothingTime: Int64 = 5 * SkuPolicy.minute,
        launchQuietPeriod: Int64 = 10 * SkuPolicy.minute,
        danmakuInterval: Int64 = 10 * SkuPolicy.second,
        payThroughMemory: Int64 = 30 * SkuPolicy.minute,
        defaultPolicy: SkuPolicy = SkuPolicy(),
        templates: AlertTemplates = .chinese
    ) {
        self.horizon = horizon
        self.smoothingTime = smoothingTime
        self.launchQuietPeriod = launchQuietPeriod
        self.danmakuInterval = danmakuInterval
        self.payThroughMemory = payThroughMemory
        self.defaultPolicy = defaultPolicy
        self.templates = templates
    }

    /// The number of one-second buckets per SKU.
    var bucketsPerSku: Int { Int(horizon / SkuPolicy.second) }

    /// Checks the ranges, the default policy and every template.
    ///
    /// - Throws: ``AlertConfigurationError`` naming the bad field, or ``AlertTemplateError`` naming the bad
    ///   template and placeholder.
    public func validate() throws {
        guard horizon >= 2 * SkuPolicy.second, horizon % SkuPolicy.second == 0, horizon <= 24 * 60 * SkuPolicy.minute
        else {
            throw AlertConfigurationError.invalidSetting(field: "horizon", reason: "must be whole seconds between 2 s and 24 h")
        }
        guard smoothingTime >= SkuPolicy.second else {
            throw AlertConfigurationError.invalidSetting(field: "smoothingTime", reason: "must be at least 1 s")
        }
        guard launchQuietPeriod >= 0 else {
            throw AlertConfigurationError.invalidSetting(field: "launchQuietPeriod", reason: "must be ≥ 0")
        }
        guard danmakuInterval >= 0 else {
            throw AlertConfigurationError.invalidSetting(field: "danmakuInterval", reason: "must be ≥ 0")
        }
        guard payThroughMemory >= SkuPolicy.second else {
            throw AlertConfigurationError.invalidSetting(field: "payThroughMemory", reason: "must be at least 1 s")
        }
        guard trendBaselineTime >= SkuPolicy.minute, trendBaselineTime <= 24 * 60 * SkuPolicy.minute else {
            throw AlertConfigurationError.invalidSetting(field: "trendBaselineSeconds", reason: "must be between 1 min and 24 h")
        }
        guard trendWarmUp >= 0, trendWarmUp <= 24 * 60 * SkuPolicy.minute else {
            throw AlertConfigurationError.invalidSetting(field: "trendWarmUpSeconds", reason: "must be between 0 and 24 h")
        }
        guard trendFalseAlarmTime >= 60 * SkuPolicy.minute else {
            throw AlertConfigurationError.invalidSetting(field: "trendFalseAlarmHours", reason: "must be at least 1")
        }
        try check(defaultPolicy)
        try templates.validate()
    }

    /// Checks `policy` against this configuration (two trend windows must fit in ``horizon``).
    ///
    /// - Throws: ``AlertConfigurationError/invalidPolicy(field:reason:)`` naming the first bad field.
    public func check(_ policy: SkuPolicy) throws(AlertConfigurationError) {
        do {
            try policy.validate(horizon: horizon)
        } catch {
            throw .invalidPolicy(field: error.field, reason: error.reason)
        }
    }
}

/// A configuration or policy value out of range.
public enum AlertConfigurationError: Error, Hashable, CustomStringConvertible {
    /// An engine-wide setting is out of range.
    case invalidSetting(field: String, reason: String)
    /// A policy field is out of range.
    case invalidPolicy(field: String, reason: String)
    /// The SKU index is not one the engine handed out.
    case unknownSku(Int)

    /// A one-line explanation naming the field.
    public var description: String {
        switch self {
        case .invalidSetting(let field, let reason): "alerts.\(field): \(reason)"
        case .invalidPolicy(let field, let reason): "alert policy \(field): \(reason)"
        case .unknownSku(let index): "no SKU with alert index \(index)"
        }
    }
}
