import LiveGateCore
import LiveGateStock

/// A message a client sends on `/ws`, decoded and checked field by field
/// (Protocol/README.md lists them; Protocol/examples/ has one file each).
enum ClientMessage: Equatable {
    /// Application-level ping; answered with `pong`.
    case ping
    /// An order event (connector, service).
    case order(orderId: String, channel: String?, sku: String, qty: Int64, state: OrderEventKind, ts: Int64?)
    /// Units arrived (operator).
    case restock(sku: String, qty: Int64, source: String?)
    /// Set on-hand after a count (operator).
    case adjust(sku: String, onHand: Int64, reason: String?)
    /// Hold back sellable units (operator).
    case hold(sku: String, qty: Int64)
    /// Release held units (operator).
    case release(sku: String, qty: Int64)
    /// Pause sales of a SKU (operator).
    case pause(sku: String)
    /// Resume sales of a SKU (operator).
    case resume(sku: String)
    /// Change the featured SKU (operator).
    case feature(sku: String)
    /// A system line to everyone in the room (operator).
    case announce(text: String)
    /// A chat line (viewer, host, operator).
    case danmaku(text: String)
    /// Send the room's viewers away with 1012 in waves (operator).
    case drain(waves: Int64?, seconds: Int64?)
    /// Create a room (operator or service); tokens for it can then be used.
    case createRoom(room: String, title: String?, skus: [String])
    /// Create a SKU in the stock core and add it to the sender's room (operator).
    case addSku(sku: String, name: String?, onHand: Int64, substitute: String?)
    /// Switch the room from a SKU to its substitute in one step (operator); `undo` reverts it.
    case switchToSubstitute(sku: String)
    /// Undo the last switch in the room (operator).
    case undoSwitch
    /// Count down and open sales of a paused SKU ("3, 2, 1, link is up"; operator).
    case launch(sku: String, countdown: Int64?)
    /// Acknowledge an alert (operator): other consoles are told.
    case ack(alert: String)
    /// Change some of a SKU's policy fields, by ``SkuPolicy/Field/name`` (operator; journaled).
    case policy(sku: String, fields: [String: Double], substitute: String?)
    /// Advance core time to `to` milliseconds (operator; only with `stock.clock: external`).
    case tick(to: Int64)

    /// The `type` of a client message; the raw value is what goes on the wire.
    enum Kind: String, Sendable, CaseIterable {
        case ping, order, restock, adjust, hold, release, pause, resume, feature, announce, danmaku, drain
        case createRoom, addSku
        case switchToSubstitute = "switch"
        case undoSwitch = "undo"
        case launch, ack, policy, tick
    }

    /// The `type` field.
    var kind: Kind {
        switch self {
        case .ping: .ping
        case .order: .order
        case .restock: .restock
        case .adjust: .adjust
        case .hold: .hold
        case .release: .release
        case .pause: .pause
        case .resume: .resume
        case .feature: .feature
        case .announce: .announce
        case .danmaku: .danmaku
        case .drain: .drain
        case .createRoom: .createRoom
        case .addSku: .addSku
        case .switchToSubstitute: .switchToSubstitute
        case .undoSwitch: .undoSwitch
        case .launch: .launch
        case .ack: .ack
        case .policy: .policy
        case .tick: .tick
        }
    }

    /// Reads an order's fields: a socket `order` message, or one order of `POST /v1/orders`.
    static func readOrder(_ fields: MessageFields) throws -> ClientMessage {
        let orderId = try fields.string("orderId")
        guard orderId.utf8.count <= 128 else { throw ProtocolError.badField("orderId", "orderId is longer than 128 bytes") }
        guard let state = OrderEventKind(wireName: try fields.string("state")) else {
            throw ProtocolError.badField("state", "state must be placed, paid or cancelled")
        }
        return .order(
            orderId: orderId, channel: try fields.optionalString("channel"), sku: try fields.string("sku"),
            qty: try fields.integer("qty", range: 1...1_000_000), state: state, ts: try fields.optionalInteger("ts"))
    }

    /// Decodes a message object; the error names the field at fault.
    static func decode(_ object: [String: JSONValue]) throws -> (id: String?, message: ClientMessage) {
        let fields = MessageFields(object)
        let id = try fields.id()
        let type = try fields.string("type")
        guard let kind = Kind(rawValue: type) else {
            throw ProtocolError.badField("type", "unknown message type '\(type.prefix(32))'")
        }
        let message: ClientMessage
        switch kind {
        case .ping: message = .ping
        case .order:
            message = try readOrder(fields)
        case .restock:
            message = .restock(sku: try fields.string("sku"), qty: try fields.integer("qty", range: 1...1_000_000_000),
                               source: try fields.optionalString("source"))
        case .adjust:
            message = .adjust(sku: try fields.string("sku"), onHand: try fields.integer("onHand", range: 0...1_000_000_000),
                              reason: try fields.optionalString("reason"))
        case .hold: message = .hold(sku: try fields.string("sku"), qty: try fields.integer("qty", range: 1...1_000_000_000))
        case .release: message = .release(sku: try fields.string("sku"), qty: try fields.integer("qty", range: 1...1_000_000_000))
        case .pause: message = .pause(sku: try fields.string("sku"))
        case .resume: message = .resume(sku: try fields.string("sku"))
        case .feature: message = .feature(sku: try fields.string("sku"))
        case .announce: message = .announce(text: try fields.string("text"))
        case .danmaku: message = .danmaku(text: try fields.string("text"))
        case .ack: message = .ack(alert: try fields.string("alert"))
        case .switchToSubstitute: message = .switchToSubstitute(sku: try fields.string("sku"))
        case .createRoom:
            var skus: [String] = []
            if case .array(let values)? = fields.object["skus"] {
                for value in values {
                    guard case .string(let sku) = value else { throw ProtocolError.badField("skus", "skus must be strings") }
                    skus.append(sku)
                }
            } else if fields.object["skus"] != nil {
                throw ProtocolError.badField("skus", "skus must be an array of SKU ids")
            }
            message = .createRoom(room: try fields.string("room"), title: try fields.optionalString("title"), skus: skus)
        case .addSku:
            message = .addSku(
                sku: try fields.string("sku"), name: try fields.optionalString("name"),
                onHand: try fields.integer("onHand", range: 0...1_000_000_000), substitute: try fields.optionalString("substitute"))
        case .undoSwitch: message = .undoSwitch
        case .tick: message = .tick(to: try fields.integer("to", range: 0...(Int64.max / 1_000_000)))
        case .launch:
            message = .launch(
                sku: try fields.string("sku"),
                countdown: try fields.object["countdown"] == nil ? nil : fields.integer("countdown", range: 0...60))
        case .policy:
            // The fields are SkuPolicy.fields by name; a deprecated `…Sec` name counts as its `…Seconds` field,
            // and the new name wins if both are sent. Ranges are checked when the policy is applied.
            var numbers: [String: Double] = [:]
            for field in SkuPolicy.fields {
                for key in field.deprecatedNames + [field.name] {
                    switch fields.object[key] {
                    case nil, .null?: continue
                    case .int(let value)?: numbers[field.name] = Double(value)
                    case .double(let value)? where value.isFinite: numbers[field.name] = value
                    default: throw ProtocolError.badField(key, "\(key) must be a number")
                    }
                }
            }
            let substitute = try fields.optionalString("substitute")
            let unknown = fields.object.keys.filter { key in
                !["type", "id", "sku", "substitute"].contains(key)
                    && !SkuPolicy.fields.contains { $0.name == key || $0.deprecatedNames.contains(key) }
            }
            if let first = unknown.sorted().first { throw ProtocolError.badField(first, "unknown policy field '\(first.prefix(32))'") }
            guard !numbers.isEmpty || substitute != nil else {
                throw ProtocolError.badField(
                    "type", "policy needs at least one of " + SkuPolicy.fields.map(\.name).joined(separator: ", ") + ", substitute")
            }
            message = .policy(sku: try fields.string("sku"), fields: numbers, substitute: substitute)
        case .drain:
            message = .drain(
                waves: try fields.object["waves"] == nil ? nil : fields.integer("waves", range: 1...100),
                seconds: try fields.object["seconds"] == nil ? nil : fields.integer("seconds", range: 0...600))
        }
        return (id, message)
    }

    /// The message as JSON (clients, tests and the benchmark load generator use it).
    func encoded(id: String? = nil) -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.field("type", kind.rawValue)
        if let id { writer.field("id", id) }
        switch self {
        case .ping: break
        case .order(let orderId, let channel, let sku, let qty, let state, let ts):
            writer.field("orderId", orderId)
            if let channel { writer.field("channel", channel) }
            writer.field("sku", sku)
            writer.field("qty", qty)
            writer.field("state", state.wireName)
            if let ts { writer.field("ts", ts) }
        case .restock(let sku, let qty, let source):
            writer.field("sku", sku)
            writer.field("qty", qty)
            if let source { writer.field("source", source) }
        case .adjust(let sku, let onHand, let reason):
            writer.field("sku", sku)
            writer.field("onHand", onHand)
            if let reason { writer.field("reason", reason) }
        case .hold(let sku, let qty), .release(let sku, let qty):
            writer.field("sku", sku)
            writer.field("qty", qty)
        case .pause(let sku), .resume(let sku), .feature(let sku):
            writer.field("sku", sku)
        case .announce(let text), .danmaku(let text):
            writer.field("text", text)
        case .drain(let waves, let seconds):
            if let waves { writer.field("waves", waves) }
            if let seconds { writer.field("seconds", seconds) }
        case .ack(let alert):
            writer.field("alert", alert)
        case .createRoom(let room, let title, let skus):
            writer.field("room", room)
            if let title { writer.field("title", title) }
            writer.beginArray("skus")
            for sku in skus { writer.element(sku) }
            writer.endArray()
        case .addSku(let sku, let name, let onHand, let substitute):
            writer.field("sku", sku)
            if let name { writer.field("name", name) }
            writer.field("onHand", onHand)
            if let substitute { writer.field("substitute", substitute) }
        case .switchToSubstitute(let sku):
            writer.field("sku", sku)
        case .undoSwitch:
            break
        case .tick(let to):
            writer.field("to", to)
        case .launch(let sku, let countdown):
            writer.field("sku", sku)
            if let countdown { writer.field("countdown", countdown) }
        case .policy(let sku, let fields, let substitute):
            writer.field("sku", sku)
            for field in SkuPolicy.fields {
                guard let value = fields[field.name] else { continue }
                writer.key(field.name.withStaticKey)
                writer.rawNumber(value)
            }
            if let substitute { writer.field("substitute", substitute) }
        }
        writer.endObject()
        return writer.json
    }
}
