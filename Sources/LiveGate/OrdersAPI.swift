import Foundation
import LiveGateCore
import LiveGateHTTP
import LiveGatePOSIX
import LiveGateStock
import Synchronization

/// `POST /v1/orders`: one order or an array of orders from a connector or service token,
/// answered after every result is durable.
enum OrdersAPI {
    /// The most orders one request may carry.
    static let maximumBatch = 1000

    static func handle(
        _ head: HTTPRequestHead, body: [UInt8], rooms: Rooms, core: StockEngine, tokens: TokenAuthority, metrics: GatewayMetrics
    ) -> Route {
        guard head.method == "POST" else {
            var headers = HTTPHeaders()
            headers.add(name: "Allow", value: "POST")
            return .respond(.text(.methodNotAllowed, "use POST with a JSON order or array of orders", headers: headers))
        }
        return handle(token: bearerToken(head) ?? head.queryParameter("token"), body: body, rooms: rooms, core: core, tokens: tokens,
                      metrics: metrics)
    }

    /// The same for a request that reached an edge (ClusterInbox.swift): the token and the body.
    static func handle(
        token: String?, body: [UInt8], rooms: Rooms, core: StockEngine, tokens: TokenAuthority, metrics: GatewayMetrics
    ) -> Route {
        guard let token, !token.isEmpty else {
            return .respond(errorResponse(.unauthorized, ProtocolError(.unauthorized, TokenError.missing.description)))
        }
        let claims: TokenClaims
        do {
            claims = try tokens.verify(token, now: Int64(Date().timeIntervalSince1970))
        } catch {
            return .respond(errorResponse(.unauthorized, ProtocolError(.unauthorized, error.description)))
        }
        guard claims.role == .connector || claims.role == .service else {
            return .respond(errorResponse(.forbidden, ProtocolError(.forbidden, "role \(claims.role.rawValue) may not post orders")))
        }
        let items: [[String: JSONValue]]
        let value: JSONValue
        do throws(JSONParseError) {
            value = try JSONValue.parse(body, maximumDepth: 32)
        } catch {
            return .respond(errorResponse(.badRequest, ProtocolError(.badMessage, error.description)))
        }
        switch value {
        case .object(let object): items = [object]
        case .array(let array):
            guard !array.isEmpty, array.count <= maximumBatch else {
                return .respond(errorResponse(.badRequest, ProtocolError(.badMessage, "send 1 to \(maximumBatch) orders")))
            }
            var objects: [[String: JSONValue]] = []
            for (index, element) in array.enumerated() {
                guard case .object(let object) = element else {
                    return .respond(errorResponse(.badRequest, ProtocolError(.badMessage, "element \(index) is not an object")))
                }
                objects.append(object)
            }
            items = objects
        default:
            return .respond(errorResponse(.badRequest, ProtocolError(.badMessage, "the body is not a JSON object or array")))
        }
        var events: [OrderEvent] = []
        for (index, item) in items.enumerated() {
            do {
                events.append(try parseOrder(MessageFields(item), claims: claims, rooms: rooms.registry))
            } catch let error as ProtocolError {
                let indexed = ProtocolError(error.code, items.count > 1 ? "order \(index): \(error.message)" : error.message,
                                            field: error.field)
                return .respond(errorResponse(.badRequest, indexed))
            } catch {
                return .respond(errorResponse(.badRequest, ProtocolError(.badMessage, "\(error)")))
            }
        }
        return .deferred { responder in
            submit(events, core: core, rooms: rooms, metrics: metrics, responder: responder)
        }
    }

    /// Reads one order of a `POST /v1/orders` body.
    static func parseOrder(_ fields: MessageFields, claims: TokenClaims, rooms: some RoomView) throws -> OrderEvent {
        guard case .order(let orderId, let channel, let sku, let quantity, let state, let ts) = try ClientMessage.readOrder(fields) else {
            preconditionFailure("ClientMessage.readOrder returns an order")
        }
        return try makeOrderEvent(orderId: orderId, channel: channel, sku: sku, quantity: quantity, state: state, ts: ts,
                                  claims: claims, rooms: rooms)
    }

    /// The order event for an order from `claims`, over HTTP or the socket: the SKU must be one
    /// of the room's, and a connector's channel is its token's (a different one is refused).
    static func makeOrderEvent(
        orderId: String, channel requested: String?, sku: String, quantity: Int64, state: OrderEventKind, ts: Int64?,
        claims: TokenClaims, rooms: some RoomView
    ) throws -> OrderEvent {
        guard rooms.room(claims.room, contains: sku) else {
            throw ProtocolError.badField("sku", "room \(claims.room) has no SKU '\(sku.prefix(64))'")
        }
        var channel = requested
        if claims.role == .connector {
            if let channel, channel != claims.channel {
                throw ProtocolError.badField("channel", "a \(claims.channel ?? "") connector may not send orders for channel \(channel)")
            }
            channel = claims.channel
        }
        guard let channel, !channel.isEmpty, channel.utf8.count <= 64 else {
            throw ProtocolError.badField("channel", "channel is required (a non-empty string of at most 64 bytes)")
        }
        return OrderEvent(state, sku: sku, channel: channel, orderId: orderId, quantity: quantity, platformTimestamp: ts ?? 0)
    }

    private static func submit(_ events: [OrderEvent], core: StockEngine, rooms: Rooms, metrics: GatewayMetrics, responder: Responder) {
        let collector = ResultCollector(count: events.count)
        let arrivedAt = Posix.monotonicNanoseconds()
        var refusedAll = true
        for (index, event) in events.enumerated() {
            let status = core.submit(.order(event), wakesWriter: false) { result in
                metrics.order(result.outcome)
                if result.outcome.isSuccess && !result.isDuplicate { rooms.noteOrder(rev: result.rev, arrivedAt: arrivedAt) }
                if let results = collector.set(index, .done(result)) {
                    responder.respond(response(events, results))
                }
            }
            switch status {
            case .accepted:
                refusedAll = false
            case .busy, .unavailable:
                if let results = collector.set(index, status == .busy ? .busy : .unavailable) {
                    if refusedAll && index == events.count - 1 {
                        responder.respond(errorResponse(
                            .serviceUnavailable, ProtocolError(status == .busy ? .busy : .unavailable,
                                                               "the stock core is not accepting orders; retry")))
                    } else {
                        responder.respond(response(events, results))
                    }
                }
            }
        }
        // The body's orders were queued without waking the writer: one wake-up, one batch.
        core.wakeWriter()
    }

    private static func response(_ events: [OrderEvent], _ results: [ResultCollector.Slot]) -> HTTPResponse {
        var writer = JSONWriter(capacity: 96 * events.count + 32)
        writer.beginObject()
        writer.beginArray("results")
        for (event, slot) in zip(events, results) {
            writer.beginObject()
            writer.field("orderId", event.orderId)
            writer.field("channel", event.channel)
            writer.field("sku", event.sku)
            switch slot {
            case .done(let result):
                writer.field("ok", result.outcome.isSuccess)
                writer.field("outcome", result.outcome.wireName)
                writer.field("duplicate", result.isDuplicate)
                writer.field("rev", result.rev)
            case .busy, .unavailable, .pending:
                writer.field("ok", false)
                writer.field("outcome", slot == .busy ? "busy" : "unavailable")
            }
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        return HTTPResponse(status: .ok, headers: headers, body: writer.json)
    }

    static func errorResponse(_ status: HTTPStatus, _ error: ProtocolError) -> HTTPResponse {
        var writer = JSONWriter()
        Messages.writeError(&writer, id: nil, error: error)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        return HTTPResponse(status: status, headers: headers, body: writer.json)
    }
}

/// Gathers the results of a batch of orders from the writer thread.
final class ResultCollector: Sendable {
    enum Slot: Sendable, Equatable {
        case pending
        case done(StockResult)
        case busy
        case unavailable
    }

    private let state: Mutex<(slots: [Slot], remaining: Int)>

    init(count: Int) {
        state = Mutex((Array(repeating: .pending, count: count), count))
    }

    /// Records a slot; returns every slot once the last one is in.
    func set(_ index: Int, _ slot: Slot) -> [Slot]? {
        state.withLock { state in
            state.slots[index] = slot
            state.remaining -= 1
            return state.remaining == 0 ? state.slots : nil
        }
    }
}
