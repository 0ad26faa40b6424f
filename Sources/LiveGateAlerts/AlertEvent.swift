/// Why a level was raised or held: the condition that fired.
public enum AlertReason: UInt8, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The level fell; no condition holds at the new level beyond the ones already reported.
    case cleared = 0
    /// Trend: the surge test's score reached its limit (sales run above the baseline rate), on the minimum volume.
    case surge = 1
    /// Trend: the sold count crossed the watch mark.
    case watchMark = 2
    /// Threshold: sellable at or below the safety line.
    case safetyLine = 3
    /// Emergency: time to stock-out below the restock lead time.
    case timeToStockOut = 4
    /// Emergency: sellable at or below the emergency line.
    case emergencyLine = 5
    /// Sold out: nothing sellable.
    case soldOut = 6
    /// A restock (or release, or upward count) lifted the level.
    case restock = 7

    /// The reason's protocol name.
    public var description: String {
        switch self {
        case .cleared: "cleared"
        case .surge: "surge"
        case .watchMark: "watchMark"
        case .safetyLine: "safetyLine"
        case .timeToStockOut: "timeToStockOut"
        case .emergencyLine: "emergencyLine"
        case .soldOut: "soldOut"
        case .restock: "restock"
        }
    }
}

/// One level transition of one SKU: what operators, the host and viewers are told.
///
/// Audience by level: trend → operators; threshold → operators, host hint, viewers (banner + danmaku);
/// emergency and soldout → all, with the substitute. A transition to a lower level carries the lower level's
/// banner (or a withdrawal) and no danmaku.
public struct AlertEvent: Sendable, Hashable {
    /// The SKU's index in the engine.
    public var skuIndex: Int
    /// The SKU id.
    public var sku: String
    /// The new level.
    public var level: AlertLevel
    /// The level before.
    public var previousLevel: AlertLevel
    /// Raised, lowered or recovered.
    public var transition: AlertTransition
    /// The condition behind the new level (``AlertReason/cleared`` or ``AlertReason/restock`` when it fell).
    public var reason: AlertReason
    /// Core time of the transition, in nanoseconds.
    public var time: Int64
    /// The figures at the transition.
    public var metrics: SkuMetrics
    /// What the room should do.
    public var action: SuggestedAction
    /// The substitute SKU id from the policy, at emergency and sold out; nil otherwise or when none is set.
    public var substitute: String?
    /// What to do with the viewers' banner.
    public var banner: BannerUpdate
    /// The danmaku to inject, when the level was raised to threshold or above and the SKU's danmaku rate limit
    /// allowed it; nil otherwise.
    public var danmaku: String?
    /// The host's rendered hint ("can sell 23 now, …").
    public var hostHint: String
    /// Why, in figures an operator can judge: the rates, the statistic and its limit, the line crossed.
    public var why: String = ""

    /// Sellable units at the transition.
    public var sellable: Int64 { metrics.sellable }
    /// The current rate at the transition, units per minute.
    public var ratePerMinute: Double { metrics.ratePerMinute }
    /// Time to stock-out at the transition, seconds; nil when the rate is zero.
    public var timeToStockOutSeconds: Double? { metrics.timeToStockOutSeconds }
    /// The safety line at the transition, units.
    public var safetyLine: Int64 { metrics.safetyLine }
    /// The suggested restock quantity at the transition, units.
    public var suggestedRestockQuantity: Int64 { metrics.suggestedRestockQuantity }
}
