/// How urgent a SKU's stock situation is, from calm to sold out.
///
/// The raw values are ordered by severity and are part of the snapshot encoding: never renumber them.
/// A SKU's level is the most severe of its latched conditions (see ``AlertDebouncer``).
public enum AlertLevel: UInt8, Sendable, Hashable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    /// Nothing to report.
    case normal = 0
    /// The sales rate is accelerating (or sold units crossed the watch mark): operators should prepare stock.
    case trend = 1
    /// Sellable units are at or below the safety line: restock or change the pitch.
    case threshold = 2
    /// Stock runs out before a restock could arrive, or sellable units are at or below the emergency line:
    /// switch to the substitute.
    case emergency = 3
    /// No sellable units are left.
    case soldout = 4

    /// The levels that are latched conditions, from the least to the most severe (all but ``normal``).
    public static let latched: [AlertLevel] = [.trend, .threshold, .emergency, .soldout]

    /// Compares by severity.
    public static func < (lhs: AlertLevel, rhs: AlertLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Whether viewers see a banner at this level (threshold, emergency, soldout).
    public var showsBanner: Bool { self >= .threshold }

    /// The level's name as used in the protocol and config: `normal`, `trend`, `threshold`, `emergency`, `soldout`.
    public var description: String {
        switch self {
        case .normal: "normal"
        case .trend: "trend"
        case .threshold: "threshold"
        case .emergency: "emergency"
        case .soldout: "soldout"
        }
    }
}

/// The direction of a level change.
public enum AlertTransition: UInt8, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The level rose (for example normal → trend, threshold → soldout).
    case raised = 1
    /// The level fell but is still above normal (for example soldout → emergency after a small restock).
    case lowered = 2
    /// The level fell back to normal: the alert is over and any viewer banner is withdrawn.
    case recovered = 3

    /// The transition's name: `raised`, `lowered`, `recovered`.
    public var description: String {
        switch self {
        case .raised: "raised"
        case .lowered: "lowered"
        case .recovered: "recovered"
        }
    }
}

/// What the engine suggests the room should do at a level.
public enum SuggestedAction: UInt8, Sendable, Hashable, Codable, CustomStringConvertible {
    /// Nothing (normal).
    case none = 0
    /// Trend: prepare stock; see ``AlertEvent/suggestedRestockQuantity``.
    case prepareStock = 1
    /// Threshold: restock now, or change the pitch.
    case restockOrChangePitch = 2
    /// Emergency or sold out: the host switches to the substitute SKU (if one is configured) and operators restock.
    case switchToSubstitute = 3

    /// The action suggested at `level`.
    public init(level: AlertLevel) {
        switch level {
        case .normal: self = .none
        case .trend: self = .prepareStock
        case .threshold: self = .restockOrChangePitch
        case .emergency, .soldout: self = .switchToSubstitute
        }
    }

    /// The action's protocol name: `none`, `prepareStock`, `restockOrChangePitch`, `switchToSubstitute`.
    public var description: String {
        switch self {
        case .none: "none"
        case .prepareStock: "prepareStock"
        case .restockOrChangePitch: "restockOrChangePitch"
        case .switchToSubstitute: "switchToSubstitute"
        }
    }
}

/// What to do with the viewers' scarcity banner for a SKU.
public enum BannerUpdate: Sendable, Hashable {
    /// Leave the banner as it is.
    case unchanged
    /// Show (or replace) the banner with this rendered text.
    case show(String)
    /// Withdraw the banner (the level fell below threshold).
    case withdraw
}
