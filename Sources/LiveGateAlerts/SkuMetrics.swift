import LiveGateCore
/// A SKU's live figures at one instant of core time: what every `stock` publication carries, and what an
/// ``AlertEvent`` is built from.
///
/// Rates are in units per minute, times in seconds, quantities in units.
public struct SkuMetrics: Sendable, Hashable {
    /// The SKU's index in the engine.
    public var skuIndex: Int
    /// The SKU id.
    public var sku: String
    /// Core time the figures are for, in nanoseconds.
    public var time: Int64
    /// The SKU's current level.
    public var level: AlertLevel
    /// Sellable units, as last observed.
    public var sellable: Int64
    /// Units reserved by unpaid orders, as last observed.
    public var reserved: Int64
    /// Units sold, as last observed.
    public var sold: Int64
    /// Units the host may still promise: sellable units.
    public var canSell: Int64
    /// Unpaid reserved units that will probably come back: `reserved × (1 − pay-through ratio)`, rounded.
    public var mayFreeUp: Int64
    /// The time within which they may come back, in seconds: the reservation timeout (an upper bound).
    public var mayFreeUpWithinSeconds: Int64
    /// Demand over the recent window (the last ``SkuPolicy/trendWindow``), units per minute.
    public var recentRatePerMinute: Double
    /// Demand over the window before it, units per minute.
    public var previousRatePerMinute: Double
    /// The smoothed current rate (EWMA, see ``AlertEngine``), units per minute; 0 when nothing sold in the
    /// recent window. The rate the safety line, time to stock-out and restock suggestion use.
    public var ratePerMinute: Double
    /// `(recent − previous) / window`, in units per minute per minute.
    public var accelerationPerMinute: Double
    /// `sellable / rate`, in seconds; nil when the rate is zero.
    public var timeToStockOutSeconds: Double?
    /// `max(safetyMinimum, ceil(rate × restockLeadTime × safetyFactor))`, in units.
    public var safetyLine: Int64
    /// `ceil(rate × restockLeadTime − sellable)`, at least 0 and at most one more lot (`max(onHand, safetyMinimum)`,
    /// `onHand` counting the units sold): what to order now to last until a restock arrives.
    public var suggestedRestockQuantity: Int64
    /// The low end of the rate's 98 % interval, units per minute (0 when the rate is 0): the cautious rate the
    /// emergency level's time to stock-out uses.
    public var rateLowPerMinute: Double = 0
    /// The high end of the rate's 98 % interval, units per minute.
    public var rateHighPerMinute: Double = 0
    /// The trend test's baseline rate, units per minute (an EWMA over ``AlertConfiguration/trendBaselineTime``).
    public var baselineRatePerMinute: Double = 0
    /// The trend test's score (a dispersion-adjusted log-likelihood ratio, see ``SurgeDetector``).
    public var trendScore: Double = 0
    /// The score's limit: trend is raised when the score reaches it.
    public var trendLimit: Double = 0
    /// The variance of the per-minute sales count over its mean (1 for Poisson sales).
    public var dispersion: Double = 1
    /// Whether the trend test has a baseline yet (see ``AlertConfiguration/trendWarmUp``).
    public var trendArmed: Bool = false
    /// The recent window's rate divided by the previous window's, or nil when the previous window sold nothing.
    public var rateRatio: Double? {
        previousRatePerMinute > 0 ? recentRatePerMinute / previousRatePerMinute : nil
    }
}
