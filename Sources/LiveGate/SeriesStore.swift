import Synchronization

/// Every SKU's ``Series`` (sellable, sold and rate over the session, alert markers), for the
/// console's charts (`GET /v1/rooms/{room}/series`).
final class SeriesStore: Sendable {
    private let series = Mutex<[String: Series]>([:])

    /// Records a SKU's figures at `time` (seconds since 1970).
    func record(sku: String, time: Int64, sellable: Int64, sold: Int64, ratePerMin: Double?) {
        series.withLock { $0[sku, default: Series()].record(time: time, sellable: sellable, sold: sold, ratePerMin: ratePerMin) }
    }

    /// Marks an alert level reached at `time`.
    func mark(sku: String, time: Int64, level: String) {
        series.withLock { $0[sku, default: Series()].mark(time: time, level: level) }
    }

    /// Records an operator's action on a SKU at `time` (operator commands only, never orders).
    func act(sku: String, time: Int64, action: String, by: String) {
        series.withLock { $0[sku, default: Series()].act(time: time, action: action, by: by) }
    }

    /// A SKU's series since `since` as JSON (the caller checks that the room has the SKU).
    func json(room: String, sku: String, since: Int64) -> [UInt8] {
        let copy = series.withLock { $0[sku] } ?? Series()
        var writer = JSONWriter(capacity: 64 + 48 * copy.points.count)
        writer.beginObject()
        writer.field("room", room)
        writer.field("sku", sku)
        writer.field("bucketSec", copy.bucketSeconds)
        writer.beginArray("points")
        for point in copy.points(since: since) {
            writer.beginObject()
            writer.field("t", point.time)
            writer.field("sellable", point.sellable)
            writer.field("sold", point.sold)
            writer.field("ratePerMin", point.ratePerMin)
            writer.endObject()
        }
        writer.endArray()
        writer.beginArray("alerts")
        for marker in copy.markers where marker.time >= since {
            writer.beginObject()
            writer.field("t", marker.time)
            writer.field("level", marker.level)
            writer.endObject()
        }
        writer.endArray()
        writer.beginArray("actions")
        for action in copy.actions where action.time >= since {
            writer.beginObject()
            writer.field("t", action.time)
            writer.field("action", action.action)
            writer.field("by", action.by)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.json
    }
}
