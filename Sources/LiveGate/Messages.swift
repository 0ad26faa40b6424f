import LiveGateAlerts
import LiveGateStock

/// The server → client messages of Protocol/README.md, written with ``JSONWriter``.
enum Messages {
    /// Opens a room stream message: `type`, `room`, `seq` and `rev`, the fields every one has.
    static func beginStreamMessage(_ writer: inout JSONWriter, type: StaticString, room: String, seq: UInt64, rev: UInt64) {
        writer.beginObject()
        writer.field("type", type.description)
        writer.field("room", room)
        writer.field("seq", seq)
        writer.field("rev", rev)
    }

    /// `featured`: the SKU the host now pitches.
    static func writeFeatured(_ writer: inout JSONWriter, room: String, seq: UInt64, rev: UInt64, sku: String) {
        beginStreamMessage(&writer, type: "featured", room: room, seq: seq, rev: rev)
        writer.field("sku", sku)
        writer.endObject()
    }

    /// `stock`: one SKU's figures after a durable change.
    static func writeStock(
        _ writer: inout JSONWriter, room: String, seq: UInt64, rev: UInt64, sku: Hub.SkuState, stock: StockPublication,
        figures: AlertBatch.Figures? = nil
    ) {
        Messages.beginStreamMessage(&writer, type: "stock", room: room, seq: seq, rev: rev)
        writeSkuFields(&writer, sku: sku, stock: stock, figures: figures)
        writer.endObject()
    }

    private static func writeSkuFields(
        _ writer: inout JSONWriter, sku: Hub.SkuState, stock: StockPublication?, figures: AlertBatch.Figures? = nil
    ) {
        writer.field("sku", sku.id)
        writer.field("name", sku.name)
        writer.field("sellable", stock?.sellable ?? 0)
        writer.field("onHand", stock?.onHand ?? 0)
        writer.field("reserved", stock?.reserved ?? 0)
        writer.field("held", stock?.held ?? 0)
        writer.field("sold", stock?.sold ?? 0)
        writer.field("paused", stock?.isPaused ?? false)
        writer.field("level", level(of: stock, figures: figures))
        writer.field("ratePerMin", figures?.metrics.ratePerMinute)
        writer.field("etaSec", figures?.metrics.timeToStockOutSeconds.map { Int64($0.rounded()) })
        writer.field("substitute", sku.substitute)
    }

    /// The level a SKU shows: the alert engine's, except that nothing sellable is always
    /// `soldout` (the figure is newer than the engine's last evaluation).
    static func level(of stock: StockPublication?, figures: AlertBatch.Figures? = nil) -> String {
        if let stock, stock.sellable == 0 { return "soldout" }
        return figures?.metrics.level.description ?? "normal"
    }

    /// The level as the low bits of a state key: conflation never merges two levels.
    static func levelCode(of stock: StockPublication?, figures: AlertBatch.Figures? = nil) -> UInt32 {
        switch level(of: stock, figures: figures) {
        case "trend": return 2
        case "threshold": return 3
        case "emergency": return 4
        case "soldout": return 5
        default: return 1
        }
    }

    /// `alert`: a level transition, for operators.
    static func writeAlert(
        _ writer: inout JSONWriter, room: String, seq: UInt64, rev: UInt64, id: String, event: AlertEvent, name: String
    ) {
        Messages.beginStreamMessage(&writer, type: "alert", room: room, seq: seq, rev: rev)
        writer.field("id", id)
        writer.field("sku", event.sku)
        writer.field("name", name)
        writer.field("level", event.level.description)
        writer.field("previousLevel", event.previousLevel.description)
        writer.field("transition", "\(event.transition)")
        writer.field("reason", event.reason.description)
        writer.field("sellable", event.sellable)
        writer.field("ratePerMin", event.ratePerMinute as Double?)
        writer.field("etaSec", event.timeToStockOutSeconds.map { Int64($0.rounded()) })
        writer.field("safetyLine", event.safetyLine)
        writer.field("suggestedAction", "\(event.action)")
        writer.field("suggestedQty", event.suggestedRestockQuantity)
        writer.field("substitute", event.substitute)
        writer.field("at", event.time / 1_000_000)
        writer.endObject()
    }

    /// `hint`: what the host may promise for a SKU.
    static func writeHint(
        _ writer: inout JSONWriter, room: String, seq: UInt64, rev: UInt64, sku: Hub.SkuState, figures: AlertBatch.Figures
    ) {
        let metrics = figures.metrics
        Messages.beginStreamMessage(&writer, type: "hint", room: room, seq: seq, rev: rev)
        writer.field("sku", sku.id)
        writer.field("canSell", metrics.canSell)
        writer.field("mayFreeUp", metrics.mayFreeUp)
        writer.field("mayFreeUpWithinSec", metrics.mayFreeUpWithinSeconds)
        writer.field("level", level(of: sku.stock, figures: figures))
        writer.field("text", figures.hostHint)
        writer.field("substitute", sku.substitute)
        writer.endObject()
    }

    /// `launch`: the countdown to a launch (`remaining` seconds; 0: sales are open).
    static func writeLaunch(_ writer: inout JSONWriter, room: String, seq: UInt64, rev: UInt64, sku: String, remaining: Int64) {
        Messages.beginStreamMessage(&writer, type: "launch", room: room, seq: seq, rev: rev)
        writer.field("sku", sku)
        writer.field("in", remaining)
        writer.endObject()
    }

    /// `banner`: the viewers' scarcity banner for a SKU, or its withdrawal.
    static func writeBanner(
        _ writer: inout JSONWriter, room: String, seq: UInt64, rev: UInt64, sku: String, level: String, text: String?,
        withdrawn: Bool
    ) {
        Messages.beginStreamMessage(&writer, type: "banner", room: room, seq: seq, rev: rev)
        writer.field("sku", sku)
        writer.field("level", level)
        writer.field("text", text)
        writer.field("withdrawn", withdrawn)
        writer.endObject()
    }

    /// `snapshot`: the whole room, sent first to every subscriber.
    static func writeSnapshot(
        _ writer: inout JSONWriter, room: Hub.RoomState, skus: [String: Hub.SkuState],
        figures: [String: AlertBatch.Figures] = [:], seq: UInt64, rev: UInt64, epoch: String, reset: Bool = false
    ) {
        writer.beginObject()
        writer.field("type", "snapshot")
        writer.field("room", room.id)
        writer.field("title", room.title)
        writer.field("seq", seq)
        writer.field("rev", rev)
        writer.field("epoch", epoch)
        writer.field("reset", reset)
        writer.field("featured", room.featured)
        writer.beginArray("skus")
        for id in room.skus {
            guard let sku = skus[id] else { continue }
            writer.beginObject()
            writeSkuFields(&writer, sku: sku, stock: sku.stock, figures: figures[id])
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
    }

    /// `result`: the durable answer to a command or an order, with the client's `id`.
    static func writeResult(_ writer: inout JSONWriter, id: String?, command: String, result: StockResult, sku: String?) {
        writer.beginObject()
        writer.field("type", "result")
        writer.field("id", id)
        writer.field("command", command)
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

    /// `result` for a command that does not go through the stock core (feature, announce).
    static func writeLocalResult(_ writer: inout JSONWriter, id: String?, command: String) {
        writer.beginObject()
        writer.field("type", "result")
        writer.field("id", id)
        writer.field("command", command)
        writer.field("ok", true)
        writer.field("outcome", "ok")
        writer.endObject()
    }

    /// `error`: what was wrong, and the field at fault when there is one.
    static func writeError(_ writer: inout JSONWriter, id: String?, error: ProtocolError) {
        writer.beginObject()
        writer.field("type", "error")
        writer.field("id", id)
        writer.field("code", error.code)
        writer.field("message", error.message)
        writer.field("field", error.field)
        writer.endObject()
    }

    /// `danmaku`: a chat line, or a system line (announcement, auto-reply).
    static func writeDanmaku(
        _ writer: inout JSONWriter, room: String, seq: UInt64, rev: UInt64, from: String, role: String, text: String,
        isSystem: Bool
    ) {
        Messages.beginStreamMessage(&writer, type: "danmaku", room: room, seq: seq, rev: rev)
        writer.field("from", from)
        writer.field("role", role)
        writer.field("text", text)
        writer.field("system", isSystem)
        writer.endObject()
    }
}

/// A refused client message: a stable `code`, a sentence, and the offending field.
struct ProtocolError: Error, Equatable {
    let code: String
    let message: String
    let field: String?

    init(_ code: String, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    static func badField(_ field: String, _ message: String) -> ProtocolError {
        ProtocolError("badField", message, field: field)
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
