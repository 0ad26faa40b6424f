import Foundation
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

    @Test(arguments: examples("client."))
    func clientExampleRoundTrips(name: String) throws {
        let value = try Self.load(name)
        guard case .object(let object) = value else {
            Issue.record("\(name) is not an object")
            return
        }
        let (id, message) = try ClientMessage.decode(object)
        #expect(message.type == String(name.split(separator: ".")[1]))
        let reencoded = try JSONValue.parse(Data(message.encoded(id: id)))
        #expect(reencoded == value, "\(name)")
    }

    /// The field names the encoder writes for each server message type.
    static func encodedKeys(of type: String) -> Set<String> {
        var writer = JSONWriter()
        let sku = Hub.SkuState(id: "s", name: "S", substitute: nil, stock: nil)
        let stock = StockPublication(sku: "s", onHand: 1, reserved: 0, held: 0, sold: 0, sellable: 1, isPaused: false, rev: 1)
        switch type {
        case "stock": Messages.writeStock(&writer, room: "r", seq: 1, rev: 1, sku: sku, stock: stock)
        case "snapshot":
            Messages.writeSnapshot(&writer, room: Hub.RoomState(id: "r", title: "t", skus: ["s"], featured: "s"),
                                   skus: ["s": sku], seq: 1, rev: 1, epoch: "e")
        case "result":
            Messages.writeResult(&writer, id: "i", command: "order",
                                 result: StockResult(outcome: .reserved, rev: 1, isDuplicate: false), sku: "s")
        case "error": Messages.writeError(&writer, id: "i", error: ProtocolError.badField("f", "m"))
        case "danmaku":
            Messages.writeDanmaku(&writer, room: "r", seq: 1, rev: 1, from: "f", role: "viewer", text: "t", isSystem: false)
        case "alert":
            let metrics = SkuMetrics(skuIndex: 0, sku: "s", time: 0, level: .threshold, sellable: 1, reserved: 0, sold: 0, canSell: 1,
                                     mayFreeUp: 0, mayFreeUpWithinSeconds: 0, recentRatePerMinute: 0, previousRatePerMinute: 0,
                                     ratePerMinute: 1, accelerationPerMinute: 0, timeToStockOutSeconds: 60, safetyLine: 5,
                                     suggestedRestockQuantity: 3)
            let event = AlertEvent(skuIndex: 0, sku: "s", level: .threshold, previousLevel: .normal, transition: .raised,
                                   reason: .safetyLine, time: 0, metrics: metrics, action: .restockOrChangePitch, substitute: nil,
                                   banner: .unchanged, danmaku: nil, hostHint: "h")
            Messages.writeAlert(&writer, room: "r", seq: 1, rev: 1, id: "i", event: event, name: "S")
        case "hint":
            let metrics = SkuMetrics(skuIndex: 0, sku: "s", time: 0, level: .threshold, sellable: 1, reserved: 0, sold: 0, canSell: 1,
                                     mayFreeUp: 0, mayFreeUpWithinSeconds: 0, recentRatePerMinute: 0, previousRatePerMinute: 0,
                                     ratePerMinute: 1, accelerationPerMinute: 0, timeToStockOutSeconds: 60, safetyLine: 5,
                                     suggestedRestockQuantity: 3)
            Messages.writeHint(&writer, room: "r", seq: 1, rev: 1, sku: sku,
                               figures: AlertBatch.Figures(metrics: metrics, hostHint: "h", stockReply: nil))
        case "banner":
            Messages.writeBanner(&writer, room: "r", seq: 1, rev: 1, sku: "s", level: "threshold", text: "t", withdrawn: false)
        case "ack":
            return ["type", "room", "seq", "rev", "alert", "by"]
        case "launch":
            Messages.writeLaunch(&writer, room: "r", seq: 1, rev: 1, sku: "s", remaining: 2)
        case "featured", "pong":
            return type == "pong" ? ["type", "id"] : ["type", "room", "seq", "rev", "sku"]
        default: return []
        }
        guard case .object(let object)? = try? JSONValue.parse(Data(writer.json)) else { return [] }
        return Set(object.keys)
    }

    @Test(arguments: examples("server."))
    func serverExampleHasTheEncodersFields(name: String) throws {
        guard case .object(let object) = try Self.load(name) else {
            Issue.record("\(name) is not an object")
            return
        }
        let type = String(name.split(separator: ".")[1])
        #expect(object["type"] == .string(type))
        #expect(Set(object.keys) == Self.encodedKeys(of: type), "\(name)")
        if case .array(let skus)? = object["skus"], case .object(let first)? = skus.first {
            #expect(Set(first.keys) == Self.encodedKeys(of: "stock").subtracting(["type", "room", "seq", "rev"]))
        }
    }
}
