import LiveGateAlerts
import LiveGateCore
import LiveGateStock

/// The `type` of every message the server sends (Protocol/README.md); the raw value is what
/// goes on the wire.
enum ServerMessageKind: String, Sendable, CaseIterable {
    case snapshot, stock, alert, hint, banner, featured, launch, danmaku, ack, presence, policies
    /// Sent to an operator right after its snapshot (or resumed messages) only: open alerts and history.
    case alerts
    case result, error, pong
}

/// A message on a room stream, before it is numbered and encoded: what a publisher hands the
/// ``StreamHub``, which gives it its `seq` and `rev` and encodes it once for every subscriber.
enum StreamMessage: Sendable, Equatable {
    /// One SKU's figures after a durable change.
    case stock(SkuState, StockPublication, AlertBatch.Figures?)
    /// What the host may promise for a SKU, from the alert engine's figures.
    case hint(SkuState, AlertBatch.Figures)
    /// A hint written by the room itself (the switch to a substitute, its undo).
    case roomHint(sku: String, canSell: Int64, level: AlertLevel, text: String)
    /// A level transition, for operators.
    case alert(id: String, event: AlertEvent, name: String)
    /// The viewers' scarcity banner for a SKU (`text`, rendered with `left` sellable units), or
    /// its withdrawal (`nil`). Re-sent with the new figure while it stands (at most two a second).
    case banner(sku: String, level: AlertLevel, text: String?, left: Int64?)
    /// A chat line, or a system line (announcement, auto-reply, alert).
    case danmaku(from: String, role: String, text: String, isSystem: Bool)
    /// The SKU the host now pitches.
    case featured(sku: String)
    /// The launch countdown: `remaining` seconds; 0: sales are open.
    case launch(sku: String, remaining: Int64)
    /// An operator acknowledged an alert.
    case ack(alert: String, by: String)
    /// Who is connected to the room (operators; throttled).
    case presence(Presence.Snapshot)
    /// SKU policies after a change (operators).
    case policies([PolicyEntry])

    /// The message's `type`.
    var kind: ServerMessageKind {
        switch self {
        case .stock: .stock
        case .hint, .roomHint: .hint
        case .alert: .alert
        case .banner: .banner
        case .danmaku: .danmaku
        case .featured: .featured
        case .launch: .launch
        case .ack: .ack
        case .presence: .presence
        case .policies: .policies
        }
    }

    /// A system line from livegate itself.
    static func systemLine(_ text: String) -> StreamMessage {
        .danmaku(from: "livegate", role: "system", text: text, isSystem: true)
    }
}

/// A SKU's policy as the `policies` message carries it.
struct PolicyEntry: Sendable, Equatable {
    var sku: String
    var policy: SkuPolicy
}
