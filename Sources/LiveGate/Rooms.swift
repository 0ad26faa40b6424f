import Foundation
import LiveGateAlerts
import LiveGateCore
import LiveGatePOSIX
import LiveGateStock
import Synchronization

/// The live rooms: what they hold (``RoomRegistry``), what they say (``StreamHub``) and their
/// SKUs' history for the charts (``SeriesStore``), with the steps that touch more than one of
/// them: a durable batch, a join, a change of the featured SKU.
final class Rooms: Sendable {
    let registry: RoomRegistry
    let streams: StreamHub
    let series: SeriesStore
    /// Open alerts and the last alerts of each room, for consoles that join late.
    let alertLog = AlertLog()
    /// Who is connected to each room (for consoles).
    let presence = Presence()
    /// Every loop's context (drains reach each loop's viewers).
    private let contexts: [LoopBound<LoopContext>]
    /// Arrival times (monotonic ns) of orders whose results are durable, by their rev (release
    /// thread; a lock for `Sendable`, never contended).
    private let orderStamps = Mutex<[(rev: UInt64, stamp: UInt64)]>([])

    init(configuration: Configuration, contexts: [LoopBound<LoopContext>], stats: ServerStats? = nil) {
        registry = RoomRegistry(configuration: configuration)
        let compression = configuration.compression
            ? StreamCompression(minimumBytes: configuration.compressionMinimumBytes, stats: stats ?? ServerStats()) : nil
        streams = StreamHub(historySize: configuration.historySize, contexts: contexts, compression: compression)
        series = SeriesStore()
        self.contexts = contexts
        for room in configuration.rooms { streams.addRoom(room.id) }
    }

    /// Records the stock core's initial states without publishing (start-up).
    func seed(_ publications: [StockPublication]) {
        registry.seed(publications)
        let now = Int64(Date().timeIntervalSince1970)
        for publication in publications {
            series.record(sku: publication.sku, time: now, sellable: publication.sellable, sold: publication.sold, ratePerMin: nil)
        }
    }

    /// Adds the rooms and SKUs created live before a restart (start-up).
    func restore(_ contents: RoomStore.Contents) {
        for room in registry.restore(contents) { streams.addRoom(room) }
    }

    /// Creates a room; `false` when it exists or names an unknown SKU.
    func createRoom(_ room: RoomStore.StoredRoom) -> Bool {
        guard registry.createRoom(room) else { return false }
        streams.addRoom(room.id)
        return true
    }

    /// Adds a room that no configuration lists (the benchmark's topic).
    func addInternalRoom(_ id: String) {
        registry.addInternalRoom(id)
        streams.addRoom(id)
    }

    /// Called on the stock core's release thread after each durable batch, in order: one `stock`
    /// message per changed SKU per room stream that lists it (with the alert engine's rate,
    /// time to stock-out and level), a `hint` to the host, and for each level transition an
    /// `alert` to operators, a `banner` and an injected `danmaku` to viewers.
    func batchDurable(_ batch: DurableBatch<AlertBatch>) {
        let alerts = batch.annotation
        let changes = registry.apply(batch.publications, alerts: alerts, now: Self.monotonicNow())
        let now = Int64(Date().timeIntervalSince1970)
        let orderStamp = takeOrderStamp(upTo: batch.publications.map(\.rev).max() ?? 0)
        var outgoing: [StreamHub.Outgoing] = []
        for change in changes.changes {
            series.record(sku: change.sku.id, time: now, sellable: change.stock.sellable, sold: change.stock.sold,
                          ratePerMin: change.figures?.metrics.ratePerMinute)
            for room in change.rooms {
                for audience in Audience.everyone where audience != .viewer || change.isSeenByViewers {
                    outgoing.append(.init(room: room, audience: audience, message: .stock(change.sku, change.stock, change.figures),
                                          key: change.key, orderStamp: orderStamp))
                }
                if let figures = change.figures {
                    outgoing.append(.init(room: room, audience: .host, message: .hint(change.sku, figures)))
                }
            }
        }
        alertLog.record(changes.alerts)
        for alert in changes.alerts {
            let event = alert.event
            series.mark(sku: event.sku, time: now, level: event.level.description)
            for room in alert.rooms {
                outgoing.append(.init(room: room, audience: .operator, message: .alert(id: alert.id, event: event, name: alert.name)))
                switch event.banner {
                case .show(let text):
                    outgoing.append(.init(room: room, audience: .viewer, message: .banner(
                        sku: event.sku, level: event.level, text: text, left: event.sellable)))
                case .withdraw:
                    outgoing.append(.init(room: room, audience: .viewer, message: .banner(
                        sku: event.sku, level: event.level, text: nil, left: nil)))
                case .unchanged:
                    break
                }
                if let text = event.danmaku {
                    for audience in [Audience.viewer, .host, .operator] {
                        outgoing.append(.init(room: room, audience: audience, message: .systemLine(text)))
                    }
                }
            }
        }
        for (banner, rooms) in changes.banners {
            for room in rooms {
                outgoing.append(.init(room: room, audience: .viewer, message: .banner(
                    sku: banner.sku, level: banner.level, text: banner.text, left: banner.left)))
            }
        }
        streams.publish(outgoing, rev: changes.rev)
    }

    /// Monotonic nanoseconds (the switch banner's throttle).
    static func monotonicNow() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// Notes when an order with a durable result at `rev` arrived; its stock message is then
    /// measured until it is flushed (`livegate_order_delivery_seconds`). Called on the core's
    /// release thread before the batch's publications.
    func noteOrder(rev: UInt64, arrivedAt stamp: UInt64) {
        orderStamps.withLock { stamps in
            stamps.append((rev, stamp))
            if stamps.count > 4096 { stamps.removeFirst(stamps.count - 4096) }
        }
    }

    /// The earliest arrival of the orders up to `rev` (0: none), forgetting them.
    private func takeOrderStamp(upTo rev: UInt64) -> UInt64 {
        orderStamps.withLock { stamps in
            let cut = stamps.firstIndex(where: { $0.rev > rev }) ?? stamps.count
            guard cut > 0 else { return 0 }
            defer { stamps.removeFirst(cut) }
            return stamps[0..<cut].map(\.stamp).min() ?? 0
        }
    }

    /// Publishes `message` on the given streams of `room`.
    func publish(room: String, audiences: [Audience], _ message: StreamMessage) {
        streams.publish(audiences.map { StreamHub.Outgoing(room: room, audience: $0, message: message) }, rev: registry.rev)
    }

    /// What a subscriber starts from and the stream position it reflects (it then takes only
    /// messages with a larger `seq`): the missed messages when it resumes from `since` in
    /// this `epoch` and the history still holds them, else a snapshot (marked as a reset when
    /// a resume was asked for and is impossible).
    func join(room: String, audience: Audience, since: UInt64? = nil, epoch clientEpoch: String? = nil)
        -> (frames: [SharedBytes], seq: UInt64, isResumed: Bool)?
    {
        // The position first: the registry's figures are then at least as new as it.
        let resumeFrom = clientEpoch == streams.epoch ? since : nil
        guard let (seq, missed) = streams.resume(room: room, audience: audience, since: resumeFrom) else { return nil }
        if let missed { return (missed, seq, true) }
        guard let writer = registry.snapshot(room: room, seq: seq, epoch: streams.epoch, reset: since != nil, audience: audience)
        else { return nil }
        return ([writer.makeTextFrame()], seq, false)
    }

    /// The room's snapshot as JSON (HTTP `GET /v1/rooms/{room}/stock`) as `audience`'s stream shows it.
    func snapshotJSON(room: String, audience: Audience) -> [UInt8]? {
        guard let seq = streams.position(room: room, audience: audience) else { return nil }
        return registry.snapshot(room: room, seq: seq, epoch: streams.epoch, audience: audience)?.json
    }

    /// The SKU's series as JSON (HTTP `GET /v1/rooms/{room}/series`), or `nil` for an unknown SKU.
    func seriesJSON(room: String, sku: String, since: Int64) -> [UInt8]? {
        guard registry.room(room, contains: sku) else { return nil }
        return series.json(room: room, sku: sku, since: since)
    }

    /// What an operator gets right after its snapshot (or resumed messages): the room's open and recent
    /// alerts (`alerts`), who is connected (`presence`) and the SKU policies (`policies`). Built per join,
    /// off the per-message path.
    func consoleJoinFrames(room: String) -> [SharedBytes] {
        let levels = registry.levels(in: room)
        let (logged, recent) = alertLog.contents(room: room, skus: levels.map(\.sku.id))
        // An alert archived before a restart whose SKU is back to normal now is not open any more.
        let current = Dictionary(levels.map { ($0.sku.id, $0.level) }, uniquingKeysWith: { first, _ in first })
        let open = logged.filter { current[$0.sku].map { $0 != .normal } ?? false }
        let openSkus = Set(open.map(\.sku))
        // A level raised before a restart has no alert in memory: the console still learns it is open.
        let restored = levels.filter { $0.level != .normal && !openSkus.contains($0.sku.id) }
        var alerts = JSONWriter(capacity: 1024 + 900 * (open.count + recent.count))
        Messages.writeAlerts(&alerts, room: room, open: open, restored: restored, recent: recent)
        var presence = JSONWriter()
        Messages.writeJoinMessage(&presence, .presence(self.presence.snapshot(room: room)), room: room)
        var policies = JSONWriter(capacity: 2048)
        Messages.writeJoinMessage(&policies, .policies(registry.policies(in: room)), room: room)
        return [alerts.makeTextFrame(), presence.makeTextFrame(), policies.makeTextFrame()]
    }

    /// Publishes a room's presence now or after `publication`'s delay (on `loop`, the caller's), at most
    /// once per ``Presence/interval``.
    func publishPresence(room: String, _ publication: Presence.Publication, loop: EventLoop) {
        switch publication {
        case .none:
            return
        case .now(let snapshot):
            publish(room: room, audiences: [.operator], .presence(snapshot))
        case .after(let delay):
            let presence = self.presence
            loop.schedule(afterMilliseconds: delay) { [self] in
                let snapshot = presence.takeScheduled(room: room, now: Posix.monotonicMilliseconds())
                publish(room: room, audiences: [.operator], .presence(snapshot))
            }
        }
    }

    /// Tells a SKU's rooms' operators its new policy.
    func publishPolicy(_ policy: SkuPolicy, for sku: String) {
        for room in registry.rooms(listing: sku) {
            publish(room: room, audiences: [.operator], .policies([PolicyEntry(sku: sku, policy: policy)]))
        }
    }

    /// Applies a journaled change of the featured SKU and tells every stream: `featured` to all;
    /// after a switch, a hint to the host ("switch to B, 140 in stock") and a banner to viewers.
    func commitFeatured(_ change: FeaturedChange) {
        registry.commitFeatured(change)
        let room = change.room
        let stock = registry.sku(change.featured)?.stock
        let name = registry.sku(change.featured)?.name ?? change.featured
        publish(room: room, audiences: Audience.everyone, .featured(sku: change.featured))
        let level = Messages.level(of: stock)
        switch change.kind {
        case .feature:
            return
        case .switchover:
            let left = stock?.sellable ?? 0
            publish(room: room, audiences: [.host], .roomHint(
                sku: change.featured, canSell: left, level: level, text: "换品:改推\(name),现有\(left)件 / switch to \(name), \(left) in stock"))
            registry.setSwitchBanner(room: room, sku: change.featured, level: level, name: name, left: left, now: Self.monotonicNow())
            publish(room: room, audiences: [.viewer], .banner(
                sku: change.featured, level: level, text: RoomRegistry.switchBannerText(name: name, left: left), left: left))
        case .undo:
            publish(room: room, audiences: [.host], .roomHint(
                sku: change.featured, canSell: stock?.sellable ?? 0, level: level, text: "改回\(name) / back to \(name)"))
            registry.setSwitchBanner(room: room, sku: change.featured, level: level, name: nil, left: 0, now: Self.monotonicNow())
            publish(room: room, audiences: [.viewer], .banner(sku: change.featured, level: level, text: nil, left: nil))
            // The substitute's "in stock" banner goes too: it no longer stands for anything pitched.
            for sku in registry.clearSwitchBanners(room: room) where sku != change.featured {
                let skuLevel = Messages.level(of: registry.sku(sku)?.stock)
                publish(room: room, audiences: [.viewer], .banner(sku: sku, level: skuLevel, text: nil, left: nil))
            }
        }
    }

    /// Sends the room's viewers away with 1012 in `waves` waves spread over `seconds`, without
    /// blocking: every loop drains its own viewers on its timers (``LoopContext/scheduleDrain(room:waves:over:reason:then:)``).
    func drainViewers(room: String, waves: Int, over seconds: Double) {
        for context in contexts {
            context.execute { $0.scheduleDrain(room: room, waves: waves, over: seconds, reason: "room draining; reconnect now") }
        }
    }
}
