import Foundation
import LiveGateAlerts
import LiveGateCore
import LiveGateStock
import Synchronization

/// A SKU as the rooms describe it: its name, substitute and latest durable stock figures.
struct SkuState: Sendable, Hashable {
    var id: String
    var name: String
    var substitute: String?
    var stock: StockPublication?
}

/// What the room logic may ask about the rooms, without changing them: the read side of
/// ``RoomRegistry``, which ``RoomSession/StateMachine`` decides with (and tests replace with a value).
protocol RoomView {
    /// Whether `room` exists.
    func hasRoom(_ room: String) -> Bool
    /// Whether `sku` belongs to `room`.
    func room(_ room: String, contains sku: String) -> Bool
    /// The SKU's description and latest figures.
    func sku(_ id: String) -> SkuState?
    /// The SKU's current policy.
    func policy(of sku: String) -> SkuPolicy?
    /// The room's featured SKU and what an `undo` would return to.
    func featured(in room: String) -> (featured: String?, beforeSwitch: String?)?
    /// The SKUs of `room`.
    func skus(in room: String) -> [String]?
}

extension RoomView {
    /// Plans switching the room from `sku` to its substitute. Nothing changes until the change
    /// is journaled and committed.
    func planSwitch(room: String, from sku: String) -> Result<FeaturedChange, ProtocolError> {
        guard let (featured, _) = featured(in: room), let skus = skus(in: room) else {
            return .failure(.badField("room", "no room"))
        }
        let fromPolicy = policy(of: sku)?.substitute
        guard let substitute = fromPolicy ?? self.sku(sku)?.substitute else {
            return .failure(.badField("sku", "\(sku) has no substitute; set one with the policy command"))
        }
        guard skus.contains(substitute) else {
            return .failure(.badField("sku", "the substitute \(substitute) is not one of the room's SKUs"))
        }
        return .success(FeaturedChange(kind: .switchover, room: room, featured: substitute, beforeSwitch: featured ?? sku))
    }

    /// Plans reverting the last switch.
    func planUndo(room: String) -> Result<FeaturedChange, ProtocolError> {
        guard let before = featured(in: room)?.beforeSwitch else {
            return .failure(.badField("type", "nothing to undo: no switch in this room"))
        }
        return .success(FeaturedChange(kind: .undo, room: room, featured: before, beforeSwitch: nil))
    }

    /// Plans featuring `sku` (one of the room's SKUs); a pending undo stays possible.
    func planFeature(room: String, sku: String) -> FeaturedChange? {
        guard let (_, before) = featured(in: room), self.room(room, contains: sku) else { return nil }
        return FeaturedChange(kind: .feature, room: room, featured: sku, beforeSwitch: before)
    }
}

/// A change of a room's featured SKU, as it is journaled (``StockCommand/setNote(key:value:)``
/// with ``noteKey`` and ``noteValue``) and then applied by ``RoomRegistry/commitFeatured(_:)``.
struct FeaturedChange: Sendable, Hashable {
    enum Kind: Sendable { case feature, switchover, undo }
    var kind: Kind
    var room: String
    /// The SKU featured after the change.
    var featured: String
    /// What `undo` goes back to afterwards (nil: nothing to undo).
    var beforeSwitch: String?

    /// The journal key of the room's featured SKU.
    static func noteKey(room: String) -> String { "room.\(room).featured" }
    var noteKey: String { Self.noteKey(room: room) }
    /// `featured`, then a tab and `beforeSwitch` when there is one.
    var noteValue: String { beforeSwitch.map { "\(featured)\t\($0)" } ?? featured }
}

/// The rooms and their SKUs as every connection sees them: titles, membership, the featured
/// SKU, policies, the latest durable stock figures and the alert engine's figures. One lock;
/// nothing is encoded or sent under it.
final class RoomRegistry: RoomView, Sendable {
    struct Room: Sendable, Hashable {
        var id: String
        var title: String
        var skus: [String]
        var featured: String?
        /// The featured SKU before the last switch to a substitute (for `undo`).
        var featuredBeforeSwitch: String?
    }

    /// A viewers' banner standing for a SKU: the text viewers were last sent and its figure.
    struct Banner: Sendable, Equatable {
        var sku: String
        var level: AlertLevel
        var text: String
        var left: Int64
        /// The room's own "switch to B" banner (its text is the room's, kept true to B's stock
        /// here), rather than the alert engine's (kept true by the engine's observer).
        var switchName: String? = nil
        /// The room whose switch banner it is (nil for the alert engine's, which every room listing
        /// the SKU shows).
        var switchRoom: String? = nil
        /// When it was last sent (monotonic ns), and whether a newer figure waits for the interval.
        var sentAt: UInt64 = 0
        var isPending = false
    }

    /// The least time between two refreshes of a switch banner: at most two a second.
    static let bannerInterval: UInt64 = 500_000_000

    /// The switch banner's text for `name` with `left` units.
    static func switchBannerText(name: String, left: Int64) -> String { "\(name) 现货\(left)件" }

    /// What a durable batch changed, for the streams: each changed SKU with its figures and
    /// conflation key, and each alert event with its id.
    struct BatchChanges: Sendable {
        struct Change: Sendable {
            var sku: SkuState
            var stock: StockPublication
            var figures: AlertBatch.Figures?
            /// The SKU's conflation key (SKU and level).
            var key: UInt32
            var rooms: [String]
            /// Whether the viewers' fields moved (its stock, or its shown level): a change of the
            /// rate alone, which viewers are not sent, leaves their stream alone.
            var isSeenByViewers = true
        }

        struct Alert: Sendable {
            var id: String
            var event: AlertEvent
            var name: String
            var rooms: [String]
        }

        var changes: [Change] = []
        var alerts: [Alert] = []
        /// Banners re-sent with newer figures, with the rooms that list their SKU.
        var banners: [(banner: Banner, rooms: [String])] = []
        var rev: UInt64 = 0
    }

    private struct State: Sendable {
        var skus: [String: SkuState] = [:]
        /// The alert engine's latest figures per SKU.
        var figures: [String: AlertBatch.Figures] = [:]
        /// The viewers' banner standing per SKU.
        var banners: [String: Banner] = [:]
        /// Each SKU's current policy (for the `policy` command, which changes some fields).
        var policies: [String: SkuPolicy] = [:]
        /// When each room last got an automatic stock reply (monotonic ms).
        var lastReply: [String: UInt64] = [:]
        var alertCounter: UInt64 = 0
        var rooms: [String: Room] = [:]
        var roomsBySku: [String: [String]] = [:]
        var skuKeys: [String: UInt32] = [:]
        var rev: UInt64 = 0

        mutating func addRoom(_ room: Room) {
            rooms[room.id] = room
            for sku in room.skus { roomsBySku[sku, default: []].append(room.id) }
        }

        mutating func describe(_ sku: SkuState) {
            guard skus[sku.id] == nil else { return }
            skus[sku.id] = sku
            skuKeys[sku.id] = UInt32(skuKeys.count + 1) << 4
        }
    }

    private let state: Mutex<State>

    init(configuration: Configuration) {
        var initial = State()
        for sku in configuration.skus {
            initial.describe(SkuState(id: sku.id, name: sku.name, substitute: sku.substitute, stock: nil))
            initial.policies[sku.id] = sku.policy
        }
        for room in configuration.rooms {
            initial.addRoom(Room(id: room.id, title: room.title, skus: room.skus, featured: room.featured))
        }
        state = Mutex(initial)
    }

    // MARK: RoomView

    func hasRoom(_ room: String) -> Bool {
        state.withLock { $0.rooms[room] != nil }
    }

    func room(_ room: String, contains sku: String) -> Bool {
        state.withLock { $0.rooms[room]?.skus.contains(sku) ?? false }
    }

    func sku(_ id: String) -> SkuState? {
        state.withLock { $0.skus[id] }
    }

    func policy(of sku: String) -> SkuPolicy? {
        state.withLock { $0.policies[sku] }
    }

    func featured(in room: String) -> (featured: String?, beforeSwitch: String?)? {
        state.withLock { state in state.rooms[room].map { ($0.featured, $0.featuredBeforeSwitch) } }
    }

    func skus(in room: String) -> [String]? {
        state.withLock { $0.rooms[room]?.skus }
    }

    // MARK: Changes

    /// The newest rev the rooms have seen.
    var rev: UInt64 { state.withLock { $0.rev } }

    /// Records the stock core's initial states (start-up).
    func seed(_ publications: [StockPublication]) {
        state.withLock { state in
            for publication in publications {
                state.skus[publication.sku]?.stock = publication
                state.rev = max(state.rev, publication.rev)
            }
        }
    }

    /// Takes in a durable batch: the new stock figures and the alert engine's, and numbers the
    /// batch's alerts. Returns what the streams must say about it.
    func apply(_ publications: [StockPublication], alerts: AlertBatch?, now: UInt64 = 0) -> BatchChanges {
        state.withLock { state in
            // The level each SKU showed before (a figures-only change moves nothing viewers see unless it moves this).
            var shownLevels: [String: AlertLevel] = [:]
            if let alerts {
                for (sku, figures) in alerts.figures {
                    shownLevels[sku] = Messages.level(of: state.skus[sku]?.stock, figures: state.figures[sku])
                    state.figures[sku] = figures
                }
            }
            var changedSkus: [String] = []
            var publishedSkus: Set<String> = []
            for publication in publications {
                publishedSkus.insert(publication.sku)
                state.skus[publication.sku]?.stock = publication
                state.rev = max(state.rev, publication.rev)
                changedSkus.append(publication.sku)
            }
            for event in alerts?.events ?? [] where !changedSkus.contains(event.sku) {
                changedSkus.append(event.sku)
            }
            // Figures that moved with core time alone (a rate decaying without sales) are published too.
            for sku in alerts?.figures.keys.sorted() ?? [] where !changedSkus.contains(sku) {
                changedSkus.append(sku)
            }
            var changes = BatchChanges(rev: state.rev)
            for skuId in changedSkus {
                guard let sku = state.skus[skuId], let stock = sku.stock else { continue }
                let figures = state.figures[skuId]
                let isSeenByViewers = publishedSkus.contains(skuId)
                    || shownLevels[skuId].map { $0 != Messages.level(of: stock, figures: figures) } ?? true
                changes.changes.append(BatchChanges.Change(
                    sku: sku, stock: stock, figures: figures,
                    key: (state.skuKeys[skuId] ?? 0) | Messages.levelCode(of: stock, figures: figures),
                    rooms: state.roomsBySku[skuId] ?? [], isSeenByViewers: isSeenByViewers))
            }
            for event in alerts?.events ?? [] {
                guard let sku = state.skus[event.sku] else { continue }
                state.alertCounter += 1
                changes.alerts.append(BatchChanges.Alert(
                    id: "\(event.sku)-\(state.rev)-\(state.alertCounter)", event: event, name: sku.name,
                    rooms: state.roomsBySku[event.sku] ?? []))
                switch event.banner {
                case .show(let text):
                    state.banners[event.sku] = Banner(sku: event.sku, level: event.level, text: text, left: event.sellable, sentAt: now)
                case .withdraw:
                    state.banners[event.sku] = nil
                case .unchanged:
                    break
                }
            }
            for refresh in alerts?.banners ?? [] {
                let banner = Banner(sku: refresh.sku, level: refresh.level, text: refresh.text, left: refresh.left, sentAt: now)
                state.banners[refresh.sku] = banner
                changes.banners.append((banner, state.roomsBySku[refresh.sku] ?? []))
            }
            // A switch banner ("B 现货140件") follows B's stock: at most two a second, the last
            // figure at the next batch after the interval (the core ticks at least once a second).
            for (skuId, banner) in state.banners where banner.switchName != nil {
                guard changedSkus.contains(skuId) || banner.isPending, let left = state.skus[skuId]?.stock?.sellable,
                      let name = banner.switchName else { continue }
                let text = Self.switchBannerText(name: name, left: left)
                guard text != banner.text else { state.banners[skuId]?.isPending = false; continue }
                // A sold-out figure never waits: "B 现货3件" must not stand over an empty stock.
                if left > 0 && now &- banner.sentAt < Self.bannerInterval && now >= banner.sentAt {
                    state.banners[skuId]?.isPending = true
                    continue
                }
                var updated = banner
                updated.text = text
                updated.left = left
                updated.sentAt = now
                updated.isPending = false
                state.banners[skuId] = updated
                changes.banners.append((updated, banner.switchRoom.map { [$0] } ?? state.roomsBySku[skuId] ?? []))
            }
            return changes
        }
    }

    /// The automatic answer to a viewer's stock question in `room` (about the featured SKU),
    /// at most one per `intervalMs` milliseconds per room; `nil` when not due.
    func stockReply(room: String, intervalMs: UInt64, now: UInt64) -> String? {
        state.withLock { state in
            guard let featured = state.rooms[room]?.featured, let reply = state.figures[featured]?.stockReply else { return nil }
            if let last = state.lastReply[room], now < last || now - last < intervalMs { return nil }
            state.lastReply[room] = now
            return reply
        }
    }

    /// Each SKU of `room` with the level it shows now (as in its `stock` messages).
    func levels(in room: String) -> [(sku: SkuState, level: AlertLevel)] {
        state.withLock { state in
            (state.rooms[room]?.skus ?? []).compactMap { id in
                state.skus[id].map { ($0, Messages.level(of: $0.stock, figures: state.figures[id])) }
            }
        }
    }

    /// The policies of `room`'s SKUs, in the room's order.
    func policies(in room: String) -> [PolicyEntry] {
        state.withLock { state in
            (state.rooms[room]?.skus ?? []).compactMap { id in state.policies[id].map { PolicyEntry(sku: id, policy: $0) } }
        }
    }

    /// The rooms that list `sku`.
    func rooms(listing sku: String) -> [String] {
        state.withLock { $0.roomsBySku[sku] ?? [] }
    }

    /// Records a policy the stock core accepted.
    func setPolicy(_ policy: SkuPolicy, for sku: String) {
        state.withLock { $0.policies[sku] = policy }
    }

    /// Records the room's switch banner for `sku` (nil withdraws the SKU's banner).
    func setSwitchBanner(room: String, sku: String, level: AlertLevel, name: String?, left: Int64, now: UInt64) {
        state.withLock { state in
            guard let name else {
                if state.banners[sku]?.switchRoom == room { state.banners[sku] = nil }
                return
            }
            state.banners[sku] = Banner(
                sku: sku, level: level, text: Self.switchBannerText(name: name, left: left), left: left, switchName: name,
                switchRoom: room, sentAt: now)
        }
    }

    /// Removes the room's switch banners (an undo), returning their SKUs.
    func clearSwitchBanners(room: String) -> [String] {
        state.withLock { state in
            let skus = (state.rooms[room]?.skus ?? []).filter { state.banners[$0]?.switchRoom == room }
            for sku in skus { state.banners[sku] = nil }
            return skus
        }
    }

    /// Applies a journaled change of the featured SKU.
    func commitFeatured(_ change: FeaturedChange) {
        state.withLock { state in
            state.rooms[change.room]?.featured = change.featured
            state.rooms[change.room]?.featuredBeforeSwitch = change.beforeSwitch
        }
    }

    /// Restores the featured SKUs journaled before a restart (start-up, before any subscriber).
    func restoreFeatured(notes: [String: String]) {
        state.withLock { state in
            for id in state.rooms.keys {
                guard let value = notes[FeaturedChange.noteKey(room: id)] else { continue }
                let parts = value.split(separator: "\t", maxSplits: 1).map(String.init)
                guard let featured = parts.first, state.rooms[id]?.skus.contains(featured) == true else { continue }
                state.rooms[id]?.featured = featured
                state.rooms[id]?.featuredBeforeSwitch = parts.count > 1 ? parts[1] : nil
            }
        }
    }

    /// Adds rooms and SKU descriptions that were created live (start-up, from `rooms.json`);
    /// configured ones are left as they are. Returns the ids of the rooms added.
    func restore(_ contents: RoomStore.Contents) -> [String] {
        state.withLock { state in
            for sku in contents.skus {
                state.describe(SkuState(id: sku.id, name: sku.name, substitute: sku.substitute, stock: nil))
            }
            var added: [String] = []
            for room in contents.rooms {
                if state.rooms[room.id] != nil {
                    // A configured room that gained SKUs live keeps them.
                    for sku in room.skus where state.rooms[room.id]?.skus.contains(sku) == false && state.skus[sku] != nil {
                        state.rooms[room.id]?.skus.append(sku)
                        state.roomsBySku[sku, default: []].append(room.id)
                    }
                    continue
                }
                state.addRoom(Room(id: room.id, title: room.title, skus: room.skus, featured: room.featured))
                added.append(room.id)
            }
            return added
        }
    }

    /// Creates a room (empty, or with existing SKUs). Fails if it exists or names an unknown SKU.
    func createRoom(_ room: RoomStore.StoredRoom) -> Bool {
        state.withLock { state in
            guard state.rooms[room.id] == nil, room.skus.allSatisfy({ state.skus[$0] != nil }) else { return false }
            state.addRoom(Room(id: room.id, title: room.title, skus: room.skus, featured: room.featured))
            return true
        }
    }

    /// Adds a room that no configuration lists and no one persists (the benchmark's topic).
    func addInternalRoom(_ id: String) {
        state.withLock { state in
            if state.rooms[id] == nil { state.addRoom(Room(id: id, title: id, skus: [], featured: nil)) }
        }
    }

    /// Describes a SKU the stock core just created and adds it to `room`.
    func addSku(_ sku: RoomStore.StoredSku, policy: SkuPolicy, to room: String) {
        state.withLock { state in
            state.describe(SkuState(id: sku.id, name: sku.name, substitute: sku.substitute, stock: nil))
            state.policies[sku.id] = policy
            if state.rooms[room]?.skus.contains(sku.id) == false {
                state.rooms[room]?.skus.append(sku.id)
                state.roomsBySku[sku.id, default: []].append(room)
            }
        }
    }

    /// What `rooms.json` should hold: the rooms and SKUs that the configuration does not list.
    func liveCreated(excluding configuration: Configuration) -> RoomStore.Contents {
        state.withLock { state in
            let configuredSkus = Set(configuration.skus.map(\.id))
            let configuredRooms = Set(configuration.rooms.map(\.id))
            var contents = RoomStore.Contents()
            contents.skus = state.skus.values.filter { !configuredSkus.contains($0.id) }.sorted { $0.id < $1.id }
                .map { RoomStore.StoredSku(id: $0.id, name: $0.name, substitute: $0.substitute) }
            contents.rooms = state.rooms.values.filter { !configuredRooms.contains($0.id) && !$0.id.hasPrefix("bench:") }
                .sorted { $0.id < $1.id }
                .map { RoomStore.StoredRoom(id: $0.id, title: $0.title, skus: $0.skus, featured: $0.featured) }
            // Configured rooms that gained SKUs live keep them too.
            for room in configuration.rooms {
                if let live = state.rooms[room.id], live.skus != room.skus {
                    contents.rooms.append(RoomStore.StoredRoom(id: room.id, title: live.title, skus: live.skus, featured: live.featured))
                }
            }
            return contents
        }
    }

    /// The room's snapshot at stream position `seq`, encoded outside the lock (`nil`: no such room).
    ///
    /// Read the position before calling: the rooms take in a batch before its messages are
    /// numbered, so the figures are then at least as new as `seq`.
    /// The viewers' stream gets the viewers' SKU fields (``Messages/writeSkuFields``).
    func snapshot(room: String, seq: UInt64, epoch: String, reset: Bool = false, audience: Audience) -> JSONWriter? {
        let copied: (Room, [(SkuState, AlertBatch.Figures?)], UInt64, [Banner])? = state.withLock { state in
            guard let roomState = state.rooms[room] else { return nil }
            return (roomState, roomState.skus.compactMap { id in state.skus[id].map { ($0, state.figures[id]) } }, state.rev,
                    roomState.skus.compactMap { state.banners[$0] }.filter { $0.switchRoom == nil || $0.switchRoom == room })
        }
        guard let (roomState, skus, rev, banners) = copied else { return nil }
        var writer = JSONWriter(capacity: 256 + 320 * skus.count)
        Messages.writeSnapshot(
            &writer, room: roomState, skus: skus, seq: seq, rev: rev, epoch: epoch, reset: reset, banners: banners,
            forViewers: audience == .viewer)
        return writer
    }
}
