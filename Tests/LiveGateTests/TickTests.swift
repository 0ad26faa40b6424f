import Foundation
import LiveGateStock
import Testing

@testable import LiveGate

/// The operator's `tick` command: it moves core time only with `stock.clock: external`.
@Suite(.serialized)
struct TickTests {
    @Test func tickIsRefusedWithTheLiveClock() throws {
        let room = try RoomFixture()
        let (op, _) = try room.join(.operator)
        op.sendJSON(["type": "tick", "id": "t1", "to": 60_000])
        let error = try #require(op.read(type: "error"))
        #expect(error["id"] as? String == "t1")
        #expect(error["code"] as? String == "badField")
        #expect(error["field"] as? String == "to")
        #expect((error["message"] as? String ?? "").contains("external"))
    }

    @Test func tickMovesCoreTimeSoAReservationExpires() throws {
        let room = try RoomFixture { $0.stockClock = .external }
        let (op, _) = try room.join(.operator)
        let (connector, _) = try room.join(.connector, channel: "taobao")
        connector.sendJSON(["type": "order", "id": "o1", "orderId": "TB-1", "sku": "hoodie", "qty": 2, "state": "placed"])
        #expect(try #require(connector.read(type: "result"))["outcome"] as? String == "reserved")
        // Not yet due: 14 minutes of core time.
        op.sendJSON(["type": "tick", "id": "t1", "to": 14 * 60_000])
        let first = try #require(op.read(type: "result"))
        #expect(first["command"] as? String == "tick")
        #expect(first["ok"] as? Bool == true)
        // The default reservation timeout (15 minutes) has passed: the units come back.
        op.sendJSON(["type": "tick", "id": "t2", "to": 15 * 60_000 + 1000])
        var sawExpiry = false
        for _ in 0..<20 {
            guard let message = op.readJSON() else { break }
            if message["type"] as? String == "stock", message["sku"] as? String == "hoodie",
                message["reserved"] as? Int == 0, message["sellable"] as? Int == 10
            {
                sawExpiry = true
                break
            }
        }
        #expect(sawExpiry)
        // A tick without `to` names the field.
        op.sendJSON(["type": "tick", "id": "t3"])
        let error = try #require(op.read(type: "error"))
        #expect(error["field"] as? String == "to")
    }
}
