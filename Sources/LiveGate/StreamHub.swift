import Foundation
import LiveGateCore
import LiveGatePOSIX
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

/// The room streams: it numbers every message of every stream (`seq`), encodes it once, keeps
/// the last ones for resume, and hands the same bytes to every event loop, which writes them to
/// its local subscribers.
///
/// Publishers are the stock core's release thread (durable batches) and the I/O threads (chat,
/// operator messages). Each publication takes the lock twice, briefly: once to reserve its
/// `seq`s and a ticket, once to commit its encoded frames to the history. Encoding happens in
/// between, outside the lock. Commits are applied in ticket order (a publication that finishes
/// encoding early waits in `encoded` for the ones before it), and one publisher at a time posts
/// the committed frames to the loops, outside the lock, in commit order: so on every loop a
/// stream's messages arrive in `seq` order.
final class StreamHub: Sendable {
    /// A message to number, encode and send on one stream.
    struct Outgoing: Sendable {
        var room: String
        var audience: Audience
        var message: StreamMessage
        /// The conflation key (see ``Delivery/key``).
        var key: UInt32 = 0
        var orderStamp: UInt64 = 0
    }

    private struct Stream: Sendable {
        /// The last seq handed out.
        var reserved: UInt64 = 0
        /// The last seq committed to the history (what a new subscriber starts after).
        var committed: UInt64 = 0
        var history: HistoryRing
    }

    private struct State: Sendable {
        /// Streams by room, then by audience.
        var streams: [String: [Stream]] = [:]
        var nextTicket: UInt64 = 0
        var nextCommit: UInt64 = 0
        /// Encoded publications waiting for an earlier ticket, by ticket.
        var encoded: [UInt64: [Delivery]] = [:]
        /// Committed publications not yet posted to the loops, in order.
        var outbox: [[Delivery]] = []
        var isPosting = false
    }

    private let state: Mutex<State>
    private let historySize: Int
    /// Compresses each publication once for the subscribers that negotiated permessage-deflate
    /// (`nil`: compression is off).
    private let compression: StreamCompression?
    /// Every loop's context: each publication goes to all of them.
    private let contexts: [LoopBound<LoopContext>]
    /// Changes whenever stream history is lost (each process start, as history is not kept).
    /// An edge takes the core's (``setEpoch(_:)``), so `since`/`epoch` resume works at any node.
    var epoch: String { epochState.withLock { $0 } }
    private let epochState: Mutex<String>
    /// Also gets every committed publication, in commit order (the cluster's publisher).
    private let tap = Mutex<(@Sendable ([Delivery]) -> Void)?>(nil)

    /// Sets the function that gets every committed publication after the loops got it.
    func setTap(_ body: @escaping @Sendable ([Delivery]) -> Void) {
        tap.withLock { $0 = body }
    }

    init(historySize: Int, contexts: [LoopBound<LoopContext>], compression: StreamCompression? = nil) {
        state = Mutex(State())
        self.historySize = historySize
        self.compression = compression
        self.contexts = contexts
        epochState = Mutex(String(UInt64(Date().timeIntervalSince1970 * 1000), radix: 36))
    }

    /// Adds the streams of a room (nothing when it has them).
    func addRoom(_ id: String) {
        let size = historySize
        state.withLock { state in
            if state.streams[id] == nil {
                state.streams[id] = Audience.allCases.map { _ in Stream(history: HistoryRing(capacity: size)) }
            }
        }
    }

    /// Numbers, encodes and sends `messages` (on streams that exist), in this order, stamped `rev`.
    func publish(_ messages: [Outgoing], rev: UInt64) {
        guard !messages.isEmpty else { return }
        var seqs = [UInt64](repeating: 0, count: messages.count)
        let ticket = state.withLock { state in
            for (index, message) in messages.enumerated() where state.streams[message.room] != nil {
                state.streams[message.room]![message.audience.rawValue].reserved += 1
                seqs[index] = state.streams[message.room]![message.audience.rawValue].reserved
            }
            defer { state.nextTicket += 1 }
            return state.nextTicket
        }
        var deliveries: [Delivery] = []
        deliveries.reserveCapacity(messages.count)
        for (message, seq) in zip(messages, seqs) where seq != 0 {
            var writer = JSONWriter()
            Messages.write(message.message, audience: message.audience, room: message.room, seq: seq, rev: rev, into: &writer)
            deliveries.append(Delivery(
                room: message.room, audience: message.audience, seq: seq, frame: writer.makeTextFrame(compression: compression), key: message.key,
                orderStamp: message.orderStamp))
        }
        commit(ticket, deliveries)
    }

    /// Numbers an encoded `frame` on one stream and sends it as it is (the benchmark's pub/sub
    /// mode, whose payloads carry no `seq`).
    func publishVerbatim(room: String, audience: Audience, frame: SharedBytes) {
        let reserved: (ticket: UInt64, seq: UInt64)? = state.withLock { state in
            guard state.streams[room] != nil else { return nil }
            state.streams[room]![audience.rawValue].reserved += 1
            defer { state.nextTicket += 1 }
            return (state.nextTicket, state.streams[room]![audience.rawValue].reserved)
        }
        guard let reserved else { return }
        commit(reserved.ticket, [Delivery(room: room, audience: audience, seq: reserved.seq, frame: frame)])
    }

    // MARK: - Edge

    /// An edge: takes the core's epoch.
    func setEpoch(_ epoch: String) {
        epochState.withLock { $0 = epoch }
    }

    /// An edge: the stream continues from a snapshot at `seq` (its history is forgotten).
    func restartRemote(room: String, audience: Audience, after seq: UInt64) {
        state.withLock { state in
            guard state.streams[room] != nil else { return }
            state.streams[room]![audience.rawValue].reserved = seq
            state.streams[room]![audience.rawValue].committed = seq
            state.streams[room]![audience.rawValue].history.restart(after: seq)
        }
    }

    /// An edge: sends a message the core numbered, as it is. The caller gives each stream's
    /// messages in order and without gaps (``restartRemote(room:audience:after:)`` first after one).
    func publishRemote(room: String, audience: Audience, seq: UInt64, frame: SharedBytes, key: UInt32) {
        let ticket: UInt64? = state.withLock { state in
            guard state.streams[room] != nil else { return nil }
            state.streams[room]![audience.rawValue].reserved = seq
            defer { state.nextTicket += 1 }
            return state.nextTicket
        }
        guard let ticket else { return }
        commit(ticket, [Delivery(room: room, audience: audience, seq: seq, frame: frame, key: key)])
    }

    /// The position a new subscriber of a stream starts after.
    func position(room: String, audience: Audience) -> UInt64? {
        state.withLock { $0.streams[room]?[audience.rawValue].committed }
    }

    /// The position of a stream and, when the history still holds every message after `since`,
    /// those messages (`nil` for an unknown room).
    func resume(room: String, audience: Audience, since: UInt64?) -> (seq: UInt64, missed: [SharedBytes]?)? {
        state.withLock { state in
            guard let stream = state.streams[room]?[audience.rawValue] else { return nil }
            return (stream.committed, since.flatMap { stream.history.frames(after: $0) })
        }
    }

    /// Commits a reserved publication once every earlier one is committed, then posts what is
    /// committed unless another publisher is already posting.
    private func commit(_ ticket: UInt64, _ deliveries: [Delivery]) {
        let shouldPost = state.withLock { state in
            state.encoded[ticket] = deliveries
            while let ready = state.encoded.removeValue(forKey: state.nextCommit) {
                for delivery in ready {
                    state.streams[delivery.room]![delivery.audience.rawValue].history.record(seq: delivery.seq, frame: delivery.frame)
                    state.streams[delivery.room]![delivery.audience.rawValue].committed = delivery.seq
                }
                if !ready.isEmpty { state.outbox.append(ready) }
                state.nextCommit += 1
            }
            guard !state.isPosting, !state.outbox.isEmpty else { return false }
            state.isPosting = true
            return true
        }
        guard shouldPost else { return }
        while true {
            let batches: [[Delivery]] = state.withLock { state in
                if state.outbox.isEmpty { state.isPosting = false }
                defer { state.outbox.removeAll() }
                return state.outbox
            }
            if batches.isEmpty { return }
            let tap = self.tap.withLock { $0 }
            for deliveries in batches {
                for context in contexts {
                    context.execute { $0.deliver(deliveries) }
                }
                tap?(deliveries)
            }
        }
    }
}
