import LiveGateAlerts
import LiveGateCore
import LiveGateStock

/// The server → client messages of Protocol/README.md, written with ``JSONWriter``.
enum Messages {
    /// Opens a message with its `type`.
    static func begin(_ writer: inout JSONWriter, _ kind: ServerMessageKind) {
        writer.beginObject()
        writer.field("type", kind.rawValue)
    }

    /// Writes a room stream message with the fields every one has (`type`, `room`, `seq`, `rev`); a
    /// `stock` message on the viewers' stream carries the viewers' fields only (``writeSkuFields``).
    static func write(
        _ message: StreamMessage, audience: Audience, room: String, seq: UInt64, rev: UInt64, into writer: inout JSONWriter
    ) {
        begin(&writer, message.kind)
        writer.field("room", room)
        writer.field("seq", seq)
        writer.field("rev", rev)
        switch message {
        case .stock(let sku, let stock, let figures):
            writeSkuFields(&writer, sku: sku, stock: stock, figures: figures, forViewers: audience == .viewer, withName: audience != .viewer)
        case .hint(let sku, let figures):
            let metrics = figures.metrics
            writer.field("sku", sku.id)
            writer.field("canSell", metrics.canSell)
            writer.field("mayFreeUp", metrics.mayFreeUp)
            writer.field("mayFreeUpWithinSec", metrics.mayFreeUpWithinSeconds)
            writer.field("level", level(of: sku.stock, figures: figures).description)
            writer.field("text", figures.hostHint)
            writer.field("substitute", sku.substitute)
        case .roomHint(let sku, let canSell, let level, let text):
            writer.field("sku", sku)
            writer.field("canSell", canSell)
            writer.field("mayFreeUp", Int64(0))
            writer.field("mayFreeUpWithinSec", Int64(0))
            writer.field("level", level.description)
            writer.field("text", text)
            writer.field("substitute", nil as String?)
        case .alert(let id, let event, let name):
            writeAlertFields(&writer, id: id, event: event, name: name)
        case .banner(let sku, let level, let text, let left):
            writer.field("sku", sku)
            writer.field("level", level.description)
            writer.field("text", text)
            writer.field("left", text == nil ? nil : left)
            writer.field("withdrawn", text == nil)
        case .danmaku(let from, let role, let text, let isSystem):
            writer.field("from", from)
            writer.field("role", role)
            writer.field("text", text)
            writer.field("system", isSystem)
        case .featured(let sku):
            writer.field("sku", sku)
        case .launch(let sku, let remaining):
            writer.field("sku", sku)
            writer.field("in", remaining)
        case .ack(let alert, let by):
            writer.field("alert", alert)
            writer.field("by", by)
        case .presence(let presence):
            writePresenceFields(&writer, presence)
        case .policies(let entries):
            writePolicyFields(&writer, entries)
        }
        writer.endObject()
    }

    /// An alert's fields (the `alert` message without `type`, `room`, `seq`, `rev`).
    static func writeAlertFields(_ writer: inout JSONWriter, id: String, event: AlertEvent, name: String) {
        writer.field("id", id)
        writer.field("sku", event.sku)
        writer.field("name", name)
        writer.field("level", event.level.description)
        writer.field("previousLevel", event.previousLevel.description)
        writer.field("transition", event.transition.description)
        writer.field("reason", event.reason.description)
        writer.field("sellable", event.sellable)
        writer.field("ratePerMin", event.ratePerMinute as Double?)
        writer.field("rateLowPerMin", event.ratePerMinute > 0 ? event.metrics.rateLowPerMinute : nil)
        writer.field("rateHighPerMin", event.ratePerMinute > 0 ? event.metrics.rateHighPerMinute : nil)
        writer.field("baselinePerMin", event.metrics.baselineRatePerMinute)
        writer.field("trendScore", event.metrics.trendScore)
        writer.field("trendLimit", event.metrics.trendLimit)
        writer.field("etaSec", event.timeToStockOutSeconds.map { Int64($0.rounded()) })
        writer.field("safetyLine", event.safetyLine)
        writer.field("suggestedAction", "\(event.action)")
        writer.field("suggestedQty", event.suggestedRestockQuantity)
        writer.field("substitute", event.substitute)
        writer.field("at", event.time / 1_000_000)
        writer.field("why", event.why)
    }

    /// `presence`'s fields: connections per role and per page, the last refusal per role.
    static func writePresenceFields(_ writer: inout JSONWriter, _ presence: Presence.Snapshot) {
        writer.key("roles")
        writer.beginObject()
        for (index, role) in Role.allCases.enumerated() { writer.field(role.rawValue.withStaticKey, presence.roles[index]) }
        writer.endObject()
        writer.key("pages")
        writer.beginObject()
        for page in PageKind.allCases { writer.field(page.name.withStaticKey, presence.pages[Int(page.rawValue)]) }
        writer.endObject()
        writer.beginArray("refused")
        for (index, role) in Role.allCases.enumerated() {
            guard let refusal = presence.refused[index] else { continue }
            writer.beginObject()
            writer.field("role", role.rawValue)
            writer.field("page", refusal.page?.name)
            writer.field("sub", refusal.subject)
            writer.field("reason", refusal.reason)
            writer.field("at", refusal.at)
            writer.endObject()
        }
        writer.endArray()
    }

    /// `policies`' fields: the policy field table (so a console can build its editor) and each SKU's values.
    static func writePolicyFields(_ writer: inout JSONWriter, _ entries: [PolicyEntry]) {
        writer.beginArray("fields")
        for field in SkuPolicy.fields {
            writer.beginObject()
            writer.field("name", field.name)
            let kind = switch field.kind {
            case .count: "count"
            case .seconds(_, let whole): whole ? "wholeSeconds" : "seconds"
            case .number: "number"
            }
            writer.field("kind", kind)
            writer.key("min")
            writer.rawNumber(field.minimum)
            writer.field("minExclusive", field.minimumExclusive)
            writer.key("max")
            writer.rawNumber(field.maximum)
            writer.field("summary", field.summary)
            writer.endObject()
        }
        writer.endArray()
        writer.beginArray("skus")
        for entry in entries {
            writer.beginObject()
            writer.field("sku", entry.sku)
            writer.field("substitute", entry.policy.substitute)
            writer.key("values")
            writer.beginObject()
            for field in SkuPolicy.fields { writer.field(field.name.withStaticKey, exactly: entry.policy.value(of: field)) }
            writer.endObject()
            writer.endObject()
        }
        writer.endArray()
    }

    /// A message for one operator right after it joins (`presence`, `policies`): the stream message's
    /// fields without `seq` and `rev`, as it is not numbered on the stream.
    static func writeJoinMessage(_ writer: inout JSONWriter, _ message: StreamMessage, room: String) {
        begin(&writer, message.kind)
        writer.field("room", room)
        switch message {
        case .presence(let presence): writePresenceFields(&writer, presence)
        case .policies(let entries): writePolicyFields(&writer, entries)
        default: break
        }
        writer.endObject()
    }

    /// `alerts`: a room's open alerts (the latest alert of each SKU whose level is not normal, with
    /// `openSince`, or the level alone when it was raised before a restart) and its last alerts, oldest
    /// first, each with `ackedBy`.
    static func writeAlerts(
        _ writer: inout JSONWriter, room: String, open: [AlertLog.Entry], restored: [(sku: SkuState, level: AlertLevel)],
        recent: [AlertLog.Entry]
    ) {
        begin(&writer, .alerts)
        writer.field("room", room)
        writer.beginArray("open")
        for entry in open {
            writer.beginObject()
            writer.rawFields(entry.fields)
            writer.field("openSince", entry.openSince)
            writer.field("ackedBy", entry.acknowledgedBy)
            writer.endObject()
        }
        for (sku, level) in restored {
            writer.beginObject()
            writer.field("id", nil as String?)
            writer.field("sku", sku.id)
            writer.field("name", sku.name)
            writer.field("level", level.description)
            writer.field("sellable", sku.stock?.sellable ?? 0)
            writer.field("openSince", nil as Int64?)
            writer.field("why", "level \(level.description) was raised before the gateway last restarted; its alert is not in memory")
            writer.field("ackedBy", nil as String?)
            writer.endObject()
        }
        writer.endArray()
        writer.beginArray("recent")
        for entry in recent {
            writer.beginObject()
            writer.rawFields(entry.fields)
            writer.field("ackedBy", entry.acknowledgedBy)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
    }

    /// A SKU's fields. Viewers (`forViewers`) get what a public overlay may show: `sku`, `sellable`,
    /// `sold`, `paused` and `level` (and `name` in their snapshot), not the operation's own figures
    /// (stock on hand, reservations, holds, the sales rate and its interval, the time to stock-out),
    /// which also halves the bytes written to each of tens of thousands of viewers per change.
    private static func writeSkuFields(
        _ writer: inout JSONWriter, sku: SkuState, stock: StockPublication?, figures: AlertBatch.Figures? = nil,
        forViewers: Bool = false, withName: Bool = true
    ) {
        writer.field("sku", sku.id)
        if withName { writer.field("name", sku.name) }
        writer.field("sellable", stock?.sellable ?? 0)
        if forViewers {
            writer.field("sold", stock?.sold ?? 0)
            writer.field("paused", stock?.isPaused ?? false)
            writer.field("level", level(of: stock, figures: figures).description)
            return
        }
        writer.field("onHand", stock?.onHand ?? 0)
        writer.field("reserved", stock?.reserved ?? 0)
        writer.field("held", stock?.held ?? 0)
        writer.field("sold", stock?.sold ?? 0)
        writer.field("paused", stock?.isPaused ?? false)
        writer.field("level", level(of: stock, figures: figures).description)
        // Nothing sellable sells nothing: a sold-out SKU shows no rate and no time to stock-out
        // (the rate at which it sold out is in its `alert`).
        let isSoldOut = (stock?.sellable ?? 0) <= 0
        let rate = isSoldOut ? figures.map { _ in 0.0 } : figures?.metrics.ratePerMinute
        writer.field("ratePerMin", rate)
        let hasRate = (rate ?? 0) > 0
        writer.field("rateLowPerMin", hasRate ? figures?.metrics.rateLowPerMinute : nil)
        writer.field("rateHighPerMin", hasRate ? figures?.metrics.rateHighPerMinute : nil)
        writer.field("etaSec", hasRate ? figures?.metrics.timeToStockOutSeconds.map { Int64($0.rounded()) } : nil)
        // Core time (ms) the rate and time to stock-out are for: they are re-sent as time alone
        // moves them, and a page can show their age.
        writer.field("at", figures.map { $0.metrics.time / 1_000_000 })
        writer.field("substitute", sku.substitute)
    }

    /// The level a SKU shows: the alert engine's, except that nothing sellable is always
    /// `soldout` (the figure is newer than the engine's last evaluation).
    static func level(of stock: StockPublication?, figures: AlertBatch.Figures? = nil) -> AlertLevel {
        if let stock, stock.sellable == 0 { return .soldout }
        return figures?.metrics.level ?? .normal
    }

    /// The level as the low bits of a state key (1 for normal … 5 for soldout): conflation
    /// never merges two levels.
    static func levelCode(of stock: StockPublication?, figures: AlertBatch.Figures? = nil) -> UInt32 {
        UInt32(level(of: stock, figures: figures).rawValue) + 1
    }

    /// `snapshot`: the whole room, sent first to every subscriber.
    static func writeSnapshot(
        _ writer: inout JSONWriter, room: RoomRegistry.Room, skus: [(SkuState, AlertBatch.Figures?)], seq: UInt64,
        rev: UInt64, epoch: String, reset: Bool = false, banners: [RoomRegistry.Banner] = [], forViewers: Bool = false
    ) {
        begin(&writer, .snapshot)
        writer.field("room", room.id)
        writer.field("title", room.title)
        writer.field("seq", seq)
        writer.field("rev", rev)
        writer.field("epoch", epoch)
        writer.field("reset", reset)
        writer.field("featured", room.featured)
        writer.beginArray("skus")
        for (sku, figures) in skus {
            writer.beginObject()
            writeSkuFields(&writer, sku: sku, stock: sku.stock, figures: figures, forViewers: forViewers)
            writer.endObject()
        }
        writer.endArray()
        // The banners standing now, so a late joiner (or a reset) shows what viewers see.
        writer.beginArray("banners")
        for banner in banners {
            writer.beginObject()
            writer.field("sku", banner.sku)
            writer.field("level", banner.level.description)
            writer.field("text", banner.text)
            writer.field("left", banner.left)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
    }

    /// `result`: the durable answer to a command or an order, with the client's `id`.
    static func writeResult(
        _ writer: inout JSONWriter, id: String?, command: ClientMessage.Kind, result: StockResult, sku: String?
    ) {
        begin(&writer, .result)
        writer.field("id", id)
        writer.field("command", command.rawValue)
        writer.field("ok", result.outcome.isSuccess)
        writer.field("outcome", result.outcome.wireName)
        writer.field("duplicate", result.isDuplicate)
        writer.field("rev", result.rev)
        if let sku { writer.field("sku", sku) }
        if let stock = result.skus.first {
            writer.field("sellable", stock.sellable)
        }
        writer.endObject()
    }

    /// `result` for a command that does not go through the stock core (announce, ack, drain…).
    static func writeLocalResult(_ writer: inout JSONWriter, id: String?, command: ClientMessage.Kind) {
        begin(&writer, .result)
        writer.field("id", id)
        writer.field("command", command.rawValue)
        writer.field("ok", true)
        writer.field("outcome", "ok")
        writer.endObject()
    }

    /// `error`: what was wrong, and the field at fault when there is one.
    static func writeError(_ writer: inout JSONWriter, id: String?, error: ProtocolError) {
        begin(&writer, .error)
        writer.field("id", id)
        writer.field("code", error.code.rawValue)
        writer.field("message", error.message)
        writer.field("field", error.field)
        writer.endObject()
    }

    /// `pong`: the answer to `ping`.
    static func writePong(_ writer: inout JSONWriter, id: String?) {
        begin(&writer, .pong)
        writer.field("id", id)
        writer.endObject()
    }
}

extension StockOutcome {
    /// The outcome's name on the wire.
    var wireName: String {
        switch self {
        case .reserved: return "reserved"
        case .sold: return "sold"
        case .released: return "released"
        case .tombstoned: return "cancelledBeforePlaced"
        case .insufficient: return "insufficient"
        case .paused: return "paused"
        case .unknownSku: return "unknownSku"
        case .invalidQuantity: return "invalidQuantity"
        case .alreadyCancelled: return "alreadyCancelled"
        case .alreadyExpired: return "alreadyExpired"
        case .alreadySold: return "alreadySold"
        case .alreadyRejected: return "alreadyRejected"
        case .ok: return "ok"
        case .skuExists: return "skuExists"
        case .belowCommitted: return "belowCommitted"
        case .invalidPolicy: return "invalidPolicy"
        case .unavailable: return "unavailable"
        }
    }
}

extension OrderEventKind {
    /// The order `state` on the wire: `placed`, `paid`, `cancelled`.
    var wireName: String {
        switch self {
        case .placed: "placed"
        case .paid: "paid"
        case .cancelled: "cancelled"
        }
    }

    /// The kind named `wireName`, or `nil`.
    init?(wireName: String) {
        switch wireName {
        case "placed": self = .placed
        case "paid": self = .paid
        case "cancelled": self = .cancelled
        default: return nil
        }
    }
}
