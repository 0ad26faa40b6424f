import Dispatch
import Foundation
import LiveGateAlerts
import LiveGateCore
import LiveGatePOSIX
import LiveGateStock
import LiveGateWebSocket
import Synchronization

/// A frame for one room stream, handed to every loop.
struct Delivery: Sendable {
    let room: String
    let audience: Audience
    let seq: UInt64
    let frame: SharedBytes
    /// 0 for an event (never dropped); otherwise the state key (SKU and level), so a slow
    /// viewer's older queued frame with the same key can be replaced by this one.
    var key: UInt32 = 0
    /// For a stock change caused by an order: when the order arrived (monotonic ns), else 0.
    var orderStamp: UInt64 = 0
}

/// The last messages of one room stream, for resume: seq `oldest...newest` are kept.
struct HistoryRing: Sendable {
    private var frames: [SharedBytes?]
    /// The newest seq recorded.
    private(set) var newest: UInt64 = 0
    /// The oldest seq still held (newest + 1 when empty).
    private(set) var oldest: UInt64 = 1

    init(capacity: Int) {
        frames = Array(repeating: nil, count: max(1, capacity))
    }

    mutating func record(seq: UInt64, frame: SharedBytes) {
        frames[Int(seq % UInt64(frames.count))] = frame
        newest = seq
        if newest - oldest + 1 > UInt64(frames.count) { oldest = newest - UInt64(frames.count) + 1 }
    }

    /// The frames after `since`, or `nil` when some of them are no longer held.
    func frames(after since: UInt64) -> [SharedBytes]? {
        guard since <= newest, since + 1 >= oldest else { return nil }
        guard since < newest else { return [] }
        return (since + 1...newest).map { frames[Int($0 % UInt64(frames.count))]! }
    }
}

/// The rooms' shared state and the fan-out: it numbers every message of every room stream,
/// encodes it once, and hands the same bytes to each event loop, which writes them to its
/// local subscribers.
///
/// Stock publications arrive on the stock core's writer thread after their batch is durable;
/// chat and operator messages arrive on I/O threads. Both take the one lock, so a stream's
/// `seq` order is the order in which its deliveries are queued on every loop.
final class Hub: Sendable {
    struct SkuState: Sendable {
        var id: String
        var name: String
        var substitute: String?
        var stock: StockPublication?
    }

    struct RoomState: Sendable {
        var id: String
        var title: String
        var skus: [String]
        var featured: String?
        /// The featured SKU before the last switch to a substitute (for `undo`).
        var featuredBeforeSwitch: String?
        var seq: [UInt64] = Array(repeating: 0, count: Audience.allCases.count)
        var history: [HistoryRing] = []
    }

    struct State: Sendable {
        var skus: [String: SkuState] = [:]
        var series: [String: Series] = [:]
        /// The alert engine's latest figures per SKU.
        var figures: [String: AlertBatch.Figures] = [:]
        /// Each SKU's current policy (for the `policy` command, which changes some fields).
        var policies: [String: SkuPolicy] = [:]
        /// When each room last got an automatic stock reply (monotonic ms).
        var lastReply: [String: UInt64] = [:]
        var alertCounter: UInt64 = 0
        /// Arrival times (monotonic ns) of orders whose results are durable, by their rev.
        var orderStamps: [(rev: UInt64, stamp: UInt64)] = []
        var rooms: [String: RoomState] = [:]
        var roomsBySku: [String: [String]] = [:]
        var skuKeys: [String: UInt32] = [:]
        var rev: UInt64 = 0
        var historySize = 1024
    }

    private let state: Mutex<State>
    private let loops: [EventLoop]
    /// Changes whenever stream history is lost (each process start, as history is not kept).
    let epoch: String

    init(configuration: Configuration, loops: [EventLoop]) {
        var initial = State()
        initial.historySize = configuration.historySize
        for (index, sku) in configuration.skus.enumerated() {
            initial.skus[sku.id] = SkuState(id: sku.id, name: sku.name, substitute: sku.substitute, stock: nil)
            initial.policies[sku.id] = sku.policy
            initial.skuKeys[sku.id] = UInt32(index + 1) << 4
        }
        for room in configuration.rooms {
            initial.rooms[room.id] = RoomState(
                id: room.id, title: room.title, skus: room.skus, featured: room.featured,
                history: Audience.allCases.map { _ in HistoryRing(capacity: configuration.historySize) })
            for sku in room.skus { initial.roomsBySku[sku, default: []].append(room.id) }
        }
        state = Mutex(initial)
        self.loops = loops
        epoch = String(UInt64(Date().timeIntervalSince1970 * 1000), radix: 36)
    }

    /// Whether `room` exists.
    func hasRoom(_ room: String) -> Bool {
        state.withLock { $0.rooms[room] != nil }
    }

    /// Whether `sku` belongs to `room`.
    func room(_ room: String, contains sku: String) -> Bool {
        state.withLock { $0.rooms[room]?.skus.contains(sku) ?? false }
    }

    /// Records the stock core's initial states without publishing (start-up).
    func seed(_ publications: [StockPublication]) {
        let now = Int64(Date().timeIntervalSince1970)
        state.withLock { state in
            for publication in publications {
                state.skus[publication.sku]?.stock = publication
                state.series[publication.sku, default: Series()].record(
                    time: now, sellable: publication.sellable, sold: publication.sold, ratePerMin: nil)
                state.rev = max(state.rev, publication.rev)
            }
        }
    }

    /// Called on the stock core's release thread after each durable batch, in order: one `stock`
    /// message per changed SKU per room stream that lists it (with the alert engine's rate,
    /// time to stock-out and level), a `hint` to the host, and for each level transition an
    /// `alert` to operators, a `banner` and an injected `danmaku` to viewers.
    func batchDurable(_ publications: [StockPublication], alerts: AlertBatch?) {
        var deliveries: [Delivery] = []
        state.withLock { state in
            let now = Int64(Date().timeIntervalSince1970)
            if let alerts {
                for (sku, figures) in alerts.figures { state.figures[sku] = figures }
            }
            // The earliest order of this batch, for the order → delivery latency.
            var orderStamp: UInt64 = 0
            let batchRev = publications.map(\.rev).max() ?? 0
            let cut = state.orderStamps.firstIndex(where: { $0.rev > batchRev }) ?? state.orderStamps.count
            if cut > 0 {
                orderStamp = state.orderStamps[0..<cut].map(\.stamp).min() ?? 0
                state.orderStamps.removeFirst(cut)
            }
            var changedSkus: [String] = []
            for publication in publications {
                state.skus[publication.sku]?.stock = publication
                state.rev = max(state.rev, publication.rev)
                changedSkus.append(publication.sku)
            }
            for event in alerts?.events ?? [] where !changedSkus.contains(event.sku) {
                changedSkus.append(event.sku)
            }
            for skuId in changedSkus {
                guard let sku = state.skus[skuId], let stock = sku.stock else { continue }
                let figures = state.figures[skuId]
                state.series[skuId, default: Series()].record(
                    time: now, sellable: stock.sellable, sold: stock.sold, ratePerMin: figures?.metrics.ratePerMinute)
                for roomId in state.roomsBySku[skuId] ?? [] {
                    let key = (state.skuKeys[skuId] ?? 0) | Messages.levelCode(of: stock, figures: figures)
                    for audience in Audience.everyone {
                        var delivery = Self.record(&state, room: roomId, audience: audience) { writer, seq, rev in
                            Messages.writeStock(&writer, room: roomId, seq: seq, rev: rev, sku: sku, stock: stock, figures: figures)
                        }
                        delivery.key = key
                        delivery.orderStamp = orderStamp
                        deliveries.append(delivery)
                    }
                    if let figures {
                        deliveries.append(Self.record(&state, room: roomId, audience: .host) { writer, seq, rev in
                            Messages.writeHint(&writer, room: roomId, seq: seq, rev: rev, sku: sku, figures: figures)
                        })
                    }
                }
            }
            for event in alerts?.events ?? [] {
                guard let sku = state.skus[event.sku] else { continue }
                state.series[event.sku, default: Series()].mark(time: now, level: event.level.description)
                state.alertCounter += 1
                let alertId = "\(event.sku)-\(state.rev)-\(state.alertCounter)"
                for roomId in state.roomsBySku[event.sku] ?? [] {
                    func emit(_ audience: Audience, _ build: (inout JSONWriter, UInt64, UInt64) -> Void) {
                        deliveries.append(Self.record(&state, room: roomId, audience: audience, build: build))
                    }
                    emit(.operator) { writer, seq, rev in
                        Messages.writeAlert(&writer, room: roomId, seq: seq, rev: rev, id: alertId, event: event, name: sku.name)
                    }
                    switch event.banner {
                    case .show(let text):
                        emit(.viewer) { writer, seq, rev in
                            Messages.writeBanner(&writer, room: roomId, seq: seq, rev: rev, sku: event.sku, level: event.level.description,
                                                 text: text, withdrawn: false)
                        }
                    case .withdraw:
                        emit(.viewer) { writer, seq, rev in
                            Messages.writeBanner(&writer, room: roomId, seq: seq, rev: rev, sku: event.sku, level: event.level.description,
                                                 text: nil, withdrawn: true)
                        }
                    case .unchanged:
                        break
                    }
                    if let text = event.danmaku {
                        for audience in [Audience.viewer, .host, .operator] {
                            emit(audience) { writer, seq, rev in
                                Messages.writeDanmaku(&writer, room: roomId, seq: seq, rev: rev, from: "livegate", role: "system",
                                                      text: text, isSystem: true)
                            }
                        }
                    }
                }
            }
            post(deliveries)
        }
    }

    /// Notes when an order with a durable result at `rev` arrived; its stock message is then
    /// measured until it is flushed (`livegate_order_delivery_seconds`). Called on the core's
    /// release thread before the batch's publications.
    func noteOrder(rev: UInt64, arrivedAt stamp: UInt64) {
        state.withLock { state in
            state.orderStamps.append((rev, stamp))
            if state.orderStamps.count > 4096 { state.orderStamps.removeFirst(state.orderStamps.count - 4096) }
        }
    }

    /// The automatic answer to a viewer's stock question in `room` (about the featured SKU),
    /// at most one per `interval` milliseconds per room; `nil` when not due.
    func stockReply(room: String, isQuestion: Bool, intervalMs: UInt64, now: UInt64) -> String? {
        guard isQuestion else { return nil }
        return state.withLock { state in
            guard let featured = state.rooms[room]?.featured, let reply = state.figures[featured]?.stockReply else { return nil }
            if let last = state.lastReply[room], now < last || now - last < intervalMs { return nil }
            state.lastReply[room] = now
            return reply
        }
    }

    /// The current policy of a SKU.
    func policy(of sku: String) -> SkuPolicy? {
        state.withLock { $0.policies[sku] }
    }

    /// Records a policy the stock core accepted.
    func setPolicy(_ policy: SkuPolicy, for sku: String) {
        state.withLock { $0.policies[sku] = policy }
    }

    /// Publishes a message built by `build(seq, rev)` on the given streams of `room`.
    func publish(room: String, audiences: [Audience], build: (inout JSONWriter, UInt64, UInt64) -> Void) {
        state.withLock { state in
            guard state.rooms[room] != nil else { return }
            post(audiences.map { Self.record(&state, room: room, audience: $0, build: build) })
        }
    }

    /// Publishes `payload` verbatim as one text frame on a stream (the benchmark's pub/sub
    /// mode): the same encode-once, per-loop fan-out path as every room message.
    func publishVerbatim(room: String, audience: Audience, payload: UnsafeRawBufferPointer) {
        let frame = WebSocketFrameEncoder.makeSharedFrame(opcode: .text, payload: payload)
        state.withLock { state in
            guard state.rooms[room] != nil else { return }
            post([Self.record(&state, room: room, audience: audience, frame: frame)])
        }
    }

    /// The current position of a stream, for a subscriber that needs no snapshot.
    func position(room: String, audience: Audience) -> UInt64? {
        state.withLock { $0.rooms[room]?.seq[audience.rawValue] }
    }

    /// Adds a room that no configuration lists (the benchmark's topic).
    func addInternalRoom(_ id: String) {
        state.withLock { state in
            if state.rooms[id] == nil {
                state.rooms[id] = RoomState(
                    id: id, title: id, skus: [], featured: nil,
                    history: Audience.allCases.map { _ in HistoryRing(capacity: state.historySize) })
            }
        }
    }

    /// Sends the room's viewers away with 1012 in `waves` waves spread over `seconds`, without
    /// blocking: each wave closes 1/(waves left) of the viewers still connected.
    func drainViewers(room: String, waves: Int, over seconds: Double) {
        let loops = self.loops
        let waves = max(1, waves)
        for wave in 0..<waves {
            let fraction = 1.0 / Double(waves - wave)
            let delay = seconds * Double(wave) / Double(waves)
            DispatchQueue.global().asyncAfter(deadline: .now() + delay) {
                for loop in loops {
                    loop.execute {
                        (loop.attachment as? LoopContext)?.drainViewers(
                            room: room, fraction: fraction, reason: "room draining; reconnect now")
                    }
                }
            }
        }
    }

    /// A change of a room's featured SKU, as it is journaled (``StockCommand/setNote(key:value:)``
    /// with ``noteKey`` and ``noteValue``) and then applied by ``commitFeatured(_:)``.
    struct FeaturedChange: Sendable, Equatable {
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

    /// Plans switching the room from `sku` to its substitute: the featured SKU changes for every
    /// stream, viewers get a banner for the substitute, the host a hint ("switch to B, 140 in
    /// stock"). Nothing changes until the change is journaled and committed.
    func planSwitch(room: String, from sku: String) -> Result<FeaturedChange, ProtocolError> {
        state.withLock { state in
            guard let roomState = state.rooms[room] else { return .failure(ProtocolError("badField", "no room", field: "room")) }
            guard let substitute = state.policies[sku].map(\.substitute).flatMap({ $0.isEmpty ? nil : $0 })
                ?? state.skus[sku]?.substitute
            else {
                return .failure(.badField("sku", "\(sku) has no substitute; set one with the policy command"))
            }
            guard roomState.skus.contains(substitute) else {
                return .failure(.badField("sku", "the substitute \(substitute) is not one of the room's SKUs"))
            }
            return .success(FeaturedChange(kind: .switchover, room: room, featured: substitute, beforeSwitch: roomState.featured ?? sku))
        }
    }

    /// Plans reverting the last switch.
    func planUndo(room: String) -> Result<FeaturedChange, ProtocolError> {
        state.withLock { state in
            guard let before = state.rooms[room]?.featuredBeforeSwitch else {
                return .failure(ProtocolError("badField", "nothing to undo: no switch in this room", field: "type"))
            }
            return .success(FeaturedChange(kind: .undo, room: room, featured: before, beforeSwitch: nil))
        }
    }

    /// Plans featuring `sku` (one of the room's SKUs); a pending undo stays possible.
    func planFeature(room: String, sku: String) -> FeaturedChange? {
        state.withLock { state in
            guard let roomState = state.rooms[room], roomState.skus.contains(sku) else { return nil }
            return FeaturedChange(kind: .feature, room: room, featured: sku, beforeSwitch: roomState.featuredBeforeSwitch)
        }
    }

    /// Applies a journaled change and tells every stream.
    func commitFeatured(_ change: FeaturedChange) {
        state.withLock { state in
            state.rooms[change.room]?.featured = change.featured
            state.rooms[change.room]?.featuredBeforeSwitch = change.beforeSwitch
        }
        let name = sku(change.featured)?.name ?? change.featured
        switch change.kind {
        case .feature:
            publish(room: change.room, audiences: Audience.everyone) { writer, seq, rev in
                Messages.writeFeatured(&writer, room: change.room, seq: seq, rev: rev, sku: change.featured)
            }
        case .switchover:
            let left = sku(change.featured)?.stock?.sellable ?? 0
            announceFeatured(room: change.room, sku: change.featured,
                             hostText: "换品:改推\(name),现有\(left)件 / switch to \(name), \(left) in stock",
                             bannerText: "\(name) 现货\(left)件")
        case .undo:
            announceFeatured(room: change.room, sku: change.featured, hostText: "改回\(name) / back to \(name)", bannerText: nil)
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

    private func announceFeatured(room: String, sku: String, hostText: String, bannerText: String?) {
        publish(room: room, audiences: Audience.everyone) { writer, seq, rev in
            Messages.writeFeatured(&writer, room: room, seq: seq, rev: rev, sku: sku)
        }
        let stock = self.sku(sku)?.stock
        publish(room: room, audiences: [.host]) { writer, seq, rev in
            Messages.beginStreamMessage(&writer, type: "hint", room: room, seq: seq, rev: rev)
            writer.field("sku", sku)
            writer.field("canSell", stock?.sellable ?? 0)
            writer.field("mayFreeUp", Int64(0))
            writer.field("mayFreeUpWithinSec", Int64(0))
            writer.field("level", Messages.level(of: stock))
            writer.field("text", hostText)
            writer.field("substitute", nil as String?)
            writer.endObject()
        }
        publish(room: room, audiences: [.viewer]) { writer, seq, rev in
            Messages.writeBanner(&writer, room: room, seq: seq, rev: rev, sku: sku, level: Messages.level(of: stock),
                                 text: bannerText, withdrawn: bannerText == nil)
        }
    }

    /// Adds rooms and SKU descriptions that were created live (start-up, from `rooms.json`);
    /// configured ones are left as they are.
    func restore(_ contents: RoomStore.Contents) {
        state.withLock { state in
            for sku in contents.skus where state.skus[sku.id] == nil {
                state.skus[sku.id] = SkuState(id: sku.id, name: sku.name, substitute: sku.substitute, stock: nil)
                state.skuKeys[sku.id] = UInt32(state.skuKeys.count + 1) << 4
            }
            for room in contents.rooms {
                if state.rooms[room.id] != nil {
                    // A configured room that gained SKUs live keeps them.
                    for sku in room.skus where state.rooms[room.id]?.skus.contains(sku) == false && state.skus[sku] != nil {
                        state.rooms[room.id]?.skus.append(sku)
                        state.roomsBySku[sku, default: []].append(room.id)
                    }
                    continue
                }
                state.rooms[room.id] = RoomState(
                    id: room.id, title: room.title, skus: room.skus, featured: room.featured,
                    history: Audience.allCases.map { _ in HistoryRing(capacity: state.historySize) })
                for sku in room.skus { state.roomsBySku[sku, default: []].append(room.id) }
            }
        }
    }

    /// Creates a room (empty, or with existing SKUs). Fails if it exists.
    func createRoom(_ room: RoomStore.StoredRoom) -> Bool {
        state.withLock { state in
            guard state.rooms[room.id] == nil, room.skus.allSatisfy({ state.skus[$0] != nil }) else { return false }
            state.rooms[room.id] = RoomState(
                id: room.id, title: room.title, skus: room.skus, featured: room.featured,
                history: Audience.allCases.map { _ in HistoryRing(capacity: state.historySize) })
            for sku in room.skus { state.roomsBySku[sku, default: []].append(room.id) }
            return true
        }
    }

    /// Describes a SKU the stock core just created and adds it to `room`.
    func addSku(_ sku: RoomStore.StoredSku, policy: SkuPolicy, stock: StockPublication?, to room: String) {
        state.withLock { state in
            if state.skus[sku.id] == nil {
                state.skus[sku.id] = SkuState(id: sku.id, name: sku.name, substitute: sku.substitute, stock: stock)
                state.skuKeys[sku.id] = UInt32(state.skuKeys.count + 1) << 4
            }
            state.policies[sku.id] = policy
            if let stock { state.skus[sku.id]?.stock = stock }
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

    /// What a subscriber starts from and the stream position it reflects (it then takes only
    /// messages with a larger `seq`): the missed messages when it resumes from `since` in
    /// this `epoch` and the history still holds them, else a snapshot (marked as a reset when
    /// a resume was asked for and is impossible).
    func join(room: String, audience: Audience, since: UInt64? = nil, epoch clientEpoch: String? = nil)
        -> (frames: [SharedBytes], seq: UInt64, isResumed: Bool)?
    {
        state.withLock { state in
            guard let roomState = state.rooms[room] else { return nil }
            let seq = roomState.seq[audience.rawValue]
            if let since, clientEpoch == epoch, let missed = roomState.history[audience.rawValue].frames(after: since) {
                return (missed, seq, true)
            }
            var writer = JSONWriter(capacity: 1024)
            Messages.writeSnapshot(&writer, room: roomState, skus: state.skus, figures: state.figures, seq: seq, rev: state.rev,
                                   epoch: epoch, reset: since != nil)
            return ([writer.makeTextFrame()], seq, false)
        }
    }

    /// The room's snapshot as JSON (HTTP `GET /v1/rooms/{room}/stock`).
    func snapshotJSON(room: String) -> [UInt8]? {
        state.withLock { state in
            guard let roomState = state.rooms[room] else { return nil }
            var writer = JSONWriter(capacity: 1024)
            Messages.writeSnapshot(
                &writer, room: roomState, skus: state.skus, figures: state.figures, seq: roomState.seq[Audience.operator.rawValue],
                rev: state.rev, epoch: epoch)
            return writer.json
        }
    }

    /// The SKU's series as JSON (HTTP `GET /v1/rooms/{room}/series`), or `nil` for an unknown SKU.
    func seriesJSON(room: String, sku: String, since: Int64) -> [UInt8]? {
        state.withLock { state in
            guard state.rooms[room]?.skus.contains(sku) == true else { return nil }
            let series = state.series[sku] ?? Series()
            var writer = JSONWriter(capacity: 64 + 48 * series.points.count)
            writer.beginObject()
            writer.field("room", room)
            writer.field("sku", sku)
            writer.field("bucketSec", series.bucketSeconds)
            writer.beginArray("points")
            for point in series.points(since: since) {
                writer.beginObject()
                writer.field("t", point.time)
                writer.field("sellable", point.sellable)
                writer.field("sold", point.sold)
                writer.field("ratePerMin", point.ratePerMin)
                writer.endObject()
            }
            writer.endArray()
            writer.beginArray("alerts")
            for marker in series.markers where marker.time >= since {
                writer.beginObject()
                writer.field("t", marker.time)
                writer.field("level", marker.level)
                writer.endObject()
            }
            writer.endArray()
            writer.endObject()
            return writer.json
        }
    }

    /// The SKU's current state.
    func sku(_ id: String) -> SkuState? {
        state.withLock { $0.skus[id] }
    }

    /// Numbers a message on one stream of `room`, encodes it once with `build(writer, seq,
    /// rev)`, keeps it in the stream's history for resume, and returns its delivery.
    private static func record(
        _ state: inout State, room: String, audience: Audience, build: (inout JSONWriter, UInt64, UInt64) -> Void
    ) -> Delivery {
        let seq = state.rooms[room]!.seq[audience.rawValue] + 1
        var writer = JSONWriter()
        build(&writer, seq, state.rev)
        return record(&state, room: room, audience: audience, frame: writer.makeTextFrame())
    }

    /// Numbers an encoded `frame` on one stream of `room` and keeps it for resume.
    private static func record(_ state: inout State, room: String, audience: Audience, frame: SharedBytes) -> Delivery {
        state.rooms[room]!.seq[audience.rawValue] += 1
        let seq = state.rooms[room]!.seq[audience.rawValue]
        state.rooms[room]!.history[audience.rawValue].record(seq: seq, frame: frame)
        return Delivery(room: room, audience: audience, seq: seq, frame: frame)
    }

    /// Hands the deliveries to every loop, in order (called with the lock held, so that two
    /// publishers cannot interleave a stream's messages differently on two loops).
    private func post(_ deliveries: [Delivery]) {
        guard !deliveries.isEmpty else { return }
        for loop in loops {
            loop.execute {
                (loop.attachment as? LoopContext)?.deliver(deliveries)
            }
        }
    }
}
