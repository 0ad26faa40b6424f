import LiveGateAlerts
import LiveGateCore
import Synchronization

/// The page a connection says it is (`/ws?…&page=`), for presence only: an overlay and a
/// phone viewer both hold viewer tokens, and the console wants to know about the overlay.
enum PageKind: UInt8, Sendable, CaseIterable {
    case console, host, overlay

    /// The name in the URL and on the wire.
    var name: String {
        switch self {
        case .console: "console"
        case .host: "host"
        case .overlay: "overlay"
        }
    }

    /// The page named `name`; `nil` for anything else (the parameter is the client's word, not checked).
    init?(name: String?) {
        guard let name, let kind = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = kind
    }
}

/// Each room's open alerts and its last alerts, for a console that joins late (the `alerts`
/// message). Written only when the alert engine reports a level transition or an operator
/// acknowledges one: never on the per-order path.
final class AlertLog: Sendable {
    /// One alert as the room's streams carried it.
    struct Entry: Sendable, Equatable {
        var id: String
        var event: AlertEvent
        var name: String
        /// Who acknowledged it, once someone did.
        var acknowledgedBy: String?
        /// Core time (ns) the SKU left normal; kept while its level moves between non-normal levels.
        var openSince: Int64
    }

    /// One room's alerts.
    struct RoomAlerts: Sendable {
        /// The latest alert of each SKU whose level is not normal, by SKU.
        var open: [String: Entry] = [:]
        /// The last ``AlertLog/capacity`` alerts, oldest first (a ring: `start` is the oldest).
        var recent: [Entry] = []
        var start = 0

        /// The recent alerts, oldest first.
        var ordered: [Entry] { Array(recent[start...] + recent[..<start]) }

        mutating func append(_ entry: Entry, capacity: Int) {
            if recent.count < capacity {
                recent.append(entry)
            } else {
                recent[start] = entry
                start = (start + 1) % capacity
            }
        }
    }

    /// Alerts kept per room.
    let capacity: Int
    private let rooms = Mutex<[String: RoomAlerts]>([:])

    init(capacity: Int = 100) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    /// Records the alerts of a durable batch (release thread; only batches with level transitions call this).
    ///
    /// - Complexity: O(alerts × rooms).
    func record(_ alerts: [RoomRegistry.BatchChanges.Alert]) {
        guard !alerts.isEmpty else { return }
        let capacity = capacity
        rooms.withLock { rooms in
            for alert in alerts {
                for room in alert.rooms {
                    var log = rooms[room] ?? RoomAlerts()
                    let sku = alert.event.sku
                    let since = log.open[sku]?.openSince ?? alert.event.time
                    let entry = Entry(id: alert.id, event: alert.event, name: alert.name, acknowledgedBy: nil, openSince: since)
                    if alert.event.level == .normal {
                        log.open[sku] = nil
                    } else {
                        log.open[sku] = entry
                    }
                    log.append(entry, capacity: capacity)
                    rooms[room] = log
                }
            }
        }
    }

    /// Marks alert `id` of `room` acknowledged by `subject` (in the history and among the open ones).
    func acknowledge(room: String, id: String, by subject: String) {
        rooms.withLock { rooms in
            guard var log = rooms[room] else { return }
            if let index = log.recent.firstIndex(where: { $0.id == id }), log.recent[index].acknowledgedBy == nil {
                log.recent[index].acknowledgedBy = subject
            }
            for (sku, entry) in log.open where entry.id == id && entry.acknowledgedBy == nil {
                log.open[sku]?.acknowledgedBy = subject
            }
            rooms[room] = log
        }
    }

    /// The room's open alerts (in the order of `skus`) and its recent alerts, oldest first.
    func contents(room: String, skus: [String]) -> (open: [Entry], recent: [Entry]) {
        rooms.withLock { rooms in
            guard let log = rooms[room] else { return ([], []) }
            return (skus.compactMap { log.open[$0] }, log.ordered)
        }
    }
}

/// Who is connected to each room, by role and by page, and the last refused connection of each
/// role; consoles get it on join and, when it changes, on the operator stream (`presence`), at
/// most once per ``Presence/interval`` milliseconds per room. Joins, leaves and refusals only:
/// never on the per-message path.
final class Presence: Sendable {
    /// A refused connection whose token had a valid signature (so its room and role are known).
    struct Refusal: Sendable, Equatable {
        var reason: String
        /// Seconds since 1970.
        var at: Int64
        var subject: String
        var page: PageKind?
    }

    /// A room's presence, as the `presence` message carries it.
    struct Snapshot: Sendable, Equatable {
        /// Open connections per role (index: ``Role/allCases``).
        var roles: [Int] = Array(repeating: 0, count: Role.allCases.count)
        /// Open connections per page (index: ``PageKind/allCases``).
        var pages: [Int] = Array(repeating: 0, count: PageKind.allCases.count)
        /// The last refusal of each role (index: ``Role/allCases``).
        var refused: [Refusal?] = Array(repeating: nil, count: Role.allCases.count)
    }

    private struct RoomState: Sendable {
        var snapshot = Snapshot()
        /// When a `presence` message was last published (monotonic ms).
        var lastPublished: UInt64 = 0
        var isScheduled = false
    }

    /// The shortest time between two `presence` messages of a room, in milliseconds.
    let interval: UInt64
    private let rooms = Mutex<[String: RoomState]>([:])

    init(interval: UInt64 = 1000) {
        self.interval = interval
    }

    /// What to do after a change: publish now, publish after a delay (ms), or nothing (one is due already).
    enum Publication: Equatable, Sendable {
        case now(Snapshot)
        case after(UInt64)
        case none
    }

    /// A connection joined (`delta` 1) or left (−1) `room`.
    func change(room: String, role: Role, page: PageKind?, by delta: Int, now: UInt64) -> Publication {
        update(room: room, now: now) { snapshot in
            let roleIndex = Role.allCases.firstIndex(of: role)!
            snapshot.roles[roleIndex] = max(0, snapshot.roles[roleIndex] + delta)
            if let page { snapshot.pages[Int(page.rawValue)] = max(0, snapshot.pages[Int(page.rawValue)] + delta) }
        }
    }

    /// A connection to `room` as `role` was refused.
    func refused(room: String, role: Role, _ refusal: Refusal, now: UInt64) -> Publication {
        update(room: room, now: now) { $0.refused[Role.allCases.firstIndex(of: role)!] = refusal }
    }

    /// The room's presence now.
    func snapshot(room: String) -> Snapshot {
        rooms.withLock { $0[room]?.snapshot ?? Snapshot() }
    }

    /// The delayed publication is due: the snapshot to publish.
    func takeScheduled(room: String, now: UInt64) -> Snapshot {
        rooms.withLock { rooms in
            rooms[room, default: RoomState()].isScheduled = false
            rooms[room, default: RoomState()].lastPublished = now
            return rooms[room, default: RoomState()].snapshot
        }
    }

    private func update(room: String, now: UInt64, _ body: (inout Snapshot) -> Void) -> Publication {
        let interval = interval
        return rooms.withLock { rooms in
            var state = rooms[room] ?? RoomState()
            body(&state.snapshot)
            defer { rooms[room] = state }
            if state.isScheduled { return .none }
            if state.lastPublished == 0 || now >= state.lastPublished + interval {
                state.lastPublished = now
                return .now(state.snapshot)
            }
            state.isScheduled = true
            return .after(state.lastPublished + interval - now)
        }
    }
}
