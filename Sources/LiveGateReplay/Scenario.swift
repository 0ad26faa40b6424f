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
