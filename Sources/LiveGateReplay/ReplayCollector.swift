import Foundation

/// Collects what the replay's clients receive; their reader threads write, the driver reads.
final class ReplayCollector: @unchecked Sendable {
    // @unchecked: every field below is guarded by `condition`.
    private let condition = NSCondition()
    private var results: [String: [String: Any]] = [:]
    /// Every alert, in arrival order.
    private var alertLog: [AlertRecord] = []
    /// What had arrived when each tick's result arrived: the alert count and the stock figures.
    private var barriers: [String: Barrier] = [:]
    private var stock: [String: StockState] = [:]
    private var worstOversell: [String: Int64] = [:]
    private var snapshots = 0
    private var closes: [String] = []
    private(set) var featured: String?
    /// Messages by audience and type.
    private var counts: [String: [String: Int]] = [:]
    private var banners: [String] = []

    /// Handles a message that arrived on `audience`'s socket.
    func receive(_ bytes: [UInt8], audience: String) {
        // The server writes `type` first. Beyond the operator's stream (which carries every figure the
        // report needs), only answers, snapshots and banners are parsed; the rest is counted.
        if audience != "operator", let type = Self.leadingType(bytes), !["result", "error", "snapshot", "banner"].contains(type) {
            condition.lock()
            counts[audience, default: [:]][type, default: 0] += 1
            condition.unlock()
            return
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any],
            let type = object["type"] as? String
        else { return }
        condition.lock()
        defer { condition.unlock() }
        counts[audience, default: [:]][type, default: 0] += 1
        switch type {
        case "result", "error":
            if let id = object["id"] as? String {
                results[id] = object
                // The operator socket delivers in order: what arrived before a tick's result is exactly what
                // the batches before the tick produced, whenever the driver looks.
                if audience == "operator", id.hasPrefix("t") { barriers[id] = Barrier(alertCount: alertLog.count, stock: stock) }
                condition.broadcast()
            }
        case "snapshot":
            snapshots += 1
            if audience == "operator" {
                featured = object["featured"] as? String
                for case let sku as [String: Any] in object["skus"] as? [Any] ?? [] { record(stock: sku) }
            }
            condition.broadcast()
        case "stock":
            if audience == "operator" { record(stock: object) }
        case "featured":
            if audience == "operator" { featured = object["sku"] as? String }
        case "banner":
            if audience == "viewer", let text = object["text"] as? String { banners.append(text) }
        case "alert":
            guard audience == "operator" else { return }
            alertLog.append(
                AlertRecord(
                    at: int(object["at"]) / 1000, sku: object["sku"] as? String ?? "", level: object["level"] as? String ?? "",
                    previousLevel: object["previousLevel"] as? String ?? "", transition: object["transition"] as? String ?? "",
                    reason: object["reason"] as? String ?? "", sellable: int(object["sellable"]),
                    ratePerMin: (object["ratePerMin"] as? NSNumber)?.doubleValue ?? 0,
                    etaSec: (object["etaSec"] as? NSNumber)?.int64Value, safetyLine: int(object["safetyLine"]),
                    suggestedAction: object["suggestedAction"] as? String ?? "", suggestedQty: int(object["suggestedQty"])))
        default:
            break
        }
    }

    /// The value of a leading `{"type":"…"` in a message, without parsing the rest.
    static func leadingType(_ bytes: [UInt8]) -> String? {
        let prefix = Array("{\"type\":\"".utf8)
        guard bytes.count > prefix.count, bytes.starts(with: prefix) else { return nil }
        guard let end = bytes[prefix.count...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        return String(decoding: bytes[prefix.count..<end], as: UTF8.self)
    }

    private func int(_ value: Any?) -> Int64 { (value as? NSNumber)?.int64Value ?? 0 }

    private func record(stock object: [String: Any]) {
        guard let sku = object["sku"] as? String else { return }
        var state = StockState()
        state.sellable = int(object["sellable"])
        state.onHand = int(object["onHand"])
        state.reserved = int(object["reserved"])
        state.held = int(object["held"])
        state.sold = int(object["sold"])
        state.level = object["level"] as? String ?? "normal"
        state.ratePerMin = (object["ratePerMin"] as? NSNumber)?.doubleValue ?? 0
        stock[sku] = state
        worstOversell[sku] = max(worstOversell[sku] ?? Int64.min, state.sold + state.reserved + state.held - state.onHand)
    }

    /// Notes that a client's connection ended.
    func closed(_ audience: String, code: UInt16?, reason: String) {
        condition.lock()
        closes.append("\(audience): \(code.map(String.init) ?? "-") \(reason)")
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until `count` snapshots arrived.
    func waitForSnapshots(_ count: Int, timeout: Double) throws {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while snapshots < count {
            if !closes.isEmpty { throw ReplayClientError("a client was closed: \(closes[0])") }
            guard condition.wait(until: deadline) else { throw ReplayClientError("no snapshot within \(Int(timeout)) s") }
        }
    }

    /// Waits for the answers (result or error) to `ids` and takes them.
    func take(_ ids: [String], timeout: Double = 60) throws -> [String: [String: Any]] {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        var taken: [String: [String: Any]] = [:]
        for id in ids {
            while results[id] == nil {
                if !closes.isEmpty { throw ReplayClientError("a client was closed: \(closes[0])") }
                guard condition.wait(until: deadline) else {
                    throw ReplayClientError("no answer to \(id) within \(Int(timeout)) s (\(ids.count - taken.count) outstanding)")
                }
            }
            taken[id] = results.removeValue(forKey: id)
        }
        return taken
    }

    /// What had arrived on the operator socket before a tick's result.
    struct Barrier {
        /// Alerts that had arrived.
        var alertCount: Int
        /// Every SKU's latest figures.
        var stock: [String: StockState]
    }

    /// Takes the barrier recorded with the result of tick `id`.
    func takeBarrier(_ id: String) -> Barrier? {
        condition.lock()
        defer { condition.unlock() }
        return barriers.removeValue(forKey: id)
    }

    /// Alerts `range` of the log.
    func alerts(_ range: Range<Int>) -> [AlertRecord] {
        condition.lock()
        defer { condition.unlock() }
        return Array(alertLog[range])
    }

    /// The latest figures of `sku`.
    func stock(of sku: String) -> StockState? {
        condition.lock()
        defer { condition.unlock() }
        return stock[sku]
    }

    /// The featured SKU.
    func currentFeatured() -> String? {
        condition.lock()
        defer { condition.unlock() }
        return featured
    }

    /// The largest `sold + reserved + held − onHand` seen for `sku` on the operator stream.
    func oversell(of sku: String) -> Int64 {
        condition.lock()
        defer { condition.unlock() }
        return worstOversell[sku] ?? 0
    }

    /// Messages received per audience and type; viewer banners.
    func tallies() -> (counts: [String: [String: Int]], banners: [String]) {
        condition.lock()
        defer { condition.unlock() }
        return (counts, banners)
    }
}
