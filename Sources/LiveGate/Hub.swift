import Foundation
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
        var seq: [UInt64] = Array(repeating: 0, count: Audience.allCases.count)
    }

    struct State: Sendable {
        var skus: [String: SkuState] = [:]
        var series: [String: Series] = [:]
        var rooms: [String: RoomState] = [:]
        var roomsBySku: [String: [String]] = [:]
        var rev: UInt64 = 0
    }

    private let state: Mutex<State>
    private let loops: [EventLoop]
    /// Changes whenever stream history is lost (each process start, as history is not kept).
    let epoch: String

    init(configuration: Configuration, loops: [EventLoop]) {
        var initial = State()
        for sku in configuration.skus {
            initial.skus[sku.id] = SkuState(id: sku.id, name: sku.name, substitute: sku.substitute, stock: nil)
        }
        for room in configuration.rooms {
            initial.rooms[room.id] = RoomState(id: room.id, title: room.title, skus: room.skus, featured: room.featured)
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

    /// Called on the stock core's writer thread after a durable batch: one `stock` message per
    /// changed SKU per room stream that lists it.
    func stockChanged(_ publications: [StockPublication]) {
        var deliveries: [Delivery] = []
        state.withLock { state in
            let now = Int64(Date().timeIntervalSince1970)
            for publication in publications {
                state.skus[publication.sku]?.stock = publication
                state.rev = max(state.rev, publication.rev)
                guard let sku = state.skus[publication.sku] else { continue }
                state.series[publication.sku, default: Series()].record(
                    time: now, sellable: publication.sellable, sold: publication.sold, ratePerMin: nil)
                for roomId in state.roomsBySku[publication.sku] ?? [] {
                    for audience in Audience.everyone {
                        let seq = nextSeq(&state, room: roomId, audience: audience)
                        var writer = JSONWriter()
                        Messages.writeStock(&writer, room: roomId, seq: seq, rev: state.rev, sku: sku, stock: publication)
                        deliveries.append(Delivery(room: roomId, audience: audience, seq: seq, frame: writer.makeTextFrame()))
                    }
                }
            }
            post(deliveries)
        }
    }

    /// Publishes a message built by `build(seq, rev)` on the given streams of `room`.
    func publish(room: String, audiences: [Audience], build: (inout JSONWriter, UInt64, UInt64) -> Void) {
        state.withLock { state in
            guard state.rooms[room] != nil else { return }
            var deliveries: [Delivery] = []
            for audience in audiences {
                let seq = nextSeq(&state, room: room, audience: audience)
                var writer = JSONWriter()
                build(&writer, seq, state.rev)
                deliveries.append(Delivery(room: room, audience: audience, seq: seq, frame: writer.makeTextFrame()))
            }
            post(deliveries)
        }
    }

    /// Publishes `payload` verbatim as one text frame on a stream (the benchmark's pub/sub
    /// mode): the same encode-once, per-loop fan-out path as every room message.
    func publishVerbatim(room: String, audience: Audience, payload: UnsafeRawBufferPointer) {
        let frame = WebSocketFrameEncoder.makeSharedFrame(opcode: .text, payload: payload)
        state.withLock { state in
            guard state.rooms[room] != nil else { return }
            let seq = nextSeq(&state, room: room, audience: audience)
            post([Delivery(room: room, audience: audience, seq: seq, frame: frame)])
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
                state.rooms[id] = RoomState(id: id, title: id, skus: [], featured: nil)
            }
        }
    }

    /// Changes the featured SKU and tells every stream. Returns `false` for an unknown SKU.
    func feature(room: String, sku: String) -> Bool {
        let isKnown = state.withLock { state -> Bool in
            guard state.rooms[room]?.skus.contains(sku) == true else { return false }
            state.rooms[room]?.featured = sku
            return true
        }
        guard isKnown else { return false }
        publish(room: room, audiences: Audience.everyone) { writer, seq, rev in
            writer.beginObject()
            writer.field("type", "featured")
            writer.field("room", room)
            writer.field("seq", seq)
            writer.field("rev", rev)
            writer.field("sku", sku)
            writer.endObject()
        }
        return true
    }

    /// The snapshot a new subscriber starts from, and the stream position it reflects:
    /// the subscriber then takes only messages with a larger `seq`.
    func snapshot(room: String, audience: Audience) -> (frame: SharedBytes, seq: UInt64)? {
        state.withLock { state in
            guard let roomState = state.rooms[room] else { return nil }
            let seq = roomState.seq[audience.rawValue]
            var writer = JSONWriter(capacity: 1024)
            Messages.writeSnapshot(&writer, room: roomState, skus: state.skus, seq: seq, rev: state.rev, epoch: epoch)
            return (writer.makeTextFrame(), seq)
        }
    }

    /// The room's snapshot as JSON (HTTP `GET /v1/rooms/{room}/stock`).
    func snapshotJSON(room: String) -> [UInt8]? {
        state.withLock { state in
            guard let roomState = state.rooms[room] else { return nil }
            var writer = JSONWriter(capacity: 1024)
            Messages.writeSnapshot(
                &writer, room: roomState, skus: state.skus, seq: roomState.seq[Audience.operator.rawValue],
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

    private func nextSeq(_ state: inout State, room: String, audience: Audience) -> UInt64 {
        state.rooms[room]!.seq[audience.rawValue] += 1
        return state.rooms[room]!.seq[audience.rawValue]
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
