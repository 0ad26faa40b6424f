import Foundation
import LiveGateCore
import Testing

@testable import LiveGate
@testable import LiveGateAlerts
@testable import LiveGateStock

/// Protocol/examples/ and the code agree: every client example decodes with the server's
/// own decoder and re-encodes to the same JSON; every server example has exactly the
/// fields the server's encoder writes for its type.
struct ProtocolExampleTests {
    static let directory = ConfigurationTests.repositoryRoot.appendingPathComponent("Protocol/examples")

    static func examples(_ prefix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".json") }.sorted()
    }

    static func load(_ name: String) throws -> JSONValue {
        try JSONValue.parse(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    @Test func thereIsAnExampleForEveryClientMessage() {
        let types = Set(Self.examples("client.").map { $0.split(separator: ".")[1] })
        #expect(types == ["order", "restock", "adjust", "hold", "release", "pause", "resume", "feature", "announce", "danmaku", "ping", "drain", "ack", "policy", "launch", "switch", "undo", "createRoom", "addSku", "tick"])
    }

    /// Protocol/README.md's policy field table is the code's: one row per field of `SkuPolicy.fields`, with its
    /// kind, range, default and meaning.
    @Test func thePolicyFieldTableMatchesTheCode() throws {
        let readme = try String(contentsOf: ConfigurationTests.repositoryRoot.appendingPathComponent("Protocol/README.md"), encoding: .utf8)
        let documented = readme.split(separator: "\n").filter { $0.hasPrefix("| `") && $0.split(separator: "|").count == 5 }
        let defaults = SkuPolicy()
        let expected = SkuPolicy.fields.map { field -> String in
            let kind = switch field.kind {
            case .count: "count"
            case .seconds(_, let whole): whole ? "whole seconds" : "seconds"
            case .number: "number"
            }
            return "| `\(field.name)` | \(kind) | \(field.rangeText) | \(SkuPolicy.Field.format(defaults.value(of: field))) | \(field.summary) |"
        }
        #expect(documented.map(String.init) == expected)
    }

    @Test(arguments: examples("client."))
    func clientExampleRoundTrips(name: String) throws {
        let value = try Self.load(name)
        guard case .object(let object) = value else {
            Issue.record("\(name) is not an object")
            return
        }
        let (id, message) = try ClientMessage.decode(object)
        #expect(message.kind.rawValue == String(name.split(separator: ".")[1]))
        let reencoded = try JSONValue.parse(Data(message.encoded(id: id)))
        #expect(reencoded == value, "\(name)")
    }

    /// The field names the encoder writes for each server message type.
    /// `forViewers`: as the viewers' stream has them (`stock`, `snapshot`).
    static func encodedKeys(of type: String, forViewers: Bool = false) -> Set<String> {
        var writer = JSONWriter()
        let sku = SkuState(id: "s", name: "S", substitute: nil, stock: nil)
        let stock = StockPublication(sku: "s", onHand: 1, reserved: 0, held: 0, sold: 0, sellable: 1, isPaused: false, rev: 1)
        let metrics = SkuMetrics(skuIndex: 0, sku: "s", time: 0, level: .threshold, sellable: 1, reserved: 0, sold: 0, canSell: 1,
                                 mayFreeUp: 0, mayFreeUpWithinSeconds: 0, recentRatePerMinute: 0, previousRatePerMinute: 0,
                                 ratePerMinute: 1, accelerationPerMinute: 0, timeToStockOutSeconds: 60, safetyLine: 5,
                                 suggestedRestockQuantity: 3)
        func stream(_ message: StreamMessage) {
            Messages.write(message, audience: forViewers ? .viewer : .operator, room: "r", seq: 1, rev: 1, into: &writer)
        }
        switch ServerMessageKind(rawValue: type) {
        case .stock?: stream(.stock(sku, stock, nil))
        case .snapshot?:
            Messages.writeSnapshot(&writer, room: RoomRegistry.Room(id: "r", title: "t", skus: ["s"], featured: "s"),
                                   skus: [(sku, nil)], seq: 1, rev: 1, epoch: "e", forViewers: forViewers)
        case .result?:
            Messages.writeResult(&writer, id: "i", command: .order,
                                 result: StockResult(outcome: .reserved, rev: 1, isDuplicate: false), sku: "s")
        case .error?: Messages.writeError(&writer, id: "i", error: ProtocolError.badField("f", "m"))
        case .danmaku?: stream(.danmaku(from: "f", role: "viewer", text: "t", isSystem: false))
        case .alert?:
            let event = AlertEvent(skuIndex: 0, sku: "s", level: .threshold, previousLevel: .normal, transition: .raised,
                                   reason: .safetyLine, time: 0, metrics: metrics, action: .restockOrChangePitch, substitute: nil,
                                   banner: .unchanged, danmaku: nil, hostHint: "h")
            stream(.alert(id: "i", event: event, name: "S"))
        case .hint?: stream(.hint(sku, AlertBatch.Figures(metrics: metrics, hostHint: "h", stockReply: nil)))
        case .banner?: stream(.banner(sku: "s", level: .threshold, text: "t", left: 3))
        case .ack?: stream(.ack(alert: "a", by: "b"))
        case .launch?: stream(.launch(sku: "s", remaining: 2))
        case .featured?: stream(.featured(sku: "s"))
        case .pong?: Messages.writePong(&writer, id: "i")
        case .presence?: stream(.presence(Presence.Snapshot()))
        case .policies?: stream(.policies([PolicyEntry(sku: "s", policy: SkuPolicy())]))
        case .alerts?:
            Messages.writeAlerts(&writer, room: "r", open: [], restored: [], recent: [])
        case nil: return []
        }
        guard case .object(let object)? = try? JSONValue.parse(Data(writer.json)) else { return [] }
        return Set(object.keys)
    }

    /// A room hint written by the room (switch, undo) has the same fields as the alert engine's.
    @Test func roomHintHasTheHintFields() throws {
        var writer = JSONWriter()
        Messages.write(.roomHint(sku: "s", canSell: 3, level: .normal, text: "t"), audience: .host, room: "r", seq: 1, rev: 1, into: &writer)
        guard case .object(let object) = try JSONValue.parse(Data(writer.json)) else { throw ProtocolError(.badMessage, "not an object") }
        #expect(Set(object.keys) == Self.encodedKeys(of: "hint"))
    }

    @Test(arguments: examples("server."))
    func serverExampleHasTheEncodersFields(name: String) throws {
        guard case .object(let object) = try Self.load(name) else {
            Issue.record("\(name) is not an object")
            return
        }
        let type = String(name.split(separator: ".")[1])
        // `server.stock.viewer.json`: the message as the viewers' stream has it.
        let forViewers = name.contains(".viewer.")
        #expect(object["type"] == .string(type))
        #expect(Set(object.keys) == Self.encodedKeys(of: type, forViewers: forViewers), "\(name)")
        if type == "snapshot", case .array(let skus)? = object["skus"], case .object(let first)? = skus.first {
            // A snapshot's SKU has the stock message's fields, with the name (which viewers' `stock` leaves out).
            let stockFields = Self.encodedKeys(of: "stock", forViewers: forViewers).subtracting(["type", "room", "seq", "rev"])
            #expect(Set(first.keys) == stockFields.union(["name"]), "\(name)")
        }
        if type == "alerts" {
            // Open alerts and recent ones have the alert's fields, plus openSince / ackedBy.
            let alertFields = Self.encodedKeys(of: "alert").subtracting(["type", "room", "seq", "rev"])
            guard case .array(let open)? = object["open"], case .array(let recent)? = object["recent"],
                  case .object(let firstOpen)? = open.first, case .object(let firstRecent)? = recent.first
            else {
                Issue.record("\(name) needs an open and a recent alert")
                return
            }
            #expect(Set(firstOpen.keys) == alertFields.union(["openSince", "ackedBy"]))
            #expect(Set(firstRecent.keys) == alertFields.union(["ackedBy"]))
        }
        if type == "presence", case .array(let refused)? = object["refused"], case .object(let first)? = refused.first {
            var writer = JSONWriter()
            var presence = Presence.Snapshot()
            presence.refused[2] = Presence.Refusal(reason: "token expired", at: 1, subject: "s", page: .overlay)
            Messages.writePresenceFields(&writer, presence)
            let written = String(decoding: writer.json, as: UTF8.self)
            let keys = first.keys.sorted()
            #expect(keys == ["at", "page", "reason", "role", "sub"], "\(written)")
        }
        if type == "policies", case .array(let skus)? = object["skus"], case .object(let first)? = skus.first,
           case .object(let values)? = first["values"] {
            #expect(Set(values.keys) == Set(SkuPolicy.fields.map(\.name)))
        }
    }

    /// The messages an operator gets on join (`presence`, `policies`) are the stream messages without `seq` and `rev`.
    @Test func joinMessagesAreTheStreamMessagesWithoutSeq() throws {
        for message in [StreamMessage.presence(Presence.Snapshot()), .policies([PolicyEntry(sku: "s", policy: SkuPolicy())])] {
            var writer = JSONWriter()
            Messages.writeJoinMessage(&writer, message, room: "r")
            guard case .object(let object) = try JSONValue.parse(Data(writer.json)) else { throw ProtocolError(.badMessage, "not an object") }
            #expect(Set(object.keys) == Self.encodedKeys(of: message.kind.rawValue).subtracting(["seq", "rev"]))
        }
    }
}
