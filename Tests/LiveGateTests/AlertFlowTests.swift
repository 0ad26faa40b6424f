import Foundation
import LiveGateStock
import Testing

@testable import LiveGate

@Suite(.serialized)
struct AlertFlowTests {
    static func smallRoom() throws -> RoomFixture {
        try RoomFixture { configuration in
            var policy = SkuPolicy()
            policy.safetyMinimum = 5
            policy.emergencyLine = 1
            policy.restockLeadTime = 60 * 1_000_000_000
            policy.cooldown = 0
            policy.substitute = "cap"
            configuration.skus[0] = SkuSpec(id: "hoodie", name: "Hoodie", onHand: 10, substitute: "cap", policy: policy)
        }
    }

    @Test func aThresholdReachesEveryRoleInItsShapeAndARestockWithdrawsIt() throws {
        let room = try Self.smallRoom()
        let (op, _) = try room.join(.operator)
        let (host, _) = try room.join(.host)
        let (viewer, _) = try room.join(.viewer)
        let (connector, _) = try room.join(.connector, channel: "douyin")
        connector.sendJSON(["type": "order", "orderId": "A", "sku": "hoodie", "qty": 6, "state": "paid"])
        #expect(connector.read(type: "result")?["outcome"] as? String == "sold")

        let alert = try #require(op.read(type: "alert"))
        #expect(alert["sku"] as? String == "hoodie")
        #expect(["threshold", "emergency"].contains(alert["level"] as? String))
        #expect(alert["previousLevel"] as? String == "normal")
        #expect(alert["sellable"] as? Int == 4)
        #expect(alert["safetyLine"] as? Int ?? 0 >= 5)
        #expect(alert["suggestedAction"] != nil)

        let hint = try #require(host.read(type: "hint"))
        #expect(hint["canSell"] as? Int == 4)
        #expect(!(hint["text"] as? String ?? "").isEmpty)

        // Stock messages carry the engine's figures.
        let stock = try #require(viewer.read(type: "stock"))
        #expect(stock["ratePerMin"] as? Double ?? 0 > 0 || stock["ratePerMin"] as? Int ?? 0 > 0)
        #expect(["threshold", "emergency"].contains(stock["level"] as? String))
        let banner = try #require(viewer.read(type: "banner"))
        #expect(banner["withdrawn"] as? Bool == false)
        let bannerText = try #require(banner["text"] as? String)
        #expect(bannerText.contains("4"))  // honest: the figure is the real one
        let injected = try #require(viewer.read(type: "danmaku"))
        #expect(injected["system"] as? Bool == true)

        // A viewer's stock question gets the templated answer with the live figure.
        viewer.sendJSON(["type": "danmaku", "text": "还有货吗"])
        var reply: [String: Any]?
        while let message = viewer.read(type: "danmaku") {
            if message["system"] as? Bool == true { reply = message; break }
        }
        let replyText = reply?["text"] as? String ?? ""
        #expect(replyText.contains("4"), "\(replyText)")

        // Sold out, then a restock lifts it and withdraws the banner.
        connector.sendJSON(["type": "order", "orderId": "B", "sku": "hoodie", "qty": 4, "state": "paid"])
        #expect(connector.read(type: "result")?["outcome"] as? String == "sold")
        var soldOut: [String: Any]?
        while let message = op.read(type: "alert") {
            if message["level"] as? String == "soldout" { soldOut = message; break }
        }
        #expect(soldOut?["substitute"] as? String == "cap")
        op.sendJSON(["type": "restock", "id": "r", "sku": "hoodie", "qty": 50])
        var lifted: [String: Any]?
        while let message = op.readJSON() {
            if message["type"] as? String == "alert", message["level"] as? String != "soldout" { lifted = message; break }
        }
        #expect(lifted?["previousLevel"] as? String == "soldout")
        var withdrawn = false
        while let message = viewer.read(type: "banner") {
            if message["withdrawn"] as? Bool == true { withdrawn = true; break }
        }
        #expect(withdrawn)
    }

    @Test func policyChangesAreJournaledAndChecked() throws {
        let room = try Self.smallRoom()
        let (op, _) = try room.join(.operator)
        op.sendJSON(["type": "policy", "id": "p1", "sku": "hoodie", "safetyMinimum": 8, "restockLeadTimeSec": 7200])
        let accepted = try #require(op.read(type: "result"))
        #expect(accepted["ok"] as? Bool == true)
        #expect(room.gateway.hub.policy(of: "hoodie")?.safetyMinimum == 8)
        op.sendJSON(["type": "policy", "id": "p2", "sku": "hoodie", "trendFactor": 0.5])
        #expect(op.read(type: "error")?["code"] as? String == "badField")
        op.sendJSON(["type": "policy", "id": "p3", "sku": "hoodie", "bogus": 1])
        #expect(op.read(type: "error")?["field"] as? String == "bogus")
        op.sendJSON(["type": "ack", "id": "a1", "alert": "hoodie-1-1"])
        #expect(op.read(type: "ack")?["by"] as? String == "t")
    }

    @Test func alertStateSurvivesARestartWithoutRefiring() throws {
        let kept = NSTemporaryDirectory() + "livegate-alert-restart-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: kept) }
        func makeRoom() throws -> RoomFixture {
            try RoomFixture { configuration in
                configuration.dataDir = kept
                configuration.snapshotEvery = 100
                var policy = SkuPolicy()
                policy.safetyMinimum = 5
                policy.cooldown = 0
                configuration.skus[0] = SkuSpec(id: "hoodie", name: "Hoodie", onHand: 10, policy: policy)
            }
        }
        do {
            let room = try makeRoom()
            let (op, _) = try room.join(.operator)
            let (connector, _) = try room.join(.connector, channel: "douyin")
            connector.sendJSON(["type": "order", "orderId": "A", "sku": "hoodie", "qty": 6, "state": "paid"])
            #expect(connector.read(type: "result")?["ok"] as? Bool == true)
            #expect(op.read(type: "alert") != nil)
        }
        let room = try makeRoom()
        let (op, snapshot) = try room.join(.operator)
        let hoodie = try #require((snapshot["skus"] as? [[String: Any]])?.first)
        #expect(["threshold", "emergency"].contains(hoodie["level"] as? String))
        // No alert is raised again for the same level after the restart.
        op.sendJSON(["type": "ping", "id": "x"])
        var sawAlert = false
        while let message = op.readJSON() {
            if message["type"] as? String == "alert" { sawAlert = true }
            if message["type"] as? String == "pong" { break }
        }
        #expect(!sawAlert)
    }
}
