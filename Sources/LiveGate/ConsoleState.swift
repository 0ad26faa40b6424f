import LiveGateAlerts
import LiveGateCore
import Synchronization

/// The page a connection says it is (`/ws?…&page=`), for presence only: an overlay and a
/// phone viewer both hold viewer tokens, and the console wants to know about the overlay.
enum PageKind: UInt8, Sendable, CaseIterable {
    /// The operator console (`/console`).
    case console
    /// The host's teleprompter (`/host`).
    case host
    /// The viewer overlay of the stream (`/overlay`, an OBS browser source).
    case overlay

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
    /// One alert as the room's streams carried it: its fields encoded once, when it happened (or read back
    /// from the archive after a restart).
    struct Entry: Sendable, Equatable {
        var id: String
        var sku: String
        /// The level it reached.
        var level: String
        /// The `alert` message's fields without `type`, `room`, `seq`, `rev` and the braces.
        var fields: [UInt8]
        /// Who acknowledged it, once someone did.
        var acknowledgedBy: String?
        /// When the SKU left normal (ms since 1970); kept while its level moves between non-normal levels.
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

        /// Adds the newest alert, forgetting the oldest past `capacity`.
        ///
        /// - Complexity: O(1).
        mutating func append(_ entry: Entry, capacity: Int) {
            if recent.count < capacity {
                recent.append(entry)
            } else {
                recent[start] = entry
                start = (start + 1) % capacity
            }
        }
    }

    /// Every room's alerts, behind one lock.
    private struct State: Sendable {
        var rooms: [String: RoomAlerts] = [:]
        /// Bumped by every change (the archive writes only when it moved).
        var generation: UInt64 = 0
    }

    /// Alerts kept per room.
    let capacity: Int
    private let state = Mutex(State())

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
        // Encoded once, outside the lock.
        let encoded = alerts.map { alert in
            var fields = JSONWriter(capacity: 768)
            Messages.writeAlertFields(&fields, id: alert.id, event: alert.event, name: alert.name)
            return fields.json
        }
        state.withLock { state in
            for (alert, fields) in zip(alerts, encoded) {
                for room in alert.rooms {
                    var log = state.rooms[room] ?? RoomAlerts()
                    let sku = alert.event.sku
                    let since = log.open[sku]?.openSince ?? alert.event.time / 1_000_000
                    let entry = Entry(
                        id: alert.id, sku: sku, level: alert.event.level.description, fields: fields, acknowledgedBy: nil,
                        openSince: since)
                    if alert.event.level == .normal {
                        log.open[sku] = nil
                    } else {
                        log.open[sku] = entry
                    }
                    log.append(entry, capacity: capacity)
                    state.rooms[room] = log
                }
            }
            state.generation &+= 1
        }
    }

    /// Marks alert `id` of `room` acknowledged by `subject` (in the history and among the open ones).
    func acknowledge(room: String, id: String, by subject: String) {
        state.withLock { state in
            guard var log = state.rooms[room] else { return }
            if let index = log.recent.firstIndex(where: { $0.id == id }), log.recent[index].acknowledgedBy == nil {
                log.recent[index].acknowledgedBy = subject
            }
            for (sku, entry) in log.open where entry.id == id && entry.acknowledgedBy == nil {
                log.open[sku]?.acknowledgedBy = subject
            }
            state.rooms[room] = log
            state.generation &+= 1
        }
    }

    /// The room's open alerts (in the order of `skus`) and its recent alerts, oldest first.
    func contents(room: String, skus: [String]) -> (open: [Entry], recent: [Entry]) {
        state.withLock { state in
            guard let log = state.rooms[room] else { return ([], []) }
            return (skus.compactMap { log.open[$0] }, log.ordered)
        }
    }

    /// Every room's alerts and the generation they are at (for the archive).
    func archive() -> (generation: UInt64, rooms: [String: RoomAlerts]) {
        state.withLock { ($0.generation, $0.rooms) }
    }

    /// Puts back the alerts archived before a restart (start-up, before any alert).
    func restore(_ rooms: [String: RoomAlerts]) {
        let capacity = capacity
        state.withLock { state in
            for (room, archived) in rooms {
                var log = RoomAlerts()
                log.open = archived.open
                for entry in archived.ordered.suffix(capacity) { log.append(entry, capacity: capacity) }
                state.rooms[room] = log
            }
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

    /// A room's presence and its publication throttle.
    private struct RoomState: Sendable {
        /// This node's own connections.
        var local = Snapshot()
        /// The other nodes' (the edges of a cluster), by node, as each last reported.
        var remote: [String: Snapshot] = [:]
        /// When a `presence` message was last published (monotonic ms).
        var lastPublished: UInt64 = 0
        var isScheduled = false

        /// Every node's connections summed; of the refusals, the latest of each role.
        var snapshot: Snapshot {
            guard !remote.isEmpty else { return local }
            var sum = local
            for other in remote.values {
                for index in sum.roles.indices { sum.roles[index] += other.roles[index] }
                for index in sum.pages.indices { sum.pages[index] += other.pages[index] }
                for index in sum.refused.indices {
                    if let refusal = other.refused[index], refusal.at >= sum.refused[index]?.at ?? .min { sum.refused[index] = refusal }
                }
            }
            return sum
        }
    }

    /// The shortest time between two `presence` messages of a room, in milliseconds.
    let interval: UInt64
    private let rooms = Mutex<[String: RoomState]>([:])

    init(interval: UInt64 = 1000) {
        self.interval = interval
    }

    /// What to do after a change: publish now, publish after a delay (ms), or nothing (one is due already).
    enum Publication: Equatable, Sendable {
        /// Publish this snapshot now.
        case now(Snapshot)
        /// Publish after this many milliseconds (``Presence/takeScheduled(room:now:)`` then gives the snapshot).
        case after(UInt64)
        /// A publication is already scheduled; it will carry this change.
        case none
    }

    /// A connection joined (`delta` 1) or left (−1) `room`.
    func change(room: String, role: Role, page: PageKind?, by delta: Int, now: UInt64) -> Publication {
        update(room: room, now: now) { state in
            let roleIndex = Role.allCases.firstIndex(of: role)!
            state.local.roles[roleIndex] = max(0, state.local.roles[roleIndex] + delta)
            if let page { state.local.pages[Int(page.rawValue)] = max(0, state.local.pages[Int(page.rawValue)] + delta) }
            return true
        }
    }

    /// A connection to `room` as `role` was refused.
    func refused(room: String, role: Role, _ refusal: Refusal, now: UInt64) -> Publication {
        update(room: room, now: now) { state in
            state.local.refused[Role.allCases.firstIndex(of: role)!] = refusal
            return true
        }
    }

    /// Another node's presence in `room` (`nil`: it has none any more, or is gone); `.none` when
    /// it is what that node said before.
    func setRemote(room: String, node: String, _ snapshot: Snapshot?, now: UInt64) -> Publication {
        update(room: room, now: now) { state in
            guard state.remote[node] != snapshot else { return false }
            state.remote[node] = snapshot
            return true
        }
    }

    /// This node's own connections in `room` (what an edge reports to its core).
    func localSnapshot(room: String) -> Snapshot {
        rooms.withLock { $0[room]?.local ?? Snapshot() }
    }

    /// The room's presence now, every node's connections summed.
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

    /// Applies `body` (which says whether it changed anything) and decides the publication.
    private func update(room: String, now: UInt64, _ body: (inout RoomState) -> Bool) -> Publication {
        let interval = interval
        return rooms.withLock { rooms in
            var state = rooms[room] ?? RoomState()
            guard body(&state) else { return .none }
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
