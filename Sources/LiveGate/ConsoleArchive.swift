import Dispatch
import Foundation
import LiveGateCore
import LiveGatePOSIX
import LiveGateSystem
import Synchronization

/// What the consoles remember of a show, kept across restarts in `console.json` in the data
/// directory: every SKU's ``Series`` (the charts: figures, alert markers, operator actions) and each
/// room's ``AlertLog`` (open alerts and the last 100). Stock itself is in the stock core's journal;
/// this is the consoles' view of it, so it is written lazily: when something changed, every 2 s
/// for a small show, less often when a save takes longer (the pause is 50 times the last save's
/// duration, at most 60 s: the archive never takes more than 2 % of a core), and at shutdown; on
/// a queue of its own (never on a loop or the core's threads), atomically (temporary file, rename).
/// A crash loses at most the last pause.
final class ConsoleArchive: Sendable {
    /// The file.
    let path: String
    /// The shortest and the longest pause between two saves, in seconds.
    let interval: ClosedRange<Double>
    private let rooms: Rooms
    private let queue = DispatchQueue(label: "livegate.console-archive", qos: .utility)
    private let isStopped = Atomic<Bool>(false)
    /// The generations (series, alerts) last written, and how long the last save took (seconds).
    private let saved = Mutex<(series: UInt64, alerts: UInt64, took: Double)>((0, 0, 0))

    init(dataDirectory: String, rooms: Rooms, interval: ClosedRange<Double> = 2...60) {
        path = (dataDirectory as NSString).appendingPathComponent("console.json")
        self.rooms = rooms
        self.interval = interval
    }

    /// Reads the archive back into the rooms (start-up, before the stock core publishes). A missing
    /// file is a new data directory; a damaged one is reported and ignored: the charts start afresh.
    func restore() {
        guard FileManager.default.fileExists(atPath: path) else { return }
        do {
            let (series, alerts) = try Self.decode(try Data(contentsOf: URL(fileURLWithPath: path)))
            rooms.series.restore(series)
            rooms.alertLog.restore(alerts)
            Log.info("console archive: \(series.count) SKU series and the alerts of \(alerts.count) room(s) restored from \(path)")
        } catch {
            Log.warning("console archive \(path) not restored (\(error)); charts and alert history start afresh")
        }
    }

    /// Saves from now until ``stop()``, pausing 50 times the last save's duration (within ``interval``).
    func start() {
        let took = saved.withLock { $0.took }
        let pause = min(interval.upperBound, max(interval.lowerBound, took * 50))
        queue.asyncAfter(deadline: .now() + pause) { [self] in
            guard !isStopped.load(ordering: .acquiring) else { return }
            save()
            start()
        }
    }

    /// Stops the timer and saves what changed since the last save (shutdown).
    func stop() {
        isStopped.store(true, ordering: .releasing)
        queue.sync { save() }
    }

    /// Writes the file if the series or the alerts changed since the last write.
    func save() {
        let (seriesGeneration, series) = rooms.series.archive()
        let (alertsGeneration, alerts) = rooms.alertLog.archive()
        let last = saved.withLock { $0 }
        guard last.series != seriesGeneration || last.alerts != alertsGeneration else { return }
        let started = Posix.monotonicNanoseconds()
        let bytes = Self.encode(series: series, alerts: alerts, savedAt: Int64(Date().timeIntervalSince1970))
        do {
            try Syscall.replaceFile(path, with: bytes)
            let took = Double(Posix.monotonicNanoseconds() - started) / 1e9
            saved.withLock { $0 = (seriesGeneration, alertsGeneration, took) }
        } catch {
            Log.warning("console archive: cannot write \(path): \(error)")
        }
    }

    // MARK: Format

    /// `{"version":1,"savedAt":…,"series":[{"sku","bucketSec","points":[[t,sellable,sold,rate|null]…],
    /// "markers":[[t,level]…],"actions":[[t,action,by]…]}…],"alerts":[{"room","open":[entry…],"recent":[entry…]}…]}`,
    /// an entry being `{"id","sku","level","openSince","ackedBy","fields"}` with the alert's encoded fields as a string.
    static func encode(series: [String: Series], alerts: [String: AlertLog.RoomAlerts], savedAt: Int64) -> [UInt8] {
        let pointCount = series.values.reduce(0) { $0 + $1.points.count }
        var writer = JSONWriter(capacity: 1024 + 40 * pointCount + 1200 * alerts.count * 100)
        writer.beginObject()
        writer.field("version", 1)
        writer.field("savedAt", savedAt)
        writer.beginArray("series")
        for (sku, one) in series.sorted(by: { $0.key < $1.key }) {
            writer.beginObject()
            writer.field("sku", sku)
            writer.field("bucketSec", one.bucketSeconds)
            writer.beginArray("points")
            for point in one.orderedPoints {
                writer.beginArrayElement()
                writer.element(point.time)
                writer.element(point.sellable)
                writer.element(point.sold)
                writer.element(exactly: point.ratePerMin)
                writer.endArray()
            }
            writer.endArray()
            writer.beginArray("markers")
            for marker in one.markers {
                writer.beginArrayElement()
                writer.element(marker.time)
                writer.element(marker.level)
                writer.endArray()
            }
            writer.endArray()
            writer.beginArray("actions")
            for action in one.actions {
                writer.beginArrayElement()
                writer.element(action.time)
                writer.element(action.action)
                writer.element(action.by)
                writer.endArray()
            }
            writer.endArray()
            writer.endObject()
        }
        writer.endArray()
        writer.beginArray("alerts")
        func entry(_ entry: AlertLog.Entry) {
            writer.beginObject()
            writer.field("id", entry.id)
            writer.field("sku", entry.sku)
            writer.field("level", entry.level)
            writer.field("openSince", entry.openSince)
            writer.field("ackedBy", entry.acknowledgedBy)
            writer.field("fields", String(decoding: entry.fields, as: UTF8.self))
            writer.endObject()
        }
        for (room, log) in alerts.sorted(by: { $0.key < $1.key }) {
            writer.beginObject()
            writer.field("room", room)
            writer.beginArray("open")
            for open in log.open.values.sorted(by: { $0.sku < $1.sku }) { entry(open) }
            writer.endArray()
            writer.beginArray("recent")
            for recent in log.ordered { entry(recent) }
            writer.endArray()
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.json
    }

    /// A damaged archive, with where.
    struct FormatError: Error, CustomStringConvertible {
        let description: String
    }

    /// Reads ``encode(series:alerts:savedAt:)``'s output back.
    static func decode(_ data: Data) throws -> (series: [String: Series], alerts: [String: AlertLog.RoomAlerts]) {
        guard case .object(let root) = try JSONValue.parse(data) else { throw FormatError(description: "not a JSON object") }
        guard root["version"] == .int(1) else { throw FormatError(description: "version is not 1") }
        func int(_ value: JSONValue?, _ what: String) throws -> Int64 {
            switch value {
            case .int(let number)?: return Int64(number)
            default: throw FormatError(description: "\(what) is not an integer")
            }
        }
        func string(_ value: JSONValue?, _ what: String) throws -> String {
            guard case .string(let text)? = value else { throw FormatError(description: "\(what) is not a string") }
            return text
        }
        func array(_ value: JSONValue?, _ what: String) throws -> [JSONValue] {
            guard case .array(let items)? = value else { throw FormatError(description: "\(what) is not an array") }
            return items
        }
        var series: [String: Series] = [:]
        for (index, item) in try array(root["series"], "series").enumerated() {
            guard case .object(let object) = item else { throw FormatError(description: "series[\(index)] is not an object") }
            let sku = try string(object["sku"], "series[\(index)].sku")
            var points: [Series.Point] = []
            for point in try array(object["points"], "series[\(index)].points") {
                guard case .array(let p) = point, p.count == 4 else { throw FormatError(description: "series[\(index)]: a bad point") }
                let rate: Double? = switch p[3] {
                case .int(let number): Double(number)
                case .double(let number): number
                default: nil
                }
                points.append(Series.Point(
                    time: try int(p[0], "t"), sellable: try int(p[1], "sellable"), sold: try int(p[2], "sold"), ratePerMin: rate))
            }
            var markers: [Series.Marker] = []
            for marker in try array(object["markers"], "series[\(index)].markers") {
                guard case .array(let m) = marker, m.count == 2 else { throw FormatError(description: "series[\(index)]: a bad marker") }
                markers.append(Series.Marker(time: try int(m[0], "t"), level: try string(m[1], "level")))
            }
            var actions: [Series.Action] = []
            for action in try array(object["actions"], "series[\(index)].actions") {
                guard case .array(let a) = action, a.count == 3 else { throw FormatError(description: "series[\(index)]: a bad action") }
                actions.append(Series.Action(time: try int(a[0], "t"), action: try string(a[1], "action"), by: try string(a[2], "by")))
            }
            series[sku] = Series(
                bucketSeconds: max(1, try int(object["bucketSec"], "bucketSec")), points: points, markers: markers, actions: actions)
        }
        func entry(_ value: JSONValue, _ what: String) throws -> AlertLog.Entry {
            guard case .object(let object) = value else { throw FormatError(description: "\(what) is not an object") }
            var acknowledgedBy: String?
            if case .string(let by)? = object["ackedBy"] { acknowledgedBy = by }
            // The fields go out as they are: they must be an object's fields.
            let fields = try string(object["fields"], "\(what).fields")
            guard case .object? = try? JSONValue.parse(Data(("{" + fields + "}").utf8)) else {
                throw FormatError(description: "\(what).fields are not an alert's fields")
            }
            return AlertLog.Entry(
                id: try string(object["id"], "\(what).id"), sku: try string(object["sku"], "\(what).sku"),
                level: try string(object["level"], "\(what).level"), fields: Array(fields.utf8),
                acknowledgedBy: acknowledgedBy, openSince: try int(object["openSince"], "\(what).openSince"))
        }
        var alerts: [String: AlertLog.RoomAlerts] = [:]
        for (index, item) in try array(root["alerts"], "alerts").enumerated() {
            guard case .object(let object) = item else { throw FormatError(description: "alerts[\(index)] is not an object") }
            var log = AlertLog.RoomAlerts()
            for open in try array(object["open"], "alerts[\(index)].open") {
                let parsed = try entry(open, "alerts[\(index)].open")
                log.open[parsed.sku] = parsed
            }
            for recent in try array(object["recent"], "alerts[\(index)].recent") {
                log.recent.append(try entry(recent, "alerts[\(index)].recent"))
            }
            alerts[try string(object["room"], "alerts[\(index)].room")] = log
        }
        return (series, alerts)
    }
}
