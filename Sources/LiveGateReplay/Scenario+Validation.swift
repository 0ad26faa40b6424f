import Foundation
import LiveGate
import LiveGateAlerts
import LiveGateCore

extension Scenario {
    /// Reads and checks a scenario file.
    /// - Throws: ``ScenarioError`` naming the file and field.
    public static func load(path: String) throws -> Scenario {
        let name = (path as NSString).lastPathComponent
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ScenarioError(file: path, field: "", message: "cannot read the file")
        }
        return try decode(data, file: name)
    }

    /// Decodes and checks a scenario.
    /// - Throws: ``ScenarioError`` naming `file` and the field.
    public static func decode(_ data: Data, file: String) throws -> Scenario {
        let scenario: Scenario
        do {
            try JSONValue.checkUTF8(data)
            let decoder = JSONDecoder()
            decoder.allowsJSON5 = true
            scenario = try decoder.decode(Scenario.self, from: data)
        } catch let error as DecodingError {
            throw ScenarioError(decoding: error, file: file)
        } catch {
            throw ScenarioError(file: file, field: "", message: "\(error)")
        }
        try scenario.validate(file: file)
        return scenario
    }

    /// Checks references and ranges.
    func validate(file: String) throws {
        func fail(_ field: String, _ message: String) -> ScenarioError { ScenarioError(file: file, field: field, message: message) }
        guard duration.seconds > 0 else { throw fail("duration", "must be positive") }
        if let step, step.seconds < 1 || step.seconds > 60 { throw fail("step", "must be 1…60 s") }
        if let idleTick, idleTick.seconds < 1 || idleTick.seconds > 300 { throw fail("idleTick", "must be 1…300 s") }
        guard !skus.isEmpty else { throw fail("skus", "at least one SKU is needed") }
        let ids = skus.map(\.id)
        guard Set(ids).count == ids.count else { throw fail("skus", "SKU ids must be unique") }
        for (index, sku) in skus.enumerated() {
            guard !sku.id.isEmpty, sku.id.utf8.count <= 64, !sku.id.contains(where: \.isWhitespace) else {
                throw fail("skus[\(index)].id", "1 to 64 bytes without spaces")
            }
            guard sku.onHand >= 0 else { throw fail("skus[\(index)].onHand", "must be ≥ 0") }
            if let substitute = sku.substitute, !ids.contains(substitute) {
                throw fail("skus[\(index)].substitute", "no SKU '\(substitute)' in skus")
            }
            var policy = SkuPolicy()
            do {
                policy = try (sku.policy ?? PolicyFields()).apply(to: policy)
                try policy.validate(horizon: AlertConfiguration().horizon)
            } catch {
                throw fail("skus[\(index)].policy.\(error.field)", error.reason)
            }
        }
        guard ids.contains(focusSku) else { throw fail("focusSku", "no SKU '\(focusSku)' in skus") }
        guard staticRuleBelow > 0 else { throw fail("staticRuleBelow", "must be positive") }
        guard !channels.isEmpty else { throw fail("channels", "at least one channel is needed") }
        let channelIDs = channels.map(\.id)
        guard Set(channelIDs).count == channelIDs.count else { throw fail("channels", "channel ids must be unique") }
        for (index, channel) in channels.enumerated() {
            guard !channel.id.isEmpty, channel.id.utf8.count <= 64 else { throw fail("channels[\(index)].id", "1 to 64 bytes") }
            if let sockets = channel.sockets, !(1...8).contains(sockets) { throw fail("channels[\(index)].sockets", "must be 1…8") }
            if let share = channel.httpShare, !(0...1).contains(share) { throw fail("channels[\(index)].httpShare", "must be 0…1") }
        }
        for (index, stream) in (demand ?? []).enumerated() {
            guard ids.contains(stream.sku) else { throw fail("demand[\(index)].sku", "no SKU '\(stream.sku)' in skus") }
            guard channelIDs.contains(stream.channel) else {
                throw fail("demand[\(index)].channel", "no channel '\(stream.channel)' in channels")
            }
            guard !stream.rate.isEmpty else { throw fail("demand[\(index)].rate", "at least one point is needed") }
            for (point, value) in stream.rate.enumerated() {
                guard value.perMin.isFinite, value.perMin >= 0, value.perMin <= 100_000 else {
                    throw fail("demand[\(index)].rate[\(point)].perMin", "must be 0…100000")
                }
                if point > 0, value.at < stream.rate[point - 1].at {
                    throw fail("demand[\(index)].rate[\(point)].at", "points must be in time order")
                }
            }
        }
        if let noise, !(0...1).contains(noise) { throw fail("noise", "must be 0…1") }
        for (index, surge) in (surges ?? []).enumerated() {
            guard surge.from < surge.to else { throw fail("surges[\(index)].to", "must be after from") }
            guard surge.factor.isFinite, surge.factor >= 0, surge.factor <= 1000 else { throw fail("surges[\(index)].factor", "must be 0…1000") }
            for channel in surge.channels ?? [] where !channelIDs.contains(channel) {
                throw fail("surges[\(index)].channels", "no channel '\(channel)' in channels")
            }
        }
        for (index, burst) in (bursts ?? []).enumerated() {
            guard ids.contains(burst.sku) else { throw fail("bursts[\(index)].sku", "no SKU '\(burst.sku)' in skus") }
            guard (1...10_000_000).contains(burst.orders) else { throw fail("bursts[\(index)].orders", "must be 1…10000000") }
            for channel in burst.channels ?? [] where !channelIDs.contains(channel) {
                throw fail("bursts[\(index)].channels", "no channel '\(channel)' in channels")
            }
        }
        if let quantity = buyers.quantity {
            guard quantity.count == 2, quantity[0] >= 1, quantity[0] <= quantity[1], quantity[1] <= 1000 else {
                throw fail("buyers.quantity", "must be [min, max] with 1 ≤ min ≤ max ≤ 1000")
            }
        }
        guard (0...1).contains(buyers.payRatio) else { throw fail("buyers.payRatio", "must be 0…1") }
        guard (0...1).contains(buyers.cancelRatio), buyers.payRatio + buyers.cancelRatio <= 1 + 1e-9 else {
            throw fail("buyers.cancelRatio", "must be 0…1 and payRatio + cancelRatio ≤ 1")
        }
        guard buyers.payDelay.count == 2, buyers.payDelay[0] <= buyers.payDelay[1] else {
            throw fail("buyers.payDelay", "must be [min, max]")
        }
        func check(_ actions: [ScenarioAction], _ path: String) throws {
            guard !actions.isEmpty else { throw fail(path, "at least one action is needed") }
            for (index, action) in actions.enumerated() {
                let field = "\(path)[\(index)]"
                guard ScenarioAction.types.contains(action.type) else {
                    throw fail("\(field).type", "unknown action '\(action.type)' (\(ScenarioAction.types.sorted().joined(separator: ", ")))")
                }
                if let sku = action.sku, !ids.contains(sku) { throw fail("\(field).sku", "no SKU '\(sku)' in skus") }
                if ["restock", "hold", "release"].contains(action.type) {
                    guard let qty = action.qty, qty >= 1 else { throw fail("\(field).qty", "\(action.type) needs qty ≥ 1") }
                }
                if ["announce", "note"].contains(action.type), (action.text ?? "").isEmpty {
                    throw fail("\(field).text", "\(action.type) needs a text")
                }
                if action.type == "policy", action.policy?.entries.isEmpty ?? true {
                    throw fail("\(field).policy", "policy needs at least one field")
                }
                if let factor = action.demandFactor, !(factor.isFinite && factor >= 0) {
                    throw fail("\(field).demandFactor", "must be ≥ 0")
                }
            }
        }
        for (index, event) in (events ?? []).enumerated() {
            try check(event.actions, "events[\(index)].actions")
        }
        let levels = ["trend", "threshold", "emergency", "soldout"]
        for (index, reaction) in (reactions ?? []).enumerated() {
            let trigger = reaction.on
            guard (trigger.level == nil) != (trigger.sellableAtMost == nil) else {
                throw fail("reactions[\(index)].on", "give exactly one of level and sellableAtMost")
            }
            if let level = trigger.level, !levels.contains(level) {
                throw fail("reactions[\(index)].on.level", "must be one of \(levels.joined(separator: ", "))")
            }
            if let sku = trigger.sku, !ids.contains(sku) { throw fail("reactions[\(index)].on.sku", "no SKU '\(sku)' in skus") }
            try check(reaction.actions, "reactions[\(index)].actions")
        }
    }
}
