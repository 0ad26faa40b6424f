import Foundation
import LiveGateAlerts
import LiveGateCore
import LiveGateStock
import LiveGateWebSocket

/// The room's settings that decide what a command does (shared by every session).
struct RoomRules: Sendable {
    /// Words that make a viewer's danmaku a stock question ("还有货吗").
    var stockQuestionKeywords: [String] = []
    /// The policy a SKU created live starts with.
    var defaultPolicy = SkuPolicy()
    /// The alert engine's bucket horizon (ns): two trend windows must fit in it.
    var alertHorizon: Int64 = 3_600_000_000_000
    var danmakuMaxCharacters = 120
    var danmakuPer10Seconds = 5
    /// Whether the stock core's clock is external, so operators' `tick` commands move core time.
    var isExternalClock = false
}

/// What a room connection does, decided without sockets: ``RoomSession`` executes these in
/// order.
enum RoomAction: Equatable, Sendable {
    /// Answer the sender now.
    case reply(RoomReply)
    /// Forward a command to the stock core; its durable `result` goes back to the sender.
    case submit(StockCommand, Submission)
    /// Publish on some of a room's streams.
    case publish(room: String, audiences: [Audience], StreamMessage)
    /// Create a room, persist it, then answer.
    case createRoom(RoomStore.StoredRoom, id: String?)
    /// If the SKU is paused (read through the core, after this connection's earlier commands),
    /// count down `seconds` on every stream, then resume its sales; the result goes back.
    case launch(sku: String, seconds: Int, id: String?)
    /// Send the room's viewers away with 1012 in waves.
    case drain(room: String, waves: Int, seconds: Int)
    /// Post the templated stock reply to the room if one is due (at most one per interval).
    case answerStockQuestion(room: String)
}

/// An immediate answer to the sender.
enum RoomReply: Equatable, Sendable {
    case pong(id: String?)
    /// `result` of a command that does not go through the stock core.
    case done(id: String?, ClientMessage.Kind)
    case error(id: String?, ProtocolError)
}

/// A command forwarded to the stock core: what to answer with, and what to do once it is durable.
struct Submission: Equatable, Sendable {
    /// What the room does after a successful durable result (indirect: rare, and large, so a
    /// submission of an order stays small).
    indirect enum FollowUp: Equatable, Sendable {
        /// Describe the new SKU and add it to the room (before the result is sent).
        case addSku(RoomStore.StoredSku, SkuPolicy, room: String)
        /// Record the SKU's new policy (before the result is sent).
        case setPolicy(SkuPolicy, sku: String)
        /// Apply the new featured SKU and tell the streams (after the result is sent).
        case commitFeatured(FeaturedChange)
    }

    var kind: ClientMessage.Kind
    var sku: String?
    var id: String?
    var followUp: FollowUp?
}

extension RoomSession {
    /// A room connection's protocol as a pure state machine: given the rooms as they stand
    /// (``RoomView``), the sender's claims, a message and the time, it returns the actions to take.
    /// It holds only what is the connection's own (the danmaku rate window).
    struct StateMachine: Sendable {
        let claims: TokenClaims
        private var danmakuWindowStart: UInt64 = 0
        private var danmakuInWindow = 0

        init(claims: TokenClaims) {
            self.claims = claims
        }

        /// A complete message arrived; `now` is monotonic milliseconds.
        mutating func received(
            _ opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer, rooms: some RoomView, rules: RoomRules, now: UInt64
        ) -> [RoomAction] {
            var actions: [RoomAction] = []
            received(opcode, payload: payload, rooms: rooms, rules: rules, now: now, into: &actions)
            return actions
        }

        /// The same, appending the actions to `actions` (the session reuses one buffer: an order,
        /// the common message, then costs no allocation here).
        mutating func received(
            _ opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer, rooms: some RoomView, rules: RoomRules, now: UInt64,
            into actions: inout [RoomAction]
        ) {
            var object: [String: JSONValue] = [:]
            var id: String?
            do {
                guard opcode == .text else { throw ProtocolError(.badMessage, "messages are JSON text frames") }
                // An order in its common shape skips the dictionary (OrderScanner.swift).
                if let scanned = OrderScanner.scan(payload) {
                    id = scanned.id
                    actions.append(try order(scanned.message, id: scanned.id, rooms: rooms))
                    return
                }
                let value: JSONValue
                do throws(JSONParseError) {
                    value = try JSONValue.parse(bytes: payload, maximumDepth: 32)
                } catch {
                    throw ProtocolError(.badMessage, error.description)
                }
                guard case .object(let fields) = value else { throw ProtocolError(.badMessage, "not a JSON object") }
                object = fields
                let decoded = try ClientMessage.decode(object)
                id = decoded.id
                if case .order = decoded.message {
                    actions.append(try order(decoded.message, id: decoded.id, rooms: rooms))
                } else {
                    actions.append(contentsOf: try handle(decoded.message, id: decoded.id, rooms: rooms, rules: rules, now: now))
                }
            } catch let error as ProtocolError {
                // The answer carries the message's id when it has a good one.
                actions.append(.reply(.error(id: id ?? (try? MessageFields(object).id()) ?? nil, error)))
            } catch {
                actions.append(.reply(.error(id: id ?? (try? MessageFields(object).id()) ?? nil, ProtocolError(.internal, "\(error)"))))
            }
        }

        /// An order event: checked against the sender's token and room, then forwarded to the core.
        private func order(_ message: ClientMessage, id: String?, rooms: some RoomView) throws -> RoomAction {
            guard case .order(let orderId, let channel, let sku, let quantity, let state, let ts) = message else {
                preconditionFailure("order(_:) takes an order")
            }
            try require([.connector, .service], for: .order)
            let event = try OrdersAPI.makeOrderEvent(
                orderId: orderId, channel: channel, sku: sku, quantity: quantity, state: state, ts: ts, claims: claims,
                rooms: rooms)
            return .submit(.order(event), Submission(kind: .order, sku: sku, id: id, followUp: nil))
        }

        /// A decoded message; throws what the sender is told.
        mutating func handle(
            _ message: ClientMessage, id: String?, rooms: some RoomView, rules: RoomRules, now: UInt64
        ) throws -> [RoomAction] {
            let room = claims.room
            let kind = message.kind
            func submit(_ command: StockCommand, sku: String?, then followUp: Submission.FollowUp? = nil) -> [RoomAction] {
                [.submit(command, Submission(kind: kind, sku: sku, id: id, followUp: followUp))]
            }
            func requireSku(_ sku: String) throws {
                guard rooms.room(room, contains: sku) else {
                    throw ProtocolError.badField("sku", "room \(room) has no SKU '\(sku.prefix(64))'")
                }
            }
            switch message {
            case .ping:
                return [.reply(.pong(id: id))]
            case .order:
                return [try order(message, id: id, rooms: rooms)]
            case .restock(let sku, let quantity, let source):
                try require([.operator], for: kind)
                try requireSku(sku)
                return submit(.restock(sku: sku, quantity: quantity, source: source ?? claims.subject), sku: sku)
            case .adjust(let sku, let onHand, let reason):
                try require([.operator], for: kind)
                try requireSku(sku)
                return submit(.adjust(sku: sku, onHand: onHand, reason: reason ?? "count by \(claims.subject)"), sku: sku)
            case .hold(let sku, let quantity):
                try require([.operator], for: kind)
                try requireSku(sku)
                return submit(.hold(sku: sku, quantity: quantity), sku: sku)
            case .release(let sku, let quantity):
                try require([.operator], for: kind)
                try requireSku(sku)
                return submit(.release(sku: sku, quantity: quantity), sku: sku)
            case .pause(let sku):
                try require([.operator], for: kind)
                try requireSku(sku)
                return submit(.pause(sku: sku), sku: sku)
            case .resume(let sku):
                try require([.operator], for: kind)
                try requireSku(sku)
                return submit(.resume(sku: sku), sku: sku)
            case .feature(let sku):
                try require([.operator], for: kind)
                try requireSku(sku)
                guard let change = rooms.planFeature(room: room, sku: sku) else {
                    throw ProtocolError.badField("sku", "\(sku) is not one of the room's SKUs")
                }
                return submit(.setNote(key: change.noteKey, value: change.noteValue), sku: change.featured, then: .commitFeatured(change))
            case .switchToSubstitute(let sku):
                try require([.operator], for: kind)
                try requireSku(sku)
                let change = try rooms.planSwitch(room: room, from: sku).get()
                return submit(.setNote(key: change.noteKey, value: change.noteValue), sku: change.featured, then: .commitFeatured(change))
            case .undoSwitch:
                try require([.operator], for: kind)
                let change = try rooms.planUndo(room: room).get()
                return submit(.setNote(key: change.noteKey, value: change.noteValue), sku: change.featured, then: .commitFeatured(change))
            case .createRoom(let newRoom, let title, let skus):
                try require([.operator, .service], for: kind)
                guard newRoom.utf8.count <= 64, newRoom.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                    throw ProtocolError.badField("room", "a room id is 1 to 64 letters, digits, - or _")
                }
                guard !rooms.hasRoom(newRoom), skus.allSatisfy({ rooms.sku($0) != nil }) else {
                    throw ProtocolError.badField("room", "room \(newRoom) exists, or one of its SKUs does not")
                }
                return [.createRoom(RoomStore.StoredRoom(id: newRoom, title: title ?? newRoom, skus: skus, featured: skus.first), id: id)]
            case .addSku(let sku, let name, let onHand, let substitute):
                try require([.operator], for: kind)
                guard sku.utf8.count <= 64, !sku.contains(where: { $0.isWhitespace }) else {
                    throw ProtocolError.badField("sku", "a SKU id is 1 to 64 bytes without spaces")
                }
                if let substitute, rooms.sku(substitute) == nil {
                    throw ProtocolError.badField("substitute", "no SKU '\(substitute.prefix(64))'")
                }
                var policy = rules.defaultPolicy
                policy.substitute = substitute
                let stored = RoomStore.StoredSku(id: sku, name: name ?? sku, substitute: substitute)
                return submit(.createSku(sku: sku, onHand: onHand, policy: policy), sku: sku, then: .addSku(stored, policy, room: room))
            case .launch(let sku, let countdown):
                try require([.operator], for: kind)
                try requireSku(sku)
                // Whether it is paused is checked by the executor through the core, in order with
                // this connection's earlier commands (see RoomSession.launch).
                return [.launch(sku: sku, seconds: Int(countdown ?? 3), id: id)]
            case .ack(let alert):
                try require([.operator], for: kind)
                return [
                    .publish(room: room, audiences: [.operator], .ack(alert: String(alert.prefix(128)), by: claims.subject)),
                    .reply(.done(id: id, kind)),
                ]
            case .policy(let sku, let fields, let substitute):
                try require([.operator], for: kind)
                try requireSku(sku)
                guard var policy = rooms.policy(of: sku) else { throw ProtocolError.badField("sku", "no policy for \(sku)") }
                try Self.apply(fields, to: &policy, horizon: rules.alertHorizon)
                if let substitute {
                    guard substitute.isEmpty || rooms.sku(substitute) != nil else {
                        throw ProtocolError.badField("substitute", "no SKU '\(substitute.prefix(64))'")
                    }
                    policy.substitute = substitute.isEmpty ? nil : substitute
                }
                return submit(.setPolicy(sku: sku, policy: policy), sku: sku, then: .setPolicy(policy, sku: sku))
            case .tick(let to):
                try require([.operator], for: kind)
                guard rules.isExternalClock else {
                    throw ProtocolError.badField(
                        "to", "tick moves core time only when the gateway runs with stock.clock: external; this one's clock is live")
                }
                return submit(.tick(to: to * 1_000_000), sku: nil)
            case .drain(let waves, let seconds):
                try require([.operator], for: kind)
                return [.drain(room: room, waves: Int(waves ?? 5), seconds: Int(seconds ?? 10)), .reply(.done(id: id, kind))]
            case .announce(let raw):
                try require([.operator], for: kind)
                let text = try Self.checkedText(raw, rules: rules)
                return [
                    .publish(room: room, audiences: Audience.everyone,
                             .danmaku(from: claims.subject, role: Role.operator.rawValue, text: text, isSystem: true)),
                    .reply(.done(id: id, kind)),
                ]
            case .danmaku(let raw):
                try require([.viewer, .host, .operator], for: kind)
                let text = try Self.checkedText(raw, rules: rules)
                if now < danmakuWindowStart || now - danmakuWindowStart >= 10_000 {
                    danmakuWindowStart = now
                    danmakuInWindow = 0
                }
                guard danmakuInWindow < rules.danmakuPer10Seconds else {
                    throw ProtocolError(.rateLimited, "at most \(rules.danmakuPer10Seconds) danmaku per 10 seconds")
                }
                danmakuInWindow += 1
                var actions: [RoomAction] = [
                    .publish(room: room, audiences: [.viewer, .host, .operator],
                             .danmaku(from: claims.subject, role: claims.role.rawValue, text: text, isSystem: false))
                ]
                // A stock question ("还有货吗") gets the templated answer with live figures.
                let lowered = text.lowercased()
                if claims.role == .viewer && rules.stockQuestionKeywords.contains(where: { lowered.contains($0.lowercased()) }) {
                    actions.append(.answerStockQuestion(room: room))
                }
                return actions
            }
        }

        private func require(_ roles: [Role], for kind: ClientMessage.Kind) throws {
            guard roles.contains(claims.role) else {
                throw ProtocolError(.forbidden, "role \(claims.role.rawValue) may not send \(kind.rawValue)")
            }
        }

        private static func checkedText(_ raw: String, rules: RoomRules) throws -> String {
            let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw ProtocolError.badField("text", "text is empty") }
            guard text.count <= rules.danmakuMaxCharacters else {
                throw ProtocolError.badField("text", "text is longer than \(rules.danmakuMaxCharacters) characters")
            }
            return text
        }

        /// Applies the `policy` command's fields (by ``SkuPolicy/Field/name``) to `policy`, refusing what the
        /// engine would not take; the error names the field.
        static func apply(_ fields: [String: Double], to policy: inout SkuPolicy, horizon: Int64) throws {
            do {
                for field in SkuPolicy.fields {
                    if let value = fields[field.name] { try policy.set(field, to: value) }
                }
                try policy.validate(horizon: horizon)
            } catch {
                throw ProtocolError.badField(error.field, "\(error.field) \(error.reason)")
            }
            if let unknown = fields.keys.first(where: { SkuPolicy.field(named: $0) == nil }) {
                throw ProtocolError.badField(unknown, "unknown policy field")
            }
        }
    }
}
