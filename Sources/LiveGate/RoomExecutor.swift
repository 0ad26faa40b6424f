import Foundation
import LiveGateCore
import LiveGatePOSIX
import LiveGateStock
import LiveGateWebSocket

/// Where the answers to one client's room commands go, callable from any thread: a socket at
/// this node (``RoomSession``) or a client of an edge, through Redis (``ClusterInbox``). Each
/// closure runs its work on the client's owner, after what it was given before.
struct RoomPeer: Sendable {
    /// Sends a frame to the client (a durable `result`, a launch's outcome).
    let send: @Sendable (SharedBytes) -> Void
    /// A command that changes the room came back: the client's held messages may go on.
    let changeCompleted: @Sendable () -> Void
}

/// One client's messages in the order it sent them. While a command that changes the room (a
/// policy, a featured SKU, a new SKU, a launch check) waits for its durable result, later
/// messages wait in ``held``, so each is decided on the state the earlier ones left. Orders
/// never wait behind orders. Made on a client's first message: a viewer that only listens never
/// pays for it.
final class CommandOrdering {
    /// At most this many messages wait; one more is refused with `busy`.
    static let maximumHeld = 256

    enum Admission {
        /// Process it now.
        case now
        /// It waits for an earlier command (``next()`` gives it back).
        case held
        /// Too many wait: answer `busy`.
        case refused
    }

    /// How the client's actions run, with its answers' destination.
    let executor: RoomExecutor
    var changesInFlight = 0
    private var held: [(opcode: WebSocketOpcode, payload: [UInt8])] = []
    /// The actions of the message being processed (a buffer reused from message to message).
    var actions: [RoomAction] = []

    init(executor: RoomExecutor) {
        self.executor = executor
    }

    func admit(_ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer) -> Admission {
        guard changesInFlight == 0 && held.isEmpty else {
            guard held.count < Self.maximumHeld else { return .refused }
            held.append((opcode, [UInt8](payload)))
            return .held
        }
        return .now
    }

    /// The next held message, once no change is in flight.
    func next() -> (opcode: WebSocketOpcode, payload: [UInt8])? {
        guard changesInFlight == 0, !held.isEmpty else { return nil }
        return held.removeFirst()
    }

    /// Decides `payload` with `machine` and runs its actions; `reply` sends an immediate answer.
    func process(
        _ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer, machine: inout RoomSession.StateMachine,
        reply: (SharedBytes) -> Void
    ) {
        // One buffer per client, reused (never re-entered: results and follow-ups arrive as
        // later loop tasks, not from inside `execute`).
        actions.removeAll(keepingCapacity: true)
        let services = executor.shared.value
        machine.received(
            opcode, payload: payload, rooms: services.rooms.registry, rules: services.rules,
            now: Posix.monotonicMilliseconds(), into: &actions)
        for index in actions.indices where executor.execute(actions[index], reply: reply) {
            changesInFlight += 1
        }
    }

    /// A change came back: runs the messages that waited for it, until one more change is in flight.
    func changeCompleted(machine: inout RoomSession.StateMachine, reply: (SharedBytes) -> Void) {
        changesInFlight -= 1
        while let (opcode, payload) = next() {
            payload.withUnsafeBytes { process(opcode, $0, machine: &machine, reply: reply) }
        }
    }

    static func busyFrame() -> SharedBytes {
        errorFrame(id: nil, ProtocolError(.busy, "more than \(maximumHeld) messages wait for an earlier command's result; retry"))
    }
}

/// An `error` message as a frame.
func errorFrame(id: String?, _ error: ProtocolError) -> SharedBytes {
    var writer = JSONWriter()
    Messages.writeError(&writer, id: id, error: error)
    return writer.makeTextFrame()
}

/// Carries out a room client's actions (``RoomAction``) against the rooms and the stock core,
/// wherever the client is connected: only how answers travel (``RoomPeer``) differs.
struct RoomExecutor: Sendable {
    let shared: RoomSession.SharedServices
    let claims: TokenClaims
    let peer: RoomPeer
    /// The loop that schedules a launch's countdown.
    let loop: EventLoop

    private var services: RoomServices { shared.value }

    /// Runs `action`; `reply` sends an immediate answer on the caller's loop. Returns whether
    /// it put a change in flight: the caller then holds the client's later messages until
    /// ``RoomPeer/changeCompleted`` runs.
    func execute(_ action: RoomAction, reply: (SharedBytes) -> Void) -> Bool {
        let rooms = services.rooms
        switch action {
        case .reply(let answer):
            var writer = JSONWriter()
            switch answer {
            case .pong(let id): Messages.writePong(&writer, id: id)
            case .done(let id, let kind): Messages.writeLocalResult(&writer, id: id, command: kind)
            case .error(let id, let error): Messages.writeError(&writer, id: id, error: error)
            }
            reply(writer.makeTextFrame())
        case .submit(let command, let submission):
            return submit(command, submission, reply: reply)
        case .publish(let room, let audiences, let message):
            if case .ack(let alert, let by) = message { rooms.alertLog.acknowledge(room: room, id: alert, by: by) }
            rooms.publish(room: room, audiences: audiences, message)
        case .createRoom(let room, let id):
            guard rooms.createRoom(room) else {
                reply(errorFrame(id: id, .badField("room", "room \(room.id) exists, or one of its SKUs does not")))
                return false
            }
            do {
                try services.persistRooms()
            } catch {
                reply(errorFrame(id: id, ProtocolError(.internal, "\(error)")))
                return false
            }
            Log.event(.info, "room_created", ["room": room.id, "by": claims.subject, "skus": room.skus.joined(separator: ",")])
            return execute(.reply(.done(id: id, .createRoom)), reply: reply)
        case .launch(let sku, let seconds, let id):
            return launch(sku: sku, seconds: seconds, id: id, reply: reply)
        case .drain(let room, let waves, let seconds):
            Log.event(.info, "drain", ["room": room, "by": claims.subject, "waves": "\(waves)", "seconds": "\(seconds)"])
            rooms.drainViewers(room: room, waves: waves, over: Double(seconds))
        case .answerStockQuestion(let room):
            if let answer = rooms.registry.stockReply(room: room, intervalMs: services.replyIntervalMs, now: Posix.monotonicMilliseconds()) {
                rooms.publish(room: room, audiences: [.viewer, .host, .operator], .systemLine(answer))
            }
        }
        return false
    }

    /// "3, 2, 1, link is up": a countdown on every stream, then the SKU's sales open with one
    /// journaled command at one core time (the engine takes the resume as the launch marker, so
    /// the spike raises no trend alert); the result goes back to the operator.
    private func launch(sku: String, seconds: Int, id: String?, reply: (SharedBytes) -> Void) -> Bool {
        // Whether the SKU is paused is read through the core: the read is queued behind this
        // client's earlier commands (a `pause` sent just before counts), unlike the rooms'
        // copy of the figures, which follows the durable batches.
        let executor = self
        let status = services.core.submit(.readSkus([sku])) { result in
            if result.skus.first?.isPaused == true {
                executor.loop.execute { executor.startCountdown(sku: sku, seconds: seconds, id: id) }
            } else {
                executor.peer.send(errorFrame(id: id, .badField("sku", "launch opens the sales of a paused SKU; pause \(sku) first")))
            }
            executor.peer.changeCompleted()
        }
        return accepted(status, id: id, reply: reply)
    }

    /// On ``loop``: schedules the countdown.
    private func startCountdown(sku: String, seconds: Int, id: String?) {
        let rooms = services.rooms, core = services.core, peer = self.peer
        let room = claims.room, subject = claims.subject
        Log.event(.info, "launch", ["room": room, "by": subject, "sku": sku, "in": "\(seconds)"])
        rooms.series.act(sku: sku, time: Int64(Date().timeIntervalSince1970), action: "launch in \(seconds) s", by: subject)
        for remaining in stride(from: seconds, through: 1, by: -1) {
            loop.schedule(afterMilliseconds: UInt64(seconds - remaining) * 1000) {
                rooms.publish(room: room, audiences: Audience.everyone, .launch(sku: sku, remaining: Int64(remaining)))
            }
        }
        loop.schedule(afterMilliseconds: UInt64(seconds) * 1000) {
            _ = core.submit(.resume(sku: sku)) { result in
                if result.outcome.isSuccess {
                    rooms.publish(room: room, audiences: Audience.everyone, .launch(sku: sku, remaining: 0))
                }
                var writer = JSONWriter()
                Messages.writeResult(&writer, id: id, command: .launch, result: result, sku: sku)
                peer.send(writer.makeTextFrame())
            }
        }
    }

    /// Submits to the stock core; the result goes to the peer once durable, with the
    /// submission's follow-up applied around it.
    private func submit(_ command: StockCommand, _ submission: Submission, reply: (SharedBytes) -> Void) -> Bool {
        // One reference to the shared services, not a copy of their fields (this runs per order).
        let shared = self.shared, peer = self.peer, subject = claims.subject
        let isOrder = submission.kind == .order
        let changesRoom = submission.followUp != nil
        // What an operator's command did, for the SKU's chart (never computed for an order).
        let action = isOrder ? nil : Self.chartLabel(of: command, followUp: submission.followUp)
        let arrivedAt = Posix.monotonicNanoseconds()
        // The loop wakes the writer after its events (Gateway.start): orders read together share a batch.
        let status = shared.value.core.submit(command, wakesWriter: false) { result in
            let rooms = shared.value.rooms
            if isOrder {
                shared.value.metrics.order(result.outcome)
                if result.outcome.isSuccess && !result.isDuplicate { rooms.noteOrder(rev: result.rev, arrivedAt: arrivedAt) }
            }
            let succeeded = result.outcome.isSuccess
            switch submission.followUp {
            case .addSku(let stored, let policy, let room) where succeeded:
                rooms.registry.addSku(stored, policy: policy, to: room)
                do {
                    try shared.value.persistRooms()
                } catch {
                    Log.error("room \(room): SKU \(stored.id) was created but rooms.json could not be written: \(error)")
                }
                Log.event(.info, "sku_created", ["room": room, "sku": stored.id])
            case .setPolicy(let policy, let sku) where succeeded:
                rooms.registry.setPolicy(policy, for: sku)
                rooms.publishPolicy(policy, for: sku)
            default:
                break
            }
            if let action, succeeded {
                rooms.series.act(sku: action.sku, time: Int64(Date().timeIntervalSince1970), action: action.text, by: subject)
            }
            var writer = JSONWriter()
            Messages.writeResult(&writer, id: submission.id, command: submission.kind, result: result, sku: submission.sku)
            peer.send(writer.makeTextFrame())
            // Queued behind the reply: what it publishes arrives after it.
            if case .commitFeatured(let change) = submission.followUp, succeeded {
                rooms.commitFeatured(change)
                let event = switch change.kind { case .feature: "feature"; case .undo: "undo_switch"; case .switchover: "switch" }
                Log.event(.info, event, ["room": change.room, "by": subject, "from": change.beforeSwitch ?? "", "featured": change.featured])
            }
            // The room now reflects the change: the messages that waited for it may go on.
            if changesRoom { peer.changeCompleted() }
        }
        return accepted(status, id: submission.id, reply: reply) && changesRoom
    }

    /// Whether the core took the command; if not, the sender is told why.
    private func accepted(_ status: SubmitStatus, id: String?, reply: (SharedBytes) -> Void) -> Bool {
        switch status {
        case .accepted: return true
        case .busy: reply(errorFrame(id: id, ProtocolError(.busy, "the stock core is at capacity; retry")))
        case .unavailable: reply(errorFrame(id: id, ProtocolError(.unavailable, "the stock core is not accepting commands")))
        }
        return false
    }

    /// An operator command as the SKU's chart labels it ("restock +200", "switch from A"), or `nil` for what
    /// is not drawn (ticks, orders).
    static func chartLabel(of command: StockCommand, followUp: Submission.FollowUp?) -> (sku: String, text: String)? {
        switch command {
        case .restock(let sku, let quantity, _): return (sku, "restock +\(quantity)")
        case .adjust(let sku, let onHand, _): return (sku, "count: on hand \(onHand)")
        case .hold(let sku, let quantity): return (sku, "hold \(quantity)")
        case .release(let sku, let quantity): return (sku, "release \(quantity)")
        case .pause(let sku): return (sku, "pause")
        case .resume(let sku): return (sku, "resume")
        case .setPolicy(let sku, _): return (sku, "policy changed")
        case .createSku(let sku, let onHand, _): return (sku, "created with \(onHand)")
        case .setNote:
            guard case .commitFeatured(let change)? = followUp else { return nil }
            switch change.kind {
            case .feature: return (change.featured, "featured")
            case .switchover: return (change.featured, "switch from \(change.beforeSwitch ?? "?")")
            case .undo: return (change.featured, "undo switch")
            }
        case .order, .tick, .readSkus, .readOrder: return nil
        }
    }
}
