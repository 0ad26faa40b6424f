import Synchronization

/// Every SKU's ``Series`` (sellable, sold and rate over the session, alert markers), for the
/// console's charts (`GET /v1/rooms/{room}/series`).
final class SeriesStore: Sendable {
    /// Every SKU's series, behind one lock.
    private struct State: Sendable {
        var series: [String: Series] = [:]
        /// Bumped by every change (the archive writes only when it moved).
        var generation: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Records a SKU's figures at `time` (seconds since 1970).
    func record(sku: String, time: Int64, sellable: Int64, sold: Int64, ratePerMin: Double?) {
        state.withLock { state in
            state.series[sku, default: Series()].record(time: time, sellable: sellable, sold: sold, ratePerMin: ratePerMin)
            state.generation &+= 1
        }
    }

    /// Marks an alert level reached at `time`.
    func mark(sku: String, time: Int64, level: String) {
        state.withLock { state in
            state.series[sku, default: Series()].mark(time: time, level: level)
            state.generation &+= 1
        }
    }

    /// Records an operator's action on a SKU at `time` (operator commands only, never orders).
    func act(sku: String, time: Int64, action: String, by: String) {
        state.withLock { state in
            state.series[sku, default: Series()].act(time: time, action: action, by: by)
            state.generation &+= 1
        }
    }

    /// Every SKU's series and the generation they are at (for the archive; a copy, taken under the lock).
    func archive() -> (generation: UInt64, series: [String: Series]) {
        state.withLock { ($0.generation, $0.series) }
    }

    /// Puts back the series archived before a restart (start-up, before the first record).
    func restore(_ series: [String: Series]) {
        state.withLock { state in
            for (sku, archived) in series where state.series[sku] == nil { state.series[sku] = archived }
        }
    }

    /// A SKU's series since `since` as JSON (the caller checks that the room has the SKU).
    func json(room: String, sku: String, since: Int64) -> [UInt8] {
        let copy = state.withLock { $0.series[sku] } ?? Series()
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
