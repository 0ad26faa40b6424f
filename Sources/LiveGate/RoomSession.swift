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

    /// The connection's commands in the order sent, and where their answers go; made on its
    /// first message (a viewer that only listens never pays for it).
    private var inbound: CommandOrdering?

    private func ordering(_ connection: Connection) -> CommandOrdering {
        if let inbound { return inbound }
        let handle = connection.handle
        let peer = RoomPeer(
            send: { frame in handle.execute { context, connection in context.sendAtEndOfTurn(frame, to: connection) } },
            changeCompleted: {
                handle.execute { _, connection in
                    (connection.state.session as? RoomSession)?.changeCompleted(on: connection)
                    connection.flush()
                }
            })
        let made = CommandOrdering(
            executor: RoomExecutor(shared: shared, claims: machine!.claims, peer: peer, loop: connection.eventLoop))
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
        services.budgets.apply(to: connection, audience: audience)
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
        let ordering = self.ordering(connection)
        switch ordering.admit(opcode, payload) {
        case .now: ordering.process(opcode, payload, machine: &machine!, reply: { connection.send($0) })
        case .held: break
        case .refused: connection.send(CommandOrdering.busyFrame())
        }
    }

    /// A command that changes the room came back (on this connection's loop): go on with the
    /// messages that waited for it, until one more such command is in flight.
    fileprivate func changeCompleted(on connection: Connection) {
        guard machine != nil else { return }
        ordering(connection).changeCompleted(machine: &machine!, reply: { connection.send($0) })
    }
}

/// Outbound budgets per role, in bytes.
struct Budgets: Sendable {
    var viewerSoftBytes: Int
    var viewerHardBytes: Int
    var priorityHardBytes: Int

    /// Gives a joining connection its audience's budgets: a viewer's soft and hard ones, or
    /// priority (host, operator, connector) with its hard one.
    func apply(to connection: Connection, audience: Audience) {
        if audience == .viewer {
            connection.softBudget = viewerSoftBytes
            connection.hardBudget = viewerHardBytes
        } else {
            connection.isPriority = true
            connection.hardBudget = priorityHardBytes
        }
    }
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
