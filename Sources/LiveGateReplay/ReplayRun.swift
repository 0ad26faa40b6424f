import Foundation

/// The latest figures of one SKU, from the operator stream's `stock` messages.
public struct StockState: Sendable, Hashable {
    /// Units that can be sold now.
    public var sellable: Int64 = 0
    /// Physical units.
    public var onHand: Int64 = 0
    /// Units in unpaid orders.
    public var reserved: Int64 = 0
    /// Units held back by operators.
    public var held: Int64 = 0
    /// Units paid for.
    public var sold: Int64 = 0
    /// The alert level (`normal`, `trend`, `threshold`, `emergency`, `soldout`).
    public var level = "normal"
    /// The smoothed sales rate, units per minute.
    public var ratePerMin: Double = 0
}

/// An `alert` as the operators received it.
public struct AlertRecord: Sendable, Hashable {
    /// Core time, seconds from the start of the sale.
    public var at: Int64
    /// The SKU.
    public var sku: String
    /// The level after the transition.
    public var level: String
    /// The level before it.
    public var previousLevel: String
    /// `raised`, `lowered` or `recovered`.
    public var transition: String
    /// Why (`surge`, `watchMark`, `safetyLine`, `timeToStockOut`, `soldOut`, `restock`, …).
    public var reason: String
    /// Sellable units at the transition.
    public var sellable: Int64
    /// The smoothed sales rate, units per minute.
    public var ratePerMin: Double
    /// Time to stock-out at that rate, seconds (nil while nothing sells).
    public var etaSec: Int64?
    /// The safety line at the transition.
    public var safetyLine: Int64
    /// What the engine suggests (`prepareStock`, `restockOrChangePitch`, `switchToSubstitute`, `none`).
    public var suggestedAction: String
    /// The suggested restock quantity.
    public var suggestedQty: Int64

    /// Whether this alert raised its level.
    public var isRaise: Bool { transition == "raised" }
}

/// One action the replay sent as an operator (scripted or a reaction), with its outcome.
public struct ActionRecord: Sendable, Hashable {
    /// Core time it was applied, seconds.
    public var at: Int64
    /// The trigger's time (the alert or the script), seconds.
    public var triggeredAt: Int64
    /// What it was, for the report.
    public var label: String
    /// The protocol message type (`restock`, `switch`, …) or `note`.
    public var type: String
    /// The SKU.
    public var sku: String?
    /// Units, where it has them.
    public var qty: Int64?
    /// `ok`, an outcome, or an error code.
    public var outcome: String
}

/// A point of the focus SKU's figures over time.
public struct Sample: Sendable, Hashable {
    /// Seconds.
    public var t: Int64
    /// Sellable units.
    public var sellable: Int64
    /// Units sold.
    public var sold: Int64
    /// The smoothed sales rate, units per minute.
    public var ratePerMin: Double
}

/// Orders of one channel, by outcome.
public struct ChannelTally: Sendable, Hashable {
    /// The channel id.
    public var channel: String
    /// Orders placed (buyers).
    public var placed = 0
    /// Placed orders that got an answer.
    public var answered = 0
    /// Placed orders sent over HTTP.
    public var viaHTTP = 0
    /// Outcomes of the placed orders (`reserved`, `insufficient`, …).
    public var placedOutcomes: [String: Int] = [:]
    /// Units sold by `paid` events.
    public var paidUnits: Int64 = 0
    /// Orders paid.
    public var paid = 0
    /// Orders cancelled.
    public var cancelled = 0
    /// Reserved orders left unpaid (they expire in the core).
    public var leftUnpaid = 0
}

/// What one replay run produced: the facts the report is made of.
public struct ReplayRun: Sendable {
    /// The scenario's name.
    public var scenario: String
    /// The focus SKU.
    public var focusSku: String
    /// The focus SKU's policy fields as run.
    public var policy: [(String, Double)]
    /// Whether the policy was a what-if override.
    public var isWhatIf: Bool
    /// Speed (nil: max).
    public var speed: Double?
    /// Every alert of every SKU, in arrival order.
    public var alerts: [AlertRecord]
    /// Operator actions, in order.
    public var actions: [ActionRecord]
    /// The focus SKU's figures at every step.
    public var samples: [Sample]
    /// The static rule's line.
    public var staticRuleBelow: Int64
    /// When "remaining < staticRuleBelow" first held for the focus SKU, seconds.
    public var staticRuleAt: Int64?
    /// When the focus SKU sold out for good (its last `soldout` alert), seconds.
    public var soldOutAt: Int64?
    /// Orders per channel.
    public var channels: [ChannelTally]
    /// Final figures per SKU.
    public var finalStock: [String: StockState]
    /// Units on hand at the start plus units restocked, per SKU.
    public var supplied: [String: Int64]
    /// The largest excess of committed units over units on hand seen for any SKU in any `stock` message on
    /// the operator stream, which carries every change of every SKU of the room (≤ 0: none).
    public var worstOversell: Int64
    /// Real seconds the run took.
    public var wallSeconds: Double
    /// Scenario duration, seconds.
    public var duration: Int64
    /// An alert raise counts as a false alarm if no sell-out follows within this many seconds.
    public var falseAlarmHorizon: Int64
    /// Messages received per audience and type.
    public var messageCounts: [String: [String: Int]]
    /// Banner texts viewers saw.
    public var banners: [String]
    /// events.jsonl, one JSON object per line.
    public var eventLines: [String]

    /// The oversell count: units sold or committed beyond stock (0 when nothing was oversold).
    public var oversell: Int64 {
        var worst = max(0, worstOversell)
        for (sku, state) in finalStock { worst = max(worst, state.sold - (supplied[sku] ?? 0)) }
        return worst
    }

    /// The first alert raising `level` for the focus SKU.
    public func firstRaise(_ level: String) -> AlertRecord? {
        alerts.first { $0.sku == focusSku && $0.level == level && $0.isRaise }
    }

    /// Raises of the focus SKU at trend or above that no sell-out followed within the horizon.
    public var falseAlarms: [AlertRecord] {
        alerts.filter { alert in
            guard alert.sku == focusSku, alert.isRaise, alert.level != "soldout" else { return false }
            guard let soldOutAt else { return true }
            return soldOutAt < alert.at || soldOutAt - alert.at > falseAlarmHorizon
        }
    }

    /// Orders placed and answered over every channel.
    public var ordersPlaced: Int { channels.reduce(0) { $0 + $1.placed } }
    /// Orders answered.
    public var ordersAnswered: Int { channels.reduce(0) { $0 + $1.answered } }
}
