import Foundation
import LiveGateAlerts
import LiveGateCore
import LiveGateStock
import Testing

@testable import LiveGate

/// The figures on air stay true between sales (issue #17): a banner's figure follows its SKU's
/// stock, a late joiner gets the standing banner, the rate decays with core time when nothing
/// sells, and a sold-out SKU shows no rate. Core time is driven with `tick` (external clock).
@Suite(.serialized)
struct LiveFiguresTests {
    /// Cap: threshold at 50 sellable (no rate-driven line), emergency at 2.
    static func fixture() throws -> RoomFixture {
        try RoomFixture { configuration in
            configuration.stockClock = .external
            configuration.skus[1].policy = SkuPolicy(safetyMinimum: 50, restockLeadTime: 0, emergencyLine: 2)
        }
    }

    /// Sends a paid order for `qty` of `sku` and waits for its result.
    static func sell(_ connector: TestClient, _ sku: String, _ qty: Int, id: String) throws {
        connector.sendJSON(["type": "order", "id": id, "orderId": id, "sku": sku, "qty": qty, "state": "paid"])
        let result = try #require(connector.read(type: "result", limit: 200))
        #expect(result["ok"] as? Bool == true, "\(result)")
    }

    /// Moves core time to `ms` and waits for the tick's result; returns what arrived meanwhile.
    @discardableResult
    static func tick(_ op: TestClient, to ms: Int64) throws -> [[String: Any]] {
        op.sendJSON(["type": "tick", "id": "t\(ms)", "to": ms])
        let seen = collect(op, limit: 500) { $0["type"] as? String == "result" && $0["id"] as? String == "t\(ms)" }
        #expect(seen.last?["command"] as? String == "tick")
        return seen
    }

    /// Every message the client has until `type` with `matching` arrives (inclusive), at most `limit`.
    static func collect(_ client: TestClient, limit: Int = 400, until done: ([String: Any]) -> Bool) -> [[String: Any]] {
        var seen: [[String: Any]] = []
        for _ in 0..<limit {
            guard let message = client.readJSON() else { break }
            seen.append(message)
            if done(message) { break }
        }
        return seen
    }

    @Test func theBannerFigureFollowsTheStockAndALateJoinerGetsIt() throws {
        let room = try Self.fixture()
        let (op, _) = try room.join(.operator)
        let (connector, _) = try room.join(.connector, channel: "taobao")
        let (viewer, _) = try room.join(.viewer)
        try Self.tick(op, to: 1_000)
        // 51 sold: 49 sellable, at or below 50: threshold and its banner with the figure.
        try Self.sell(connector, "cap", 51, id: "o0")
        let raised = Self.collect(viewer) { $0["type"] as? String == "banner" }
        let first = try #require(raised.last)
        #expect(first["text"] as? String == "库存紧张,仅剩49件" && first["left"] as? Int == 49, "\(first)")
        // Ten more sales at the same core time: within the banner's interval, so no banner yet…
        for n in 1...10 { try Self.sell(connector, "cap", 1, id: "o\(n)") }
        // …and the next tick past the interval sends the newest figure once.
        try Self.tick(op, to: 1_600)
        let refreshed = Self.collect(viewer) { $0["type"] as? String == "banner" }
        let banners = refreshed.filter { $0["type"] as? String == "banner" }
        #expect(banners.count == 1)
        #expect(banners.last?["text"] as? String == "库存紧张,仅剩39件" && banners.last?["left"] as? Int == 39)
        // The banner never showed more than the sellable figure of the stock message before it.
        var sellable = Int.max
        for message in raised + refreshed {
            if message["type"] as? String == "stock", message["sku"] as? String == "cap" { sellable = message["sellable"] as? Int ?? sellable }
            if message["type"] as? String == "banner", let left = message["left"] as? Int { #expect(left <= sellable) }
        }
        // A viewer joining now gets the standing banner in its snapshot.
        let (_, snapshot) = try room.join(.viewer, sub: "late")
        let standing = try #require(snapshot["banners"] as? [[String: Any]])
        #expect(standing.count == 1 && standing.first?["sku"] as? String == "cap" && standing.first?["left"] as? Int == 39)
        // A restock lifts the level: the banner is withdrawn and the snapshot holds none.
        op.sendJSON(["type": "restock", "id": "r1", "sku": "cap", "qty": 100])
        let withdrawn = Self.collect(viewer) { $0["type"] as? String == "banner" }
        #expect(withdrawn.last?["withdrawn"] as? Bool == true)
        let (_, after) = try room.join(.viewer, sub: "later")
        #expect((after["banners"] as? [[String: Any]])?.isEmpty == true)
    }

    @Test func theRateDecaysWithCoreTimeWithoutSalesAndASoldOutSkuShowsNone() throws {
        let room = try Self.fixture()
        let (op, _) = try room.join(.operator)
        let (connector, _) = try room.join(.connector, channel: "taobao")
        let (viewer, _) = try room.join(.viewer)
        try Self.tick(op, to: 1_000)
        try Self.sell(connector, "cap", 30, id: "a")
        let sold = Self.collect(op) { $0["type"] as? String == "stock" && $0["sku"] as? String == "cap" }
        let start = try #require(sold.last?["ratePerMin"] as? Double)
        #expect(start > 0)
        // No sale for four minutes: the published rate falls with core time, and time to stock-out grows.
        var rates: [Double] = [start]
        var etas: [Int] = [try #require(sold.last?["etaSec"] as? Int)]
        var seen: [[String: Any]] = []
        for second in stride(from: 10, through: 240, by: 10) {
            seen += try Self.tick(op, to: 1_000 + Int64(second) * 1_000)
        }
        for message in seen where message["type"] as? String == "stock" && message["sku"] as? String == "cap" {
            if let rate = message["ratePerMin"] as? Double { rates.append(rate) }
            if let eta = message["etaSec"] as? Int { etas.append(eta) }
        }
        #expect(rates.count >= 5, "\(rates)")
        #expect(zip(rates, rates.dropFirst()).allSatisfy { $1 < $0 }, "\(rates)")
        #expect(zip(etas, etas.dropFirst()).allSatisfy { $1 > $0 }, "\(etas)")
        // τ = 5 min: after 4 min the rate is about e^(−0.8) ≈ 45 % of its start.
        #expect(rates.last! < start * 0.5 && rates.last! > start * 0.4, "\(rates)")
        // Past the recent window (5 min) with no sale: 0, no interval, no time to stock-out. (A stream message
        // and the tick's result may arrive in either order: look for the message itself.)
        func isCapStock(_ m: [String: Any]) -> Bool { m["type"] as? String == "stock" && m["sku"] as? String == "cap" }
        func hasNoRate(_ m: [String: Any]) -> Bool { isCapStock(m) && m["ratePerMin"] as? Double == 0 }
        var quietSeen = try Self.tick(op, to: 1_000 + 302_000)
        if !quietSeen.contains(where: hasNoRate) { quietSeen += Self.collect(op, until: hasNoRate) }
        let quiet = try #require(quietSeen.last(where: hasNoRate))
        #expect(quiet["etaSec"] is NSNull && quiet["rateLowPerMin"] is NSNull)
        // Sold out: no rate and no time to stock-out on the stock message, though it sold fast.
        try Self.sell(connector, "cap", 70, id: "b")
        let out = try #require(Self.collect(op) { isCapStock($0) && $0["sellable"] as? Int == 0 }.last)
        #expect(out["sellable"] as? Int == 0 && out["ratePerMin"] as? Double == 0 && out["etaSec"] is NSNull, "\(out)")
        // Viewers are not sent the rate: of all this, their stream carried the two sales only.
        let viewerSaw = Self.collect(viewer, limit: 200) { isCapStock($0) && $0["sellable"] as? Int == 0 }.filter(isCapStock)
        #expect(viewerSaw.map { $0["sellable"] as? Int } == [70, 0], "\(viewerSaw)")
    }
}
