import Dispatch
import Foundation
import LiveGate
import LiveGateAlerts
import LiveGateCore
import LiveGateStock

/// One buyer's order and what the buyer will do next.
private struct Order {
    /// What the buyer does once the order is reserved: pay or cancel at a time, or never pay.
    enum Fate { case pay(at: Int64), cancel(at: Int64), leaveUnpaid }
    var orderId: String
    var channel: Int
    var sku: String
    var qty: Int64
    var fate: Fate
}

/// Drives one run: clients, time, orders, reactions.
final class ReplayDriver {
    private let scenario: Scenario
    private let options: ReplayOptions
    private let collector = ReplayCollector()
    private var gateway: Gateway?
    private var dataDir: String?
    private let host: String
    private let port: Int
    private let tokens: TokenAuthority
    private let room: String
    private var operatorClient: WebSocketClient!
    private var others: [WebSocketClient] = []
    /// Connector sockets per channel index.
    private var connectors: [[WebSocketClient]] = []
    private var http: [HTTPOrderClient] = []
    private var connectorTokens: [String] = []

    private var requestCounter = 0
    private var orderCounter: [Int] = []
    private var roundRobin: [Int] = []
    private var tallies: [ChannelTally]
    private var followUps: [Int64: [Order]] = [:]
    private var actions: [ActionRecord] = []
    private var alerts: [AlertRecord] = []
    private var samples: [Sample] = []
    private var eventLines: [String] = []
    private var supplied: [String: Int64] = [:]
    private var demandFactor: [String: Double] = [:]
    /// Reactions scheduled: due time, trigger time, reaction index.
    private var scheduled: [(due: Int64, trigger: Int64, reaction: Int)] = []
    private var fired: Set<Int> = []
    private var generators: [SeededGenerator]
    private var noise: [Double]
    private var noiseMinute: [Int64]
    private var buyerGenerator: SeededGenerator
    private var staticRuleAt: Int64?
    /// What had arrived before the last tick's result.
    private var barrier = ReplayCollector.Barrier(alertCount: 0, stock: [:])
    /// Alerts of the log already handled.
    private var alertsSeen = 0
    /// Orders placed per SKU in the current minute (events.jsonl).
    private var minute: (index: Int64, placed: [String: Int]) = (-1, [:])
    /// The featured SKU, as this driver's own actions set it (the scenario's operators are the only ones).
    private var featured: String?
    private var featuredBefore: [String] = []

    /// Starts the embedded gateway (or notes the remote one); clients connect in ``run()``.
    init(scenario: Scenario, options: ReplayOptions) throws {
        self.scenario = scenario
        self.options = options
        room = scenario.room ?? "replay"
        let streams = scenario.demand ?? []
        generators = streams.indices.map { SeededGenerator(seed: scenario.seed, stream: UInt64($0) + 1) }
        noise = streams.map { _ in 1 }
        noiseMinute = streams.map { _ in -1 }
        buyerGenerator = SeededGenerator(seed: scenario.seed, stream: 0)
        featured = scenario.focusSku
        tallies = scenario.channels.map { ChannelTally(channel: $0.id) }
        orderCounter = scenario.channels.map { _ in 0 }
        roundRobin = scenario.channels.map { _ in 0 }
        for sku in scenario.skus { supplied[sku.id] = sku.onHand }
        switch options.target {
        case .embedded:
            // A replay needs no durability beyond the run: memory-backed /dev/shm when there is one keeps
            // fdatasync cheap; otherwise the system's temporary directory.
            let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm/" : NSTemporaryDirectory()
            let directory = base + "livegate-replay-\(UUID().uuidString)"
            var secretBytes = [UInt8](repeating: 0, count: 24)
            for index in secretBytes.indices { secretBytes[index] = UInt8.random(in: 0...255) }
            let secret = Data(secretBytes).base64EncodedString()
            let configuration = try Replay.configuration(
                for: scenario, policyOverride: options.policyOverride, dataDir: directory, tokenSecret: secret)
            dataDir = directory
            ReplayCleanup.register(directory)
            Log.level = configuration.logLevel
            let gateway = try Gateway(configuration: configuration)
            try gateway.start()
            self.gateway = gateway
            host = "127.0.0.1"
            port = gateway.server.port
            tokens = TokenAuthority(secret: secret)
        case .remote(let host, let port, let secret):
            self.host = host
            self.port = port
            tokens = TokenAuthority(secret: secret)
        }
    }

    /// Closes the clients, stops an embedded gateway and removes its data directory.
    func finish() {
        operatorClient?.close(timeout: 1)
        for client in others { client.close(timeout: 1) }
        for channel in connectors { for client in channel { client.close(timeout: 1) } }
        http = []
        gateway?.shutdown()
        gateway = nil
        if let dataDir {
            try? FileManager.default.removeItem(atPath: dataDir)
            ReplayCleanup.unregister(dataDir)
        }
        dataDir = nil
    }

    private func token(_ role: Role, sub: String, channel: String? = nil) -> String {
        tokens.mint(TokenClaims(subject: sub, room: room, role: role, expiresAt: Int64(Date().timeIntervalSince1970) + 86_400, channel: channel))
    }

    private func connect(_ role: Role, sub: String, channel: String? = nil) throws -> WebSocketClient {
        let collector = self.collector
        let audience = role == .connector ? "connector" : role.rawValue
        return try WebSocketClient(
            host: host, port: port, path: "/ws?token=\(token(role, sub: sub, channel: channel))",
            onMessage: { collector.receive($0, audience: audience) },
            onClose: { code, reason in collector.closed("\(audience) \(sub)", code: code, reason: reason) })
    }

    private func nextID(_ prefix: String) -> String {
        requestCounter += 1
        return "\(prefix)\(requestCounter)"
    }

    // MARK: - Run

    /// Connects the clients and runs the scenario to its end.
    func run() throws -> ReplayRun {
        let started = Date()
        operatorClient = try connect(.operator, sub: "replay-operator")
        others.append(try connect(.host, sub: "replay-host"))
        others.append(try connect(.viewer, sub: "replay-viewer"))
        var socketCount = 3
        for channel in scenario.channels {
            var sockets: [WebSocketClient] = []
            for index in 0..<(channel.sockets ?? 2) {
                sockets.append(try connect(.connector, sub: "\(channel.id)-bridge-\(index + 1)", channel: channel.id))
                socketCount += 1
            }
            connectors.append(sockets)
            connectorTokens.append(token(.connector, sub: "\(channel.id)-http", channel: channel.id))
            http.append(try HTTPOrderClient(host: host, port: port))
        }
        try collector.waitForSnapshots(socketCount, timeout: 10)
        log(0, "start", ["scenario": .string(scenario.name), "speed": options.speed.map { .number($0) } ?? .string("max")])

        let step = scenario.step?.seconds ?? 1
        let duration = scenario.duration.seconds
        let realStart = DispatchTime.now().uptimeNanoseconds
        var lastProgress = realStart
        var events = (scenario.events ?? []).enumerated().sorted { $0.element.at < $1.element.at }[...]
        let idle = scenario.idleTick?.seconds ?? 10
        var t: Int64 = 0
        var lastTick: Int64 = -1
        while t <= duration {
            let batch = makeOrders(from: t, to: min(t + step, duration + 1))
            let isEventDue = events.first.map { $0.element.at.seconds <= t } ?? false
            let isReactionDue = scheduled.contains { $0.due <= t }
            // A step with nothing to send moves no time, up to `idleTick` (so time-driven alerts still fire).
            if batch.isEmpty && !isEventDue && !isReactionDue && lastTick >= 0 && t - lastTick < idle && t + step <= duration {
                t += step
                continue
            }
            if let speed = options.speed {
                let target = realStart + UInt64(Double(t) / speed * 1e9)
                let now = DispatchTime.now().uptimeNanoseconds
                if target > now { usleep(UInt32(min((target - now) / 1000, 1_000_000))) }
            }
            // The barrier: once the tick's result is here, every alert and stock message of the earlier
            // batches has arrived on the operator socket (the release thread hands them over in order).
            try tick(t)
            observe(at: t, previous: max(0, lastTick))
            lastTick = t
            while let event = events.first, event.element.at.seconds <= t {
                events.removeFirst()
                try apply(event.element.actions, label: event.element.label ?? "scripted event", at: t, triggeredAt: event.element.at.seconds)
            }
            try applyDueReactions(at: t)
            try send(batch, at: t)
            let now = DispatchTime.now().uptimeNanoseconds
            if let progress = options.progress, now - lastProgress > 500_000_000 || t + step > duration {
                lastProgress = now
                let focus = collector.stock(of: scenario.focusSku) ?? StockState()
                progress(
                    "\(scenario.name) \(ScenarioTime.clock(t)) / \(ScenarioTime.clock(duration))  sold \(focus.sold)  "
                        + "sellable \(focus.sellable)  alerts \(alerts.count)  actions \(actions.count)")
            }
            t += step
        }
        // Two more ticks: the first's result brings the last steps' alerts, the second's the first's.
        try tick(duration)
        observe(at: duration, previous: duration)
        try tick(duration)
        observe(at: duration, previous: duration)

        var finalStock: [String: StockState] = [:]
        for sku in scenario.skus { finalStock[sku.id] = collector.stock(of: sku.id) ?? StockState() }
        var worst = Int64.min
        for sku in scenario.skus { worst = max(worst, collector.oversell(of: sku.id)) }
        for index in tallies.indices {
            tallies[index].leftUnpaid = (tallies[index].placedOutcomes["reserved"] ?? 0) - tallies[index].paid - tallies[index].cancelled
        }
        let soldOutAt = alerts.last { $0.sku == scenario.focusSku && $0.level == "soldout" && $0.isRaise }
            .flatMap { last in
                // Sold out for good: no recovery after it.
                alerts.contains { $0.sku == scenario.focusSku && $0.at > last.at && $0.transition == "recovered" } ? nil : last.at
            }
        let (counts, banners) = collector.tallies()
        log(duration, "end", ["wallSeconds": .number(Date().timeIntervalSince(started))])
        return ReplayRun(
            scenario: scenario.name, focusSku: scenario.focusSku,
            policy: try Replay.effectivePolicy(scenario, override: options.policyOverride), isWhatIf: options.policyOverride != nil,
            speed: options.speed, alerts: alerts, actions: actions, samples: samples, staticRuleBelow: scenario.staticRuleBelow,
            staticRuleAt: staticRuleAt, soldOutAt: soldOutAt, channels: tallies, finalStock: finalStock, supplied: supplied,
            worstOversell: worst, wallSeconds: Date().timeIntervalSince(started), duration: duration,
            falseAlarmHorizon: scenario.falseAlarmHorizon?.seconds ?? 90 * 60, messageCounts: counts, banners: banners,
            eventLines: eventLines)
    }

    /// Sends `tick` and waits for its result; keeps what had arrived before it (the barrier).
    private func tick(_ t: Int64) throws {
        let id = nextID("t")
        operatorClient.send(json: ["type": "tick", "id": id, "to": t * 1000])
        let answer = try collector.take([id])[id] ?? [:]
        guard answer["type"] as? String == "result", answer["ok"] as? Bool == true else {
            throw ReplayClientError("tick refused: \(answer["message"] as? String ?? "\(answer)") (does the gateway run with stock.clock: external?)")
        }
        barrier = collector.takeBarrier(id) ?? barrier
    }

    /// Takes the alerts that arrived, samples the focus SKU (its state as of `previous`), and schedules reactions.
    private func observe(at t: Int64, previous: Int64) {
        let arrived = collector.alerts(alertsSeen..<max(alertsSeen, barrier.alertCount))
        alertsSeen = max(alertsSeen, barrier.alertCount)
        for alert in arrived {
            alerts.append(alert)
            var fields: [String: JSONField] = [
                "sku": .string(alert.sku), "level": .string(alert.level), "previousLevel": .string(alert.previousLevel),
                "transition": .string(alert.transition), "reason": .string(alert.reason), "sellable": .number(Double(alert.sellable)),
                "ratePerMin": .number((alert.ratePerMin * 100).rounded() / 100), "safetyLine": .number(Double(alert.safetyLine)),
                "suggestedAction": .string(alert.suggestedAction), "suggestedQty": .number(Double(alert.suggestedQty)),
            ]
            if let eta = alert.etaSec { fields["etaSec"] = .number(Double(eta)) }
            log(alert.at, "alert", fields)
            guard alert.isRaise else { continue }
            for (index, reaction) in (scenario.reactions ?? []).enumerated()
            where reaction.on.level == alert.level && (reaction.on.sku ?? scenario.focusSku) == alert.sku {
                schedule(index, trigger: alert.at)
            }
        }
        let focus = barrier.stock[scenario.focusSku] ?? StockState()
        if let last = samples.last, last.t == previous {
            samples[samples.count - 1] = Sample(t: previous, sellable: focus.sellable, sold: focus.sold, ratePerMin: focus.ratePerMin)
        } else {
            samples.append(Sample(t: previous, sellable: focus.sellable, sold: focus.sold, ratePerMin: focus.ratePerMin))
        }
        if staticRuleAt == nil, focus.sellable < scenario.staticRuleBelow {
            staticRuleAt = previous
            log(previous, "staticRule", ["sellable": .number(Double(focus.sellable)), "below": .number(Double(scenario.staticRuleBelow))])
        }
        for (index, reaction) in (scenario.reactions ?? []).enumerated() {
            guard let line = reaction.on.sellableAtMost else { continue }
            let sku = reaction.on.sku ?? scenario.focusSku
            guard let state = barrier.stock[sku], state.sellable <= line, state.onHand > 0 else { continue }
            schedule(index, trigger: previous)
        }
    }

    private func schedule(_ index: Int, trigger: Int64) {
        let reaction = scenario.reactions![index]
        if reaction.once ?? true {
            guard !fired.contains(index) else { return }
            fired.insert(index)
        }
        scheduled.append((trigger + (reaction.after?.seconds ?? 0), trigger, index))
        log(trigger, "reactionScheduled", [
            "label": .string(reaction.label ?? "reaction \(index)"),
            "due": .number(Double(trigger + (reaction.after?.seconds ?? 0))),
        ])
    }

    private func applyDueReactions(at t: Int64) throws {
        let due = scheduled.filter { $0.due <= t }.sorted { ($0.due, $0.reaction) < ($1.due, $1.reaction) }
        scheduled.removeAll { $0.due <= t }
        for entry in due {
            let reaction = scenario.reactions![entry.reaction]
            try apply(reaction.actions, label: reaction.label ?? "reaction", at: t, triggeredAt: entry.trigger)
        }
    }

    /// Sends each action as an operator message and waits for its answer.
    private func apply(_ list: [ScenarioAction], label: String, at t: Int64, triggeredAt: Int64) throws {
        for action in list {
            let sku = action.sku ?? scenario.focusSku
            if let factor = action.demandFactor { demandFactor[sku, default: 1] *= factor }
            var outcome = "ok"
            if action.type != "note" {
                let id = nextID("a")
                var message: [String: Any] = ["type": action.type, "id": id]
                switch action.type {
                case "restock":
                    message["sku"] = sku
                    message["qty"] = action.qty ?? 0
                    message["source"] = action.source ?? "replay"
                case "hold", "release":
                    message["sku"] = sku
                    message["qty"] = action.qty ?? 0
                case "announce":
                    message["text"] = action.text ?? ""
                case "undo":
                    break
                case "policy":
                    message["sku"] = sku
                    for (key, value) in action.policy?.entries ?? [] { message[key] = value }
                default:
                    message["sku"] = sku
                }
                operatorClient.send(json: message)
                let answer = try collector.take([id])[id] ?? [:]
                if answer["type"] as? String == "error" {
                    outcome = "error \(answer["code"] as? String ?? "?"): \(answer["message"] as? String ?? "")"
                } else {
                    outcome = answer["outcome"] as? String ?? "ok"
                }
                if action.type == "restock", answer["ok"] as? Bool == true { supplied[sku, default: 0] += action.qty ?? 0 }
                if answer["ok"] as? Bool == true {
                    switch action.type {
                    case "feature":
                        featuredBefore.append(featured ?? "")
                        featured = sku
                    case "switch":
                        featuredBefore.append(featured ?? "")
                        featured = scenario.skus.first { $0.id == sku }?.substitute ?? featured
                    case "undo":
                        featured = featuredBefore.popLast() ?? featured
                    default: break
                    }
                }
            }
            let record = ActionRecord(
                at: t, triggeredAt: triggeredAt, label: action.text.map { "\(label): \($0)" } ?? label, type: action.type,
                sku: action.type == "announce" || action.type == "undo" || action.type == "note" ? nil : sku, qty: action.qty,
                outcome: outcome)
            actions.append(record)
            var fields: [String: JSONField] = [
                "label": .string(record.label), "type": .string(record.type), "outcome": .string(outcome),
                "triggeredAt": .number(Double(triggeredAt)),
            ]
            if let sku = record.sku { fields["sku"] = .string(sku) }
            if let qty = record.qty { fields["qty"] = .number(Double(qty)) }
            log(t, "action", fields)
        }
    }

    // MARK: - Orders

    /// The demand multiplier of the surges at `t` on channel `channel`.
    private func surgeFactor(at t: Int64, channel: String) -> Double {
        var factor = 1.0
        for surge in scenario.surges ?? [] where t >= surge.from.seconds && t < surge.to.seconds {
            if let channels = surge.channels, !channels.contains(channel) { continue }
            let ramp = Double(surge.ramp?.seconds ?? 0)
            let progress = ramp > 0 ? min(1, Double(t - surge.from.seconds) / ramp) : 1
            factor *= 1 + (surge.factor - 1) * progress
        }
        return factor
    }

    private static func rate(of stream: DemandStream, at t: Int64) -> Double {
        let points = stream.rate
        guard let first = points.first, t >= first.at.seconds else { return 0 }
        for index in points.indices.dropLast() where t < points[index + 1].at.seconds {
            let a = points[index], b = points[index + 1]
            let span = Double(b.at.seconds - a.at.seconds)
            return span <= 0 ? b.perMin : a.perMin + (b.perMin - a.perMin) * Double(t - a.at.seconds) / span
        }
        return points.last!.perMin
    }

    private func makeOrder(channel: Int, sku: String, at t: Int64) -> Order {
        orderCounter[channel] += 1
        let channelID = scenario.channels[channel].id
        let prefix = String(channelID.prefix(2)).uppercased()
        let buyers = scenario.buyers
        let quantity = buyers.quantity.map { buyerGenerator.integer(in: $0[0]...$0[1]) } ?? 1
        let draw = buyerGenerator.unit()
        let fate: Order.Fate
        if draw < buyers.payRatio {
            fate = .pay(at: t + buyerGenerator.integer(in: buyers.payDelay[0].seconds...buyers.payDelay[1].seconds))
        } else if draw < buyers.payRatio + buyers.cancelRatio {
            fate = .cancel(at: t + buyers.cancelDelay.seconds)
        } else {
            fate = .leaveUnpaid
        }
        return Order(orderId: "\(prefix)-\(orderCounter[channel])", channel: channel, sku: sku, qty: quantity, fate: fate)
    }

    /// The orders of [from, to): new ones from the demand and the bursts, and the follow-ups due.
    private func makeOrders(from t: Int64, to end: Int64) -> [(Order, String)] {
        var placed: [Order] = []
        defer {
            if t / 60 != minute.index {
                if minute.index >= 0, !minute.placed.isEmpty {
                    var fields: [String: JSONField] = [:]
                    for (sku, count) in minute.placed { fields[sku] = .number(Double(count)) }
                    log(minute.index * 60, "ordersPerMinute", fields)
                }
                minute = (t / 60, [:])
            }
            for order in placed { minute.placed[order.sku, default: 0] += 1 }
        }
        // Every stream draws every step, active or not, so the demand does not depend on reactions' timing.
        for (index, stream) in (scenario.demand ?? []).enumerated() {
            let channel = scenario.channels.firstIndex { $0.id == stream.channel }!
            if t / 60 != noiseMinute[index] {
                noiseMinute[index] = t / 60
                noise[index] = 1 + (scenario.noise ?? 0) * (2 * generators[index].unit() - 1)
            }
            let mean = DriverMath.mean(
                perMin: Self.rate(of: stream, at: t), seconds: Double(end - t), noise: noise[index],
                surge: surgeFactor(at: t, channel: stream.channel), factor: demandFactor[stream.sku] ?? 1)
            let count = generators[index].poisson(mean: mean)
            if stream.whenFeatured == true, featured != stream.sku { continue }
            for _ in 0..<count { placed.append(makeOrder(channel: channel, sku: stream.sku, at: t)) }
        }
        for burst in scenario.bursts ?? [] {
            let span = max(1, burst.duration?.seconds ?? 1)
            let start = burst.at.seconds
            guard t < start + span, end > start else { continue }
            let channels = (burst.channels ?? scenario.channels.map(\.id)).map { id in scenario.channels.firstIndex { $0.id == id }! }
            // Buyer i arrives at start + i × span / orders.
            let first = max(0, Int(((Double(t - start) * Double(burst.orders)) / Double(span)).rounded(.up)))
            let last = min(burst.orders, Int(((Double(end - start) * Double(burst.orders)) / Double(span)).rounded(.up)))
            guard first < last else { continue }
            for buyer in first..<last {
                placed.append(makeOrder(channel: channels[buyer % channels.count], sku: burst.sku, at: t))
            }
        }
        var events: [(Order, String)] = placed.map { ($0, "placed") }
        for due in followUps.keys.filter({ $0 < end }).sorted() {
            for order in followUps.removeValue(forKey: due) ?? [] {
                if case .pay = order.fate { events.append((order, "paid")) } else { events.append((order, "cancelled")) }
            }
        }
        return events
    }

    /// Sends the events of a step (some over HTTP, the rest over the connector sockets) and waits for every answer.
    private func send(_ events: [(Order, String)], at t: Int64) throws {
        guard !events.isEmpty else { return }

        // Route: a share of each channel's events over HTTP, the rest over its sockets in turn.
        var socketIDs: [String] = []
        var socketEvents: [String: (Order, String)] = [:]
        var httpBatches: [[(Order, String)]] = scenario.channels.map { _ in [] }
        for (order, state) in events {
            let channel = order.channel
            let share = scenario.channels[channel].httpShare ?? 0.25
            roundRobin[channel] += 1
            let viaHTTP = share > 0 && Double(roundRobin[channel] % 100) < share * 100
            if state == "placed" {
                tallies[channel].placed += 1
                if viaHTTP { tallies[channel].viaHTTP += 1 }
            }
            if viaHTTP {
                httpBatches[channel].append((order, state))
                continue
            }
            let id = nextID("o")
            let sockets = connectors[channel]
            let client = sockets[roundRobin[channel] % sockets.count]
            let body = "{\"type\":\"order\",\"id\":\"\(id)\",\"orderId\":\"\(order.orderId)\",\"sku\":\"\(order.sku)\",\"qty\":\(order.qty),\"state\":\"\(state)\",\"ts\":\(t * 1000)}"
            socketIDs.append(id)
            socketEvents[id] = (order, state)
            client.send(text: Array(body.utf8))
        }
        for (channel, batch) in httpBatches.enumerated() where !batch.isEmpty {
            for chunk in stride(from: 0, to: batch.count, by: 1000) {
                let part = batch[chunk..<min(batch.count, chunk + 1000)]
                let body = "[" + part.map { order, state in
                    "{\"orderId\":\"\(order.orderId)\",\"sku\":\"\(order.sku)\",\"qty\":\(order.qty),\"state\":\"\(state)\",\"ts\":\(t * 1000)}"
                }.joined(separator: ",") + "]"
                let response = try http[channel].post(path: "/v1/orders", token: connectorTokens[channel], body: Array(body.utf8))
                guard response.status == 200,
                    let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any],
                    let results = object["results"] as? [[String: Any]], results.count == part.count
                else {
                    throw ReplayClientError("POST /v1/orders answered \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))")
                }
                for ((order, state), result) in zip(part, results) {
                    record(order, state: state, outcome: result["outcome"] as? String ?? "?", at: t)
                }
            }
        }
        let answers = try collector.take(socketIDs)
        for id in socketIDs {
            let (order, state) = socketEvents[id]!
            let answer = answers[id] ?? [:]
            let outcome = answer["type"] as? String == "error" ? "error:\(answer["code"] as? String ?? "?")" : answer["outcome"] as? String ?? "?"
            record(order, state: state, outcome: outcome, at: t)
        }
    }

    private func record(_ order: Order, state: String, outcome: String, at t: Int64) {
        let channel = order.channel
        switch state {
        case "placed":
            tallies[channel].answered += 1
            tallies[channel].placedOutcomes[outcome, default: 0] += 1
            guard outcome == "reserved" else { return }
            switch order.fate {
            case .pay(let at): followUps[at, default: []].append(order)
            case .cancel(let at): followUps[at, default: []].append(order)
            case .leaveUnpaid: break
            }
        case "paid":
            if outcome == "sold" {
                tallies[channel].paid += 1
                tallies[channel].paidUnits += order.qty
            }
        default:
            if outcome == "released" { tallies[channel].cancelled += 1 }
        }
    }

    // MARK: - events.jsonl

    private func log(_ t: Int64, _ kind: String, _ fields: [String: JSONField]) {
        var all = fields
        all["t"] = .number(Double(t))
        all["clock"] = .string(ScenarioTime.clock(t))
        all["kind"] = .string(kind)
        eventLines.append(JSONField.object(all))
    }
}

/// Small formulas of the driver, kept apart so they can be tested.
enum DriverMath {
    /// The expected orders in `seconds` at `perMin`, with the noise, surge and pitch factors.
    static func mean(perMin: Double, seconds: Double, noise: Double, surge: Double, factor: Double) -> Double {
        max(0, perMin / 60 * seconds * noise * surge * factor)
    }
}
