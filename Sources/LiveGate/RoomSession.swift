import Dispatch
import Foundation
import LiveGateAlerts
import LiveGateCore
import LiveGateHTTP
import LiveGatePOSIX
import LiveGateStock
import LiveGateWebSocket
import Synchronization

/// The services a room connection talks to; shared by every loop.
struct RoomServices: Sendable {
    let hub: Hub
    let core: StockEngine
    let tokens: TokenAuthority
    let metrics: GatewayMetrics
    let budgets: Budgets
    let stockQuestionKeywords: [String]
    /// The policy a SKU created live starts with.
    let defaultPolicy: SkuPolicy
    /// Writes the rooms and SKUs created live to `rooms.json`.
    let persistRooms: @Sendable () throws -> Void
    let replyIntervalMs: UInt64
    let alertHorizon: Int64
    let danmakuMaxCharacters: Int
    let danmakuPer10Seconds: Int
    /// Whether the stock core's clock is external, so operators' `tick` commands move core time.
    var isExternalClock = false
}

/// A connection to `/ws?token=…`: its role and room come from the token. It starts with a
/// `snapshot` of the room, then receives its role's room stream, and may send the commands
/// its role allows (Protocol/README.md).
final class RoomSession: WebSocketSession {
    /// The services, boxed once for every session: a viewer's session stays a few words.
    final class SharedServices: Sendable {
        let value: RoomServices
        init(_ value: RoomServices) { self.value = value }
    }

    private let shared: SharedServices
    private var services: RoomServices { shared.value }
    private let claims: Result<TokenClaims, TokenError>
    private var danmakuWindowStart: UInt64 = 0
    private var danmakuInWindow = 0
    private var hasJoined = false

    private let resumeFrom: UInt64?
    private let resumeEpoch: String?

    init(head: HTTPRequestHead, services shared: SharedServices) {
        self.shared = shared
        let services = shared.value
        resumeFrom = head.queryParameter("since").flatMap { UInt64($0) }
        resumeEpoch = head.queryParameter("epoch")
        let token = head.queryParameter("token") ?? bearerToken(head)
        if let token {
            do {
                claims = .success(try services.tokens.verify(token, now: Int64(Date().timeIntervalSince1970)))
            } catch {
                claims = .failure(error)
            }
        } else {
            claims = .failure(.missing)
        }
    }

    func connectionDidOpen(_ connection: Connection) {
        let claims: TokenClaims
        switch self.claims {
        case .failure(let error):
            Log.event(.info, "ws_refused", ["fd": "\(connection.fd)", "reason": "\(error)"])
            connection.close(code: WebSocketCloseCode.policyViolation, reason: "\(error)")
            return
        case .success(let value):
            claims = value
        }
        let audience = Audience(claims.role)
        guard let (frames, seq, isResumed) = services.hub.join(
            room: claims.room, audience: audience, since: resumeFrom, epoch: resumeEpoch)
        else {
            connection.close(code: WebSocketCloseCode.policyViolation, reason: "unknown room \(claims.room)")
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
        if hasJoined, case .success(let claims) = claims {
            services.metrics.left(claims.role)
            hasJoined = false
        }
    }

    func connection(_ connection: Connection, didReceive opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) {
        guard case .success(let claims) = claims else { return }
        services.metrics.messagesIn.wrappingAdd(1, ordering: .relaxed)
        var id: String?
        do {
            guard opcode == .text else { throw ProtocolError("badMessage", "messages are JSON text frames") }
            let value: JSONValue
            do throws(JSONParseError) {
                value = try JSONValue.parse(bytes: payload, maximumDepth: 32)
            } catch {
                throw ProtocolError("badMessage", error.description)
            }
            guard case .object(let message) = value else { throw ProtocolError("badMessage", "not a JSON object") }
            id = MessageFields(message).id
            try handle(try ClientMessage.decode(message), claims: claims, connection: connection)
        } catch let error as ProtocolError {
            var writer = JSONWriter()
            Messages.writeError(&writer, id: id, error: error)
            connection.send(writer.makeTextFrame())
        } catch {
            var writer = JSONWriter()
            Messages.writeError(&writer, id: id, error: ProtocolError("internal", "\(error)"))
            connection.send(writer.makeTextFrame())
        }
    }

    private func handle(_ decoded: (id: String?, message: ClientMessage), claims: TokenClaims, connection: Connection) throws {
        let room = claims.room
        let id = decoded.id
        let message = decoded.message
        let type = message.type
        switch message {
        case .ping:
            var writer = JSONWriter()
            writer.beginObject()
            writer.field("type", "pong")
            writer.field("id", id)
            writer.endObject()
            connection.send(writer.makeTextFrame())
        case .order(let orderId, let requestedChannel, let sku, let quantity, let state, let ts):
            try require(claims, [.connector, .service], for: type)
            let event = try OrdersAPI.makeOrderEvent(
                orderId: orderId, channel: requestedChannel, sku: sku, quantity: quantity, state: state, ts: ts,
                claims: claims, hub: services.hub)
            submit(.order(event), command: type, sku: sku, id: id, connection: connection)
        case .restock(let sku, let quantity, let source):
            try require(claims, [.operator], for: type)
            try checkSku(sku, room: room)
            submit(.restock(sku: sku, quantity: quantity, source: source ?? claims.subject), command: type, sku: sku, id: id, connection: connection)
        case .adjust(let sku, let onHand, let reason):
            try require(claims, [.operator], for: type)
            try checkSku(sku, room: room)
            submit(.adjust(sku: sku, onHand: onHand, reason: reason ?? "count by \(claims.subject)"), command: type, sku: sku,
                   id: id, connection: connection)
        case .hold(let sku, let quantity):
            try require(claims, [.operator], for: type)
            try checkSku(sku, room: room)
            submit(.hold(sku: sku, quantity: quantity), command: type, sku: sku, id: id, connection: connection)
        case .release(let sku, let quantity):
            try require(claims, [.operator], for: type)
            try checkSku(sku, room: room)
            submit(.release(sku: sku, quantity: quantity), command: type, sku: sku, id: id, connection: connection)
        case .pause(let sku):
            try require(claims, [.operator], for: type)
            try checkSku(sku, room: room)
            submit(.pause(sku: sku), command: type, sku: sku, id: id, connection: connection)
        case .resume(let sku):
            try require(claims, [.operator], for: type)
            try checkSku(sku, room: room)
            submit(.resume(sku: sku), command: type, sku: sku, id: id, connection: connection)
        case .feature(let sku):
            try require(claims, [.operator], for: type)
            try checkSku(sku, room: room)
            guard let change = services.hub.planFeature(room: room, sku: sku) else {
                throw ProtocolError.badField("sku", "\(sku) is not one of the room's SKUs")
            }
            journalFeatured(change, command: type, id: id, connection: connection, by: claims.subject)
        case .createRoom(let newRoom, let title, let skus):
            try require(claims, [.operator, .service], for: type)
            guard newRoom.utf8.count <= 64, newRoom.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw ProtocolError.badField("room", "a room id is 1 to 64 letters, digits, - or _")
            }
            guard services.hub.createRoom(RoomStore.StoredRoom(id: newRoom, title: title ?? newRoom, skus: skus, featured: skus.first)) else {
                throw ProtocolError.badField("room", "room \(newRoom) exists, or one of its SKUs does not")
            }
            try services.persistRooms()
            Log.event(.info, "room_created", ["room": newRoom, "by": claims.subject, "skus": skus.joined(separator: ",")])
            sendLocalResult(id: id, command: type, connection: connection)
        case .addSku(let sku, let name, let onHand, let substitute):
            try require(claims, [.operator], for: type)
            guard sku.utf8.count <= 64, !sku.contains(where: { $0.isWhitespace }) else {
                throw ProtocolError.badField("sku", "a SKU id is 1 to 64 bytes without spaces")
            }
            if let substitute, services.hub.sku(substitute) == nil {
                throw ProtocolError.badField("substitute", "no SKU '\(substitute.prefix(64))'")
            }
            var policy = services.defaultPolicy
            policy.substitute = substitute ?? ""
            let hub = services.hub
            let stored = RoomStore.StoredSku(id: sku, name: name ?? sku, substitute: substitute)
            let services = self.services
            let createdPolicy = policy
            submit(.createSku(sku: sku, onHand: onHand, policy: policy), command: type, sku: sku, id: id, connection: connection) { result in
                guard result.outcome.isSuccess else { return }
                hub.addSku(stored, policy: createdPolicy, stock: nil, to: room)
                do {
                    try services.persistRooms()
                } catch {
                    Log.error("room \(room): SKU \(sku) was created but rooms.json could not be written: \(error)")
                }
                Log.event(.info, "sku_created", ["room": room, "sku": sku, "onHand": "\(onHand)"])
            }
        case .switchToSubstitute(let sku):
            try require(claims, [.operator], for: type)
            try checkSku(sku, room: room)
            journalFeatured(try services.hub.planSwitch(room: room, from: sku).get(), command: type, id: id,
                            connection: connection, by: claims.subject, from: sku)
        case .undoSwitch:
            try require(claims, [.operator], for: type)
            journalFeatured(try services.hub.planUndo(room: room).get(), command: type, id: id, connection: connection,
                            by: claims.subject)
        case .launch(let sku, let countdown):
            try require(claims, [.operator], for: type)
            try checkSku(sku, room: room)
            guard services.hub.sku(sku)?.stock?.isPaused == true else {
                throw ProtocolError.badField("sku", "launch opens the sales of a paused SKU; pause \(sku) first")
            }
            let seconds = Int(countdown ?? 3)
            let hub = services.hub, core = services.core
            let loop = connection.eventLoop, connectionID = connection.id
            Log.event(.info, "launch", ["room": room, "by": claims.subject, "sku": sku, "in": "\(seconds)"])
            for remaining in stride(from: seconds, through: 1, by: -1) {
                DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(seconds - remaining)) {
                    hub.publish(room: room, audiences: Audience.everyone) { writer, seq, rev in
                        Messages.writeLaunch(&writer, room: room, seq: seq, rev: rev, sku: sku, remaining: Int64(remaining))
                    }
                }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(seconds)) {
                // Sales open with one journaled command at one core time; the engine takes the
                // resume as the launch marker, so the spike raises no trend alert.
                _ = core.submit(.resume(sku: sku)) { result in
                    if result.outcome.isSuccess {
                        hub.publish(room: room, audiences: Audience.everyone) { writer, seq, rev in
                            Messages.writeLaunch(&writer, room: room, seq: seq, rev: rev, sku: sku, remaining: 0)
                        }
                    }
                    var writer = JSONWriter()
                    Messages.writeResult(&writer, id: id, command: "launch", result: result, sku: sku)
                    let frame = writer.makeTextFrame()
                    loop.execute {
                        guard let connection = (loop.attachment as? LoopContext)?.connection(connectionID) else { return }
                        connection.send(frame)
                        connection.flush()
                    }
                }
            }
        case .ack(let alert):
            try require(claims, [.operator], for: type)
            services.hub.publish(room: room, audiences: [.operator]) { writer, seq, rev in
                Messages.beginStreamMessage(&writer, type: "ack", room: room, seq: seq, rev: rev)
                writer.field("alert", String(alert.prefix(128)))
                writer.field("by", claims.subject)
                writer.endObject()
            }
            sendLocalResult(id: id, command: type, connection: connection)
        case .policy(let sku, let fields, let substitute):
            try require(claims, [.operator], for: type)
            try checkSku(sku, room: room)
            guard var policy = services.hub.policy(of: sku) else { throw ProtocolError.badField("sku", "no policy for \(sku)") }
            let second = 1_000_000_000.0
            // Counts and durations must fit: anything larger than a year or a billion units is refused
            // before any conversion (a Double beyond Int64 would trap).
            for (key, value) in fields {
                let limit = key.hasSuffix("Sec") ? 365.0 * 86_400 : 1e9
                guard value.isFinite, value >= 0, value <= limit else {
                    throw ProtocolError.badField(key, "\(key) must be between 0 and \(Int64(limit))")
                }
            }
            for (key, value) in fields {
                switch key {
                case "safetyMinimum": policy.safetyMinimum = Int64(value)
                case "restockLeadTimeSec": policy.restockLeadTime = Int64(value * second)
                case "safetyFactor": policy.safetyFactor = value
                case "trendFactor": policy.trendFactor = value
                case "trendWindowSec": policy.trendWindow = Int64(value * second)
                case "trendMinimumVolume": policy.trendMinimumVolume = Int64(value)
                case "watchMark": policy.watchMark = Int64(value)
                case "emergencyLine": policy.emergencyLine = Int64(value)
                case "cooldownSec": policy.cooldown = Int64(value * second)
                case "hysteresisMargin": policy.hysteresisMargin = value
                case "reservationTimeoutSec": policy.reservationTimeout = Int64(value * second)
                default: throw ProtocolError.badField(key, "unknown policy field")
                }
            }
            if let substitute {
                guard substitute.isEmpty || services.hub.sku(substitute) != nil else {
                    throw ProtocolError.badField("substitute", "no SKU '\(substitute.prefix(64))'")
                }
                policy.substitute = substitute
            }
            do {
                try AlertObserver.alertPolicy(policy).validate(horizon: services.alertHorizon)
            } catch {
                throw ProtocolError("badField", "policy refused: \(error)", field: fields.keys.sorted().first)
            }
            guard policy.reservationTimeout > 0, policy.safetyMinimum >= 0, policy.watchMark >= 0, policy.emergencyLine >= 0 else {
                throw ProtocolError("badField", "policy values must not be negative", field: fields.keys.sorted().first)
            }
            let hub = services.hub
            let accepted = policy
            submit(.setPolicy(sku: sku, policy: policy), command: type, sku: sku, id: id, connection: connection) { result in
                if result.outcome.isSuccess { hub.setPolicy(accepted, for: sku) }
            }
        case .tick(let to):
            try require(claims, [.operator], for: type)
            guard services.isExternalClock else {
                throw ProtocolError.badField(
                    "to", "tick moves core time only when the gateway runs with stock.clock: external; this one's clock is live")
            }
            submit(.tick(to: to * 1_000_000), command: type, sku: nil, id: id, connection: connection)
        case .drain(let waves, let seconds):
            try require(claims, [.operator], for: type)
            let count = Int(waves ?? 5)
            Log.event(.info, "drain", ["room": room, "by": claims.subject, "waves": "\(count)", "seconds": "\(seconds ?? 10)"])
            services.hub.drainViewers(room: room, waves: count, over: Double(seconds ?? 10))
            sendLocalResult(id: id, command: type, connection: connection)
        case .announce(let raw):
            try require(claims, [.operator], for: type)
            let text = try checkedText(raw)
            services.hub.publish(room: room, audiences: Audience.everyone) { writer, seq, rev in
                Messages.writeDanmaku(&writer, room: room, seq: seq, rev: rev, from: claims.subject, role: "operator",
                                      text: text, isSystem: true)
            }
            sendLocalResult(id: id, command: type, connection: connection)
        case .danmaku(let raw):
            try require(claims, [.viewer, .host, .operator], for: type)
            let text = try checkedText(raw)
            let now = Posix.monotonicMilliseconds()
            if now - danmakuWindowStart >= 10_000 {
                danmakuWindowStart = now
                danmakuInWindow = 0
            }
            guard danmakuInWindow < services.danmakuPer10Seconds else {
                throw ProtocolError("rateLimited", "at most \(services.danmakuPer10Seconds) danmaku per 10 seconds")
            }
            danmakuInWindow += 1
            services.hub.publish(room: room, audiences: [.viewer, .host, .operator]) { writer, seq, rev in
                Messages.writeDanmaku(&writer, room: room, seq: seq, rev: rev, from: claims.subject,
                                      role: claims.role.rawValue, text: text, isSystem: false)
            }
            // A stock question ("还有货吗") gets the templated answer with live figures.
            let lowered = text.lowercased()
            let isQuestion = claims.role == .viewer && services.stockQuestionKeywords.contains { lowered.contains($0.lowercased()) }
            if let reply = services.hub.stockReply(
                room: room, isQuestion: isQuestion, intervalMs: services.replyIntervalMs, now: Posix.monotonicMilliseconds())
            {
                services.hub.publish(room: room, audiences: [.viewer, .host, .operator]) { writer, seq, rev in
                    Messages.writeDanmaku(&writer, room: room, seq: seq, rev: rev, from: "livegate", role: "system",
                                          text: reply, isSystem: true)
                }
            }
        }
    }

    private func require(_ claims: TokenClaims, _ roles: [Role], for type: String) throws {
        guard roles.contains(claims.role) else {
            throw ProtocolError("forbidden", "role \(claims.role.rawValue) may not send \(type)")
        }
    }

    private func checkSku(_ sku: String, room: String) throws {
        guard services.hub.room(room, contains: sku) else {
            throw ProtocolError.badField("sku", "room \(room) has no SKU '\(sku.prefix(64))'")
        }
    }

    private func checkedText(_ raw: String) throws -> String {
        let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw ProtocolError.badField("text", "text is empty") }
        guard text.count <= services.danmakuMaxCharacters else {
            throw ProtocolError.badField("text", "text is longer than \(services.danmakuMaxCharacters) characters")
        }
        return text
    }

    /// Journals a change of the featured SKU as one entry, then applies it and tells every
    /// stream; the operator's `result` follows once it is durable.
    private func journalFeatured(
        _ change: Hub.FeaturedChange, command: String, id: String?, connection: Connection, by subject: String,
        from sku: String? = nil
    ) {
        let hub = services.hub
        submit(.setNote(key: change.noteKey, value: change.noteValue), command: command, sku: change.featured, id: id,
               connection: connection, afterReply: { result in
            guard result.outcome.isSuccess else { return }
            hub.commitFeatured(change)
            let event = command == "feature" ? "feature" : command == "undo" ? "undo_switch" : "switch"
            Log.event(.info, event, ["room": change.room, "by": subject, "from": sku ?? "", "featured": change.featured])
        })
    }

    private func sendLocalResult(id: String?, command: String, connection: Connection) {
        var writer = JSONWriter()
        Messages.writeLocalResult(&writer, id: id, command: command)
        connection.send(writer.makeTextFrame())
    }

    /// Submits to the stock core; the result goes back to this connection once durable.
    private func submit(
        _ command: StockCommand, command name: String, sku: String?, id: String?, connection: Connection,
        then: (@Sendable (StockResult) -> Void)? = nil, afterReply: (@Sendable (StockResult) -> Void)? = nil
    ) {
        let loop = connection.eventLoop
        let connectionID = connection.id
        let metrics = services.metrics
        let isOrder = name == "order"
        let hub = services.hub
        let arrivedAt = Posix.monotonicNanoseconds()
        let status = services.core.submit(command) { result in
            if isOrder {
                metrics.order(result.outcome)
                if result.outcome.isSuccess && !result.isDuplicate { hub.noteOrder(rev: result.rev, arrivedAt: arrivedAt) }
            }
            then?(result)
            var writer = JSONWriter()
            Messages.writeResult(&writer, id: id, command: name, result: result, sku: sku)
            let frame = writer.makeTextFrame()
            loop.execute {
                guard let context = loop.attachment as? LoopContext, let connection = context.connection(connectionID) else { return }
                context.sendAtEndOfTurn(frame, to: connection)
            }
            // Queued behind the reply on this connection's loop: what it publishes arrives after it.
            afterReply?(result)
        }
        switch status {
        case .accepted: break
        case .busy:
            var writer = JSONWriter()
            Messages.writeError(&writer, id: id, error: ProtocolError("busy", "the stock core is at capacity; retry"))
            connection.send(writer.makeTextFrame())
        case .unavailable:
            var writer = JSONWriter()
            Messages.writeError(&writer, id: id, error: ProtocolError("unavailable", "the stock core is not accepting commands"))
            connection.send(writer.makeTextFrame())
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

    /// The client's correlation id (string or number), echoed in the answer.
    var id: String? {
        switch object["id"] {
        case .string(let value)?: return String(value.prefix(128))
        case .int(let value)?: return String(value)
        default: return nil
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
