import Foundation
import LiveGateCore
import LiveGateHTTP
import LiveGatePOSIX
import LiveGateStock
import LiveGateWebSocket
import Synchronization

/// The services a room connection talks to; shared by every loop.
struct RoomServices: Sendable {
    let rooms: Rooms
    let core: StockEngine
    let tokens: TokenAuthority
    let metrics: GatewayMetrics
    let budgets: Budgets
    let rules: RoomRules
    /// Writes the rooms and SKUs created live to `rooms.json`.
    let persistRooms: @Sendable () throws -> Void
    let replyIntervalMs: UInt64
}

/// A connection to `/ws?token=…`: its role and room come from the token. It starts with a
/// `snapshot` of the room, then receives its role's room stream, and may send the commands
/// its role allows (Protocol/README.md).
///
/// What a message does is decided by ``StateMachine`` without sockets; this class only
/// executes the actions it returns.
final class RoomSession: WebSocketSession {
    /// The services, boxed once for every session: a viewer's session stays a few words.
    final class SharedServices: Sendable {
        let value: RoomServices
        init(_ value: RoomServices) { self.value = value }
    }

    private let shared: SharedServices
    private var services: RoomServices { shared.value }
    /// The protocol state; `nil` when the token was refused.
    private var machine: StateMachine?
    /// Why the token was refused, and its claims when its signature was valid (an expired token): the
    /// refusal is then shown to the room's consoles. Boxed: a refused connection is rare.
    private final class Refusal {
        let error: TokenError
        let claims: TokenClaims?
        init(_ error: TokenError, claims: TokenClaims?) {
            self.error = error
            self.claims = claims
        }
    }
    private let refusal: Refusal?
    private var hasJoined = false
    /// The page the client says it is (`page=` in the URL), for presence.
    private let page: PageKind?

    private let resumeFrom: UInt64?
    private let resumeEpoch: String?

    /// What a connection that sends needs to keep its commands in order; made on its first
    /// message (a viewer that only listens never pays for it).
    private final class Inbound {
        /// Commands of this connection whose durable result (and the room change that follows
        /// it: a policy, a featured SKU, a new SKU, a launch check) has not come back yet. While
        /// there is one, later messages wait in ``held``, so each is decided on the state the
        /// earlier ones left: commands from one connection apply in the order sent. Orders never
        /// wait behind orders.
        var changesInFlight = 0
        /// Messages that arrived while ``changesInFlight`` > 0, in order.
        var held: [(opcode: WebSocketOpcode, payload: [UInt8])] = []
        /// The actions of the message being processed (a buffer reused from message to message).
        var actions: [RoomAction] = []
    }
    private var inbound: Inbound?
    /// At most this many messages wait; one more is refused with `busy`.
    static let maximumHeld = 256

    private var ordering: Inbound {
        if let inbound { return inbound }
        let made = Inbound()
        inbound = made
        return made
    }

    init(head: HTTPRequestHead, services shared: SharedServices) {
        self.shared = shared
        let services = shared.value
        resumeFrom = head.queryParameter("since").flatMap { UInt64($0) }
        resumeEpoch = head.queryParameter("epoch")
        page = PageKind(name: head.queryParameter("page"))
        let token = head.queryParameter("token") ?? bearerToken(head)
        do {
            guard let token else { throw TokenError.missing }
            machine = StateMachine(claims: try services.tokens.verify(token, now: Int64(Date().timeIntervalSince1970)))
            refusal = nil
        } catch let error as TokenError {
            // An expired token with a good signature still says truly which room and role it was for.
            let claims = error == .expired ? token.flatMap { try? services.tokens.verify($0, now: .min) } : nil
            refusal = Refusal(error, claims: claims)
        } catch {
            refusal = Refusal(.malformed("\(error)"), claims: nil)
        }
    }

    func connectionDidOpen(_ connection: Connection) {
        guard let claims = machine?.claims else {
            let reason = refusal.map { "\($0.error)" } ?? "refused"
            Log.event(.info, "ws_refused", ["fd": "\(connection.fd)", "reason": reason])
            connection.close(.policyViolation, reason: reason)
            if let claims = refusal?.claims, services.rooms.registry.hasRoom(claims.room) {
                let record = Presence.Refusal(
                    reason: reason, at: Int64(Date().timeIntervalSince1970), subject: claims.subject, page: page)
                let publication = services.rooms.presence.refused(
                    room: claims.room, role: claims.role, record, now: Posix.monotonicMilliseconds())
                services.rooms.publishPresence(room: claims.room, publication, loop: connection.eventLoop)
            }
            return
        }
        let audience = Audience(claims.role)
        guard let (frames, seq, isResumed) = services.rooms.join(
            room: claims.room, audience: audience, since: resumeFrom, epoch: resumeEpoch)
        else {
            connection.close(.policyViolation, reason: "unknown room \(claims.room)")
            return
        }
        let budgets = services.budgets
        if audience == .viewer {
            connection.softBudget = budgets.viewerSoftBytes
            connection.hardBudget = budgets.viewerHardBytes
        } else {
            connection.isPriority = true
            connection.hardBudget = budgets.priorityHardBytes
        }
        for frame in frames { connection.send(frame) }
        // Counted before a console's own presence message is written, so it counts itself.
        let publication = services.rooms.presence.change(
            room: claims.room, role: claims.role, page: page, by: 1, now: Posix.monotonicMilliseconds())
        services.rooms.publishPresence(room: claims.room, publication, loop: connection.eventLoop)
        if audience == .operator {
            for frame in services.rooms.consoleJoinFrames(room: claims.room) { connection.send(frame) }
        }
        if isResumed { Log.debug("fd \(connection.fd): resumed after seq \(resumeFrom ?? 0) with \(frames.count) message(s)") }
        connection.loopContext.subscribe(connection, room: claims.room, audience: audience, startSeq: seq)
        services.metrics.joined(claims.role)
        hasJoined = true
        Log.event(.info, "join", [
            "fd": "\(connection.fd)", "room": claims.room, "role": claims.role.rawValue, "sub": claims.subject,
            "resumed": isResumed ? "true" : "false", "seq": "\(seq)",
        ])
    }

    func connectionDidClose(_ connection: Connection) {
        connection.loopContext.unsubscribe(connection)
        if hasJoined, let claims = machine?.claims {
            services.metrics.left(claims.role)
            hasJoined = false
            let publication = services.rooms.presence.change(
                room: claims.room, role: claims.role, page: page, by: -1, now: Posix.monotonicMilliseconds())
            services.rooms.publishPresence(room: claims.room, publication, loop: connection.eventLoop)
        }
    }

    func connection(_ connection: Connection, didReceive opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) {
        guard machine != nil else { return }
        shared.value.metrics.messagesIn.wrappingAdd(1, ordering: .relaxed)
        let ordering = self.ordering
        guard ordering.changesInFlight == 0 && ordering.held.isEmpty else {
            guard ordering.held.count < Self.maximumHeld else {
                let error = ProtocolError(.busy, "more than \(Self.maximumHeld) messages wait for an earlier command's result; retry")
                execute(.reply(.error(id: nil, error)), on: connection)
                return
            }
            ordering.held.append((opcode, [UInt8](payload)))
            return
        }
        process(opcode, payload, on: connection)
    }

    private func process(_ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer, on connection: Connection) {
        // One buffer per session, reused (never re-entered: results and follow-ups arrive as
        // later loop tasks, not from inside `execute`).
        let ordering = self.ordering
        ordering.actions.removeAll(keepingCapacity: true)
        machine!.received(
            opcode, payload: payload, rooms: shared.value.rooms.registry, rules: shared.value.rules,
            now: Posix.monotonicMilliseconds(), into: &ordering.actions)
        for index in ordering.actions.indices { execute(ordering.actions[index], on: connection) }
    }

    /// A command that changes the room came back (on this connection's loop): go on with the
    /// messages that waited for it, until one more such command is in flight.
    fileprivate func changeCompleted(on connection: Connection) {
        let ordering = self.ordering
        ordering.changesInFlight -= 1
        while ordering.changesInFlight == 0 && !ordering.held.isEmpty {
            let (opcode, payload) = ordering.held.removeFirst()
            payload.withUnsafeBytes { process(opcode, $0, on: connection) }
        }
    }

    // MARK: Actions

    private func execute(_ action: RoomAction, on connection: Connection) {
        guard let claims = machine?.claims else { return }
        let rooms = shared.value.rooms
        switch action {
        case .reply(let reply):
            var writer = JSONWriter()
            switch reply {
            case .pong(let id): Messages.writePong(&writer, id: id)
            case .done(let id, let kind): Messages.writeLocalResult(&writer, id: id, command: kind)
            case .error(let id, let error): Messages.writeError(&writer, id: id, error: error)
            }
            connection.send(writer.makeTextFrame())
        case .submit(let command, let submission):
            submit(command, submission, connection: connection, subject: claims.subject)
        case .publish(let room, let audiences, let message):
            if case .ack(let alert, let by) = message { rooms.alertLog.acknowledge(room: room, id: alert, by: by) }
            rooms.publish(room: room, audiences: audiences, message)
        case .createRoom(let room, let id):
            guard rooms.createRoom(room) else {
                execute(.reply(.error(id: id, .badField("room", "room \(room.id) exists, or one of its SKUs does not"))), on: connection)
                return
            }
            do {
                try services.persistRooms()
            } catch {
                execute(.reply(.error(id: id, ProtocolError(.internal, "\(error)"))), on: connection)
                return
            }
            Log.event(.info, "room_created", ["room": room.id, "by": claims.subject, "skus": room.skus.joined(separator: ",")])
            execute(.reply(.done(id: id, .createRoom)), on: connection)
        case .launch(let sku, let seconds, let id):
            launch(sku: sku, seconds: seconds, id: id, connection: connection, subject: claims.subject)
        case .drain(let room, let waves, let seconds):
            Log.event(.info, "drain", ["room": room, "by": claims.subject, "waves": "\(waves)", "seconds": "\(seconds)"])
            rooms.drainViewers(room: room, waves: waves, over: Double(seconds))
        case .answerStockQuestion(let room):
            if let reply = rooms.registry.stockReply(room: room, intervalMs: services.replyIntervalMs, now: Posix.monotonicMilliseconds()) {
                rooms.publish(room: room, audiences: [.viewer, .host, .operator], .systemLine(reply))
            }
        }
    }

    /// "3, 2, 1, link is up": a countdown on every stream, then the SKU's sales open with one
    /// journaled command at one core time (the engine takes the resume as the launch marker, so
    /// the spike raises no trend alert); the result goes back to the operator.
    private func launch(sku: String, seconds: Int, id: String?, connection: Connection, subject: String) {
        // Whether the SKU is paused is read through the core: the read is queued behind this
        // connection's earlier commands (a `pause` sent just before counts), unlike the rooms'
        // copy of the figures, which follows the durable batches.
        let handle = connection.handle
        let status = services.core.submit(.readSkus([sku])) { result in
            let isPaused = result.skus.first?.isPaused == true
            handle.execute { _, connection in
                guard let session = connection.state.session as? RoomSession else { return }
                if isPaused {
                    session.startCountdown(sku: sku, seconds: seconds, id: id, connection: connection, subject: subject)
                } else {
                    let error = ProtocolError.badField("sku", "launch opens the sales of a paused SKU; pause \(sku) first")
                    session.execute(.reply(.error(id: id, error)), on: connection)
                }
                session.changeCompleted(on: connection)
                connection.flush()
            }
        }
        switch status {
        case .accepted: ordering.changesInFlight += 1
        case .busy: execute(.reply(.error(id: id, ProtocolError(.busy, "the stock core is at capacity; retry"))), on: connection)
        case .unavailable:
            execute(.reply(.error(id: id, ProtocolError(.unavailable, "the stock core is not accepting commands"))), on: connection)
        }
    }

    private func startCountdown(sku: String, seconds: Int, id: String?, connection: Connection, subject: String) {
        let rooms = services.rooms, core = services.core
        guard let room = machine?.claims.room else { return }
        let loop = connection.eventLoop, operatorConnection = connection.handle
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
                let frame = writer.makeTextFrame()
                operatorConnection.execute { _, connection in
                    connection.send(frame)
                    connection.flush()
                }
            }
        }
    }

    /// Submits to the stock core; the result goes back to this connection once durable, with the
    /// submission's follow-up applied around it.
    private func submit(_ command: StockCommand, _ submission: Submission, connection: Connection, subject: String) {
        let handle = connection.handle
        // One reference to the shared services, not a copy of their fields (this runs per order).
        let shared = self.shared
        let isOrder = submission.kind == .order
        let changesRoom = submission.followUp != nil
        // What an operator's command did, for the SKU's chart (never computed for an order).
        let action = isOrder ? nil : Self.chartLabel(of: command, followUp: submission.followUp)
        let arrivedAt = Posix.monotonicNanoseconds()
        let status = shared.value.core.submit(command) { result in
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
            let frame = writer.makeTextFrame()
            handle.execute { context, connection in context.sendAtEndOfTurn(frame, to: connection) }
            // Queued behind the reply on this connection's loop: what it publishes arrives after it.
            if case .commitFeatured(let change) = submission.followUp, succeeded {
                rooms.commitFeatured(change)
                let event = switch change.kind { case .feature: "feature"; case .undo: "undo_switch"; case .switchover: "switch" }
                Log.event(.info, event, ["room": change.room, "by": subject, "from": change.beforeSwitch ?? "", "featured": change.featured])
            }
            // The room now reflects the change: the messages that waited for it may go on.
            if changesRoom {
                handle.execute { _, connection in
                    (connection.state.session as? RoomSession)?.changeCompleted(on: connection)
                    connection.flush()
                }
            }
        }
        switch status {
        case .accepted: if changesRoom { ordering.changesInFlight += 1 }
        case .busy:
            execute(.reply(.error(id: submission.id, ProtocolError(.busy, "the stock core is at capacity; retry"))), on: connection)
        case .unavailable:
            execute(.reply(.error(id: submission.id, ProtocolError(.unavailable, "the stock core is not accepting commands"))),
                    on: connection)
        }
    }
}

extension RoomSession {
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

/// Outbound budgets per role, in bytes.
struct Budgets: Sendable {
    var viewerSoftBytes: Int
    var viewerHardBytes: Int
    var priorityHardBytes: Int
}

/// The token in `Authorization: Bearer …`, if any.
func bearerToken(_ head: HTTPRequestHead) -> String? {
    guard let value = head.headers.first("authorization"), value.lowercased().hasPrefix("bearer ") else { return nil }
    return String(value.dropFirst(7)).trimmingCharacters(in: .whitespaces)
}

/// Typed access to a client message's fields, with errors that name the field.
struct MessageFields {
    let object: [String: JSONValue]

    init(_ object: [String: JSONValue]) {
        self.object = object
    }

    /// The client's correlation id, echoed in the answer as a string: a string of 1 to 128 bytes
    /// or an integer (a JSON number without fraction or exponent that fits in 64 bits).
    /// Anything else is refused, the same way for every message.
    func id() throws -> String? {
        switch object["id"] {
        case nil, .null?: return nil
        case .string(let value)? where !value.isEmpty && value.utf8.count <= 128: return value
        case .int(let value)?: return String(value)
        default: throw ProtocolError.badField("id", "id must be a string of 1 to 128 bytes or an integer")
        }
    }

    func string(_ key: String) throws -> String {
        guard let value = object[key] else { throw ProtocolError.badField(key, "\(key) is required") }
        guard case .string(let string) = value, !string.isEmpty else {
            throw ProtocolError.badField(key, "\(key) must be a non-empty string")
        }
        return string
    }

    func optionalString(_ key: String) throws -> String? {
        guard let value = object[key] else { return nil }
        if case .null = value { return nil }
        guard case .string(let string) = value else { throw ProtocolError.badField(key, "\(key) must be a string") }
        return string
    }

    func integer(_ key: String, range: ClosedRange<Int64>) throws -> Int64 {
        guard let value = object[key] else { throw ProtocolError.badField(key, "\(key) is required") }
        guard case .int(let int) = value, range.contains(Int64(int)) else {
            throw ProtocolError.badField(key, "\(key) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return Int64(int)
    }

    func optionalInteger(_ key: String) throws -> Int64? {
        guard let value = object[key] else { return nil }
        switch value {
        case .null: return nil
        case .int(let int): return Int64(int)
        case .double(let double) where double.isFinite && abs(double) < 9e18: return Int64(double)
        default: throw ProtocolError.badField(key, "\(key) must be a number")
        }
    }
}
