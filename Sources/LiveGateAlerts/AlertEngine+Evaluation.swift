import LiveGateCore
/// The figures of one evaluation, without strings, so the per-event path neither retains nor allocates.
struct RawMetrics: Sendable, Hashable {
    /// Units in the recent window.
    var recent: Int64
    /// Units in the previous window.
    var previous: Int64
    /// The window length in seconds.
    var windowSeconds: Int
    /// The smoothed rate, units per second (0 when the recent window is empty).
    var ratePerSecond: Double
    /// Sellable units.
    var sellable: Int64
    /// `sellable / rate` in seconds, nil when the rate is zero.
    var timeToStockOutSeconds: Double?
    /// The safety line in units.
    var safetyLine: Int64
    /// The suggested restock quantity in units.
    var suggestedRestockQuantity: Int64
    /// Reserved units likely to come back.
    var mayFreeUp: Int64
    /// The largest of the smoothed, recent-window and previous-window rates, units per second: the generous rate
    /// the *hold* conditions of threshold and emergency use, so a latch raised on a burst does not fall as soon
    /// as the noisy smoothed rate dips (it falls once all three estimates have come down).
    var holdRatePerSecond: Double
    /// The low and high ends of the rate's 98 % interval, units per second (both 0 with the rate).
    var rateLowPerSecond: Double
    var rateHighPerSecond: Double
    /// The trend test's baseline rate, units per second.
    var baselinePerSecond: Double
    /// The trend test's score and limit, and the dispersion it adjusts by.
    var trendScore: Double
    var trendLimit: Double
    var dispersion: Double
    /// Whether the trend test has a baseline to score against.
    var trendArmed: Bool
}

extension AlertEngine {
    /// The live figures of a SKU at `now`, for a `stock` publication or a console.
    ///
    /// Does not change the engine: windows are slid to `now` virtually.
    ///
    /// - Parameters:
    ///   - index: the SKU's index.
    ///   - now: core time, nanoseconds (an earlier time than the engine's reads as the engine's).
    /// - Complexity: O(1), plus O(seconds since the SKU's ring last moved), at most O(horizon).
    public func metrics(forSku index: Int, now: Int64) -> SkuMetrics {
        let now = max(now, time)
        let state = states[index]
        let sums = buckets.sums(ring: index, of: state.sums, at: AlertEngine.second(of: now))
        let raw = rawMetrics(index, now: now, recent: sums.recent, previous: sums.previous)
        return makeMetrics(index, now: now, raw: raw)
    }

    /// The host's rendered teleprompter hint for a SKU at `now` ("can sell 23 now, about 7 more may free up
    /// within 4 min").
    ///
    /// - Complexity: O(1) plus the rendering.
    public func hostHint(forSku index: Int, now: Int64) -> String {
        templates.hostHint.render(templateValues(index, metrics: metrics(forSku: index, now: now)))
    }

    /// The host hint and the answer to a stock question for a SKU whose `metrics` were just computed
    /// (``metrics(forSku:now:)``): what goes out with each of its changes, rendered from one set of values.
    ///
    /// - Parameter answersStock: whether to render the answer (a room whose keywords ask no question has none).
    public func renderFigures(forSku index: Int, metrics: SkuMetrics, answersStock: Bool) -> (hostHint: String, stockReply: String?) {
        let values = templateValues(index, metrics: metrics)
        let hint = templates.hostHint.render(values)
        guard answersStock else { return (hint, nil) }
        let template = metrics.sellable > 0 ? templates.stockReplyAvailable : templates.stockReplySoldOut
        return (hint, template.render(values))
    }

    /// Whether `text` asks about stock (one of the templates' keywords).
    public func isStockQuestion(_ text: String) -> Bool {
        templates.isStockQuestion(text)
    }

    /// The reply to a viewer's danmaku if it asks about stock, rendered with the live figures; nil otherwise.
    ///
    /// A pure function: viewer chat is not journaled, so it must not change replayed state. The gateway
    /// rate-limits the replies it injects with its own ``DanmakuRateLimiter``.
    ///
    /// - Parameters:
    ///   - text: the viewer's danmaku.
    ///   - index: the SKU on sale in the room.
    ///   - now: core time, nanoseconds.
    /// - Complexity: O(text length × keywords).
    public func stockReply(to text: String, sku index: Int, now: Int64) -> String? {
        guard templates.isStockQuestion(text) else { return nil }
        let metrics = metrics(forSku: index, now: now)
        let template = metrics.sellable > 0 ? templates.stockReplyAvailable : templates.stockReplySoldOut
        return template.render(templateValues(index, metrics: metrics))
    }

    /// Computes the raw figures of SKU `index` at `now` from window sums.
    ///
    /// - Complexity: O(1).
    func rawMetrics(_ index: Int, now: Int64, recent: Int64, previous: Int64) -> RawMetrics {
        let state = states[index]
        let policy = policies[index]
        var ratePerSecond = 0.0
        if recent > 0 {
            let decay = AlertEngine.decay(from: state.smoothedAt, to: now, timeConstant: configuration.smoothingTime)
            ratePerSecond = state.smoothedMass * decay * Double(SkuPolicy.second) / Double(configuration.smoothingTime)
        }
        // The rate's interval. An EWMA of time constant τ has the variance of a plain count over 2τ (its
        // kernel's squared integral is τ/2), so it weighs like n = rate × 2τ units; with dispersion φ those carry
        // the information of n/φ Poisson units, and a square root stabilises a Poisson count's variance: the
        // interval is φ (√(n/φ) ± z/2)² / 2τ with z = 2.326 (98 % two-sided, 99 % on each side).
        let phi = state.surge.dispersion
        var rateLow = 0.0
        var rateHigh = 0.0
        if ratePerSecond > 0 {
            let span = 2 * Double(configuration.smoothingTime) / Double(SkuPolicy.second)
            let root = (ratePerSecond * span / phi).squareRoot()
            let halfZ = AlertEngine.intervalZ / 2
            rateLow = phi * max(0, root - halfZ) * max(0, root - halfZ) / span
            rateHigh = phi * (root + halfZ) * (root + halfZ) / span
        }
        let sellable = state.figures.sellable
        // No forecast past ~31 years: a rate decayed to almost nothing says nothing, and the
        // figure must stay far inside Int64 when pages get it in whole seconds.
        let timeToStockOut: Double? = ratePerSecond > 0 ? (Double(sellable) / ratePerSecond).nilIfBeyond(1e9) : nil
        let needed = ratePerSecond * Double(policy.restockLeadTime) / Double(SkuPolicy.second)
        let safetyLine = AlertEngine.safetyLine(policy, ratePerSecond: ratePerSecond)
        let restock = AlertEngine.suggestedRestock(
            needed: needed, sellable: sellable, onHand: state.figures.onHand, policy: policy)
        let decided = state.paidMass + state.lostMass
        let lostShare = decided > 0 ? state.lostMass / decided : 0
        let mayFreeUp = AlertEngine.units((Double(state.figures.reserved) * lostShare).rounded())
        let window = Double(state.sums.window)
        let holdRate = max(ratePerSecond, Double(recent) / window, Double(previous) / window)
        return RawMetrics(
            recent: recent, previous: previous, windowSeconds: state.sums.window, ratePerSecond: ratePerSecond,
            sellable: sellable, timeToStockOutSeconds: timeToStockOut, safetyLine: safetyLine,
            suggestedRestockQuantity: restock, mayFreeUp: mayFreeUp, holdRatePerSecond: holdRate,
            rateLowPerSecond: rateLow, rateHighPerSecond: rateHigh,
            baselinePerSecond: state.surge.baselineRate(at: now, timeConstant: configuration.trendBaselineTime),
            trendScore: state.surge.score, trendLimit: state.surge.limit(at: now, configuration: configuration),
            dispersion: phi, trendArmed: state.surge.isArmed(at: now, configuration: configuration)
        )
    }

    /// Builds the public metrics from raw figures.
    func makeMetrics(_ index: Int, now: Int64, raw: RawMetrics) -> SkuMetrics {
        let state = states[index]
        let windowMinutes = Double(raw.windowSeconds) / 60
        let recentRate = Double(raw.recent) / windowMinutes
        let previousRate = Double(raw.previous) / windowMinutes
        return SkuMetrics(
            skuIndex: index, sku: ids[index], time: now, level: state.debouncer.level, sellable: raw.sellable,
            reserved: state.figures.reserved, sold: state.figures.sold, canSell: raw.sellable,
            mayFreeUp: raw.mayFreeUp, mayFreeUpWithinSeconds: policies[index].reservationTimeout / SkuPolicy.second,
            recentRatePerMinute: recentRate, previousRatePerMinute: previousRate,
            ratePerMinute: raw.ratePerSecond * 60, accelerationPerMinute: (recentRate - previousRate) / windowMinutes,
            timeToStockOutSeconds: raw.timeToStockOutSeconds, safetyLine: raw.safetyLine,
            suggestedRestockQuantity: raw.suggestedRestockQuantity,
            rateLowPerMinute: raw.rateLowPerSecond * 60, rateHighPerMinute: raw.rateHighPerSecond * 60,
            baselineRatePerMinute: raw.baselinePerSecond * 60, trendScore: raw.trendScore,
            trendLimit: raw.trendLimit, dispersion: raw.dispersion, trendArmed: raw.trendArmed
        )
    }

    /// What to restock: the lead time's expected sales at the smoothed rate less what is sellable, at least 0 and
    /// at most one more lot (``restockCap(onHand:policy:)``): a rate measured over minutes (a launch spike, a burst)
    /// extrapolated over hours of lead time must not suggest "restock 12,935" for a SKU that came in a lot of 500.
    ///
    /// - Complexity: O(1).
    static func suggestedRestock(needed: Double, sellable: Int64, onHand: Int64, policy: SkuPolicy) -> Int64 {
        let uncapped = max(0, units((needed - Double(sellable)).rounded(.up)))
        return min(uncapped, restockCap(onHand: onHand, policy: policy))
    }

    /// The most a suggestion asks for: one more lot of the size the SKU has had (`onHand`, which counts the units
    /// sold), or the safety minimum if that is larger. A bound an operator can check against the order they placed,
    /// and one that grows with every restock the sale really needed.
    static func restockCap(onHand: Int64, policy: SkuPolicy) -> Int64 {
        max(onHand, policy.safetyMinimum, 1)
    }

    /// The viewers' banner of SKU `index` rendered with the figures at `now`, or nil when its level shows none
    /// (below threshold): how the gateway keeps a banner's figure following the stock between transitions.
    ///
    /// - Complexity: O(1) plus the rendering (allocates the text).
    public func bannerText(forSku index: Int, now: Int64) -> String? {
        guard let template = templates.banner(for: states[index].debouncer.level) else { return nil }
        return template.render(templateValues(index, metrics: metrics(forSku: index, now: now)))
    }

    /// The values templates render with.
    func templateValues(_ index: Int, metrics: SkuMetrics) -> TemplateValues {
        let substitute: String
        if let id = policies[index].substitute {
            substitute = indexById[id].map { names[$0] } ?? id
        } else {
            substitute = templates.substituteFallback
        }
        return TemplateValues(
            name: names[index], left: metrics.canSell, substitute: substitute,
            timeToStockOutSeconds: metrics.timeToStockOutSeconds, free: metrics.mayFreeUp,
            freeWithinSeconds: metrics.mayFreeUpWithinSeconds, ratePerMinute: metrics.ratePerMinute
        )
    }

    /// Re-evaluates SKU `index` at `now` (its ring already slid to `now`) and appends a transition, if any.
    ///
    /// - Parameters:
    ///   - index: the SKU.
    ///   - now: core time, nanoseconds.
    ///   - restocked: whether the change being evaluated raised sellable through a restock, release or count.
    ///   - events: receives the transition.
    /// - Complexity: O(1); allocates only to build a transition's event.
    mutating func evaluate(_ index: Int, now: Int64, restocked: Bool, into events: inout [AlertEvent]) {
        let policy = policies[index]
        if states[index].watchCrossedAt != .min && now - states[index].watchCrossedAt >= policy.trendWindow {
            states[index].watchCrossedAt = .min
        }
        let state = states[index]
        let raw = rawMetrics(index, now: now, recent: state.sums.recent, previous: state.sums.previous)
        let margin = policy.hysteresisMargin
        // Rate-driven lines clear by the policy's margin or by two standard errors of the rate estimate, whichever
        // is wider: a window of N sales estimates a rate to about ±1/√N, so at a few dozen sales per window a
        // 20 % margin alone would let noise in the estimate (not a change in demand) lower a level.
        // (Capped at 100 %.)
        let rateMargin = max(margin, min(1, 2 / Double(max(raw.recent, raw.previous, 1)).squareRoot()))
        let sellable = raw.sellable
        var conditions = AlertDebouncer.Conditions()
        conditions.restocked = restocked

        // Sold out falls only once sellable clears the emergency line (or on a restock): a unit or two freed by a
        // cancellation goes to the next buyer without lifting the viewers' "sold out" banner.
        conditions.set(.soldout, enter: sellable <= 0, hold: sellable <= policy.emergencyLine)

        // Enter conditions use the smoothed rate; hold conditions use the generous hold rate and the margin.
        let leadSeconds = Double(policy.restockLeadTime) / Double(SkuPolicy.second)
        // Emergency on time to stock-out only when even the cautious (low) rate runs out before a restock.
        let runsOutFirst = raw.rateLowPerSecond > 0 && Double(sellable) / raw.rateLowPerSecond < leadSeconds
        let stillRunsOutFirst = raw.holdRatePerSecond > 0
            && Double(sellable) / raw.holdRatePerSecond < leadSeconds * (1 + rateMargin)
        conditions.set(
            .emergency, enter: sellable <= policy.emergencyLine || runsOutFirst,
            hold: sellable <= policy.emergencyLine + AlertEngine.marginUnits(policy.emergencyLine, margin)
                || stillRunsOutFirst
        )

        var rateOnly = policy
        rateOnly.safetyMinimum = 0
        let rateLine = AlertEngine.safetyLine(rateOnly, ratePerSecond: raw.holdRatePerSecond)
        conditions.set(
            .threshold, enter: sellable <= raw.safetyLine,
            hold: sellable <= max(
                rateLine + AlertEngine.marginUnits(rateLine, rateMargin),
                policy.safetyMinimum + AlertEngine.marginUnits(policy.safetyMinimum, margin)
            )
        )

        let isQuiet = self.isQuiet(index, at: now)
        let recent = Double(raw.recent)
        let minimumVolume = Double(policy.trendMinimumVolume)
        // Enter: the surge test's score reaches its limit (see SurgeDetector), on at least the minimum volume.
        let accelerates = !isQuiet && raw.trendArmed && raw.trendScore >= raw.trendLimit && recent >= minimumVolume
        // A raised trend holds while the surge lasts: while the recent window stays above the baseline rate at
        // the time trend was raised by the margin, on the minimum volume widened by the margin.
        let baseline = Double(state.trendBaseline)
        let stillAccelerates = raw.recent > 0 && recent * (1 + margin) >= minimumVolume
            && recent >= (1 + margin) * baseline
        let watched = state.watchCrossedAt != .min
        conditions.set(.trend, enter: accelerates || watched, hold: stillAccelerates || watched)

        let trendBit = AlertDebouncer.bit(.trend)
        let wasTrending = states[index].debouncer.raised & trendBit != 0
        let action = states[index].debouncer.event(conditions, at: now, cooldown: policy.cooldown)
        let isTrending = states[index].debouncer.raised & trendBit != 0
        if !wasTrending && isTrending {
            states[index].trendBaseline = AlertEngine.units((raw.baselinePerSecond * Double(raw.windowSeconds)).rounded())
        }
        // The score starts again once a surge has been reported, or when it ends.
        if wasTrending != isTrending { states[index].surge.score = 0 }
        guard case .transition(let from, let to) = action else { return }
        events.append(makeEvent(index, from: from, to: to, now: now, raw: raw, restocked: restocked))
    }

    /// Builds the event of a transition and applies the SKU's danmaku rate limit.
    private mutating func makeEvent(
        _ index: Int, from: AlertLevel, to: AlertLevel, now: Int64, raw: RawMetrics, restocked: Bool
    ) -> AlertEvent {
        let policy = policies[index]
        let metrics = makeMetrics(index, now: now, raw: raw)
        let values = templateValues(index, metrics: metrics)
        let transition: AlertTransition = to > from ? .raised : (to == .normal ? .recovered : .lowered)

        let reason: AlertReason
        if transition == .raised {
            reason = firingReason(of: to, index: index, raw: raw)
        } else if restocked {
            reason = .restock
        } else if to == .normal {
            reason = .cleared
        } else {
            reason = firingReason(of: to, index: index, raw: raw)
        }

        let banner: BannerUpdate
        if let template = templates.banner(for: to) {
            banner = .show(template.render(values))
        } else {
            banner = from.showsBanner ? .withdraw : .unchanged
        }

        var danmaku: String? = nil
        if transition == .raised, let template = templates.danmaku(for: to) {
            let last = states[index].lastDanmakuAt
            if last == .min || now - last >= configuration.danmakuInterval {
                danmaku = template.render(values)
                states[index].lastDanmakuAt = now
            }
        }

        var why = explanation(reason, index: index, metrics: metrics, holds: transition != .raised)
        if SuggestedAction(level: to) != .none && metrics.suggestedRestockQuantity > 0 {
            why += "; " + restockExplanation(index, metrics: metrics)
        }
        return AlertEvent(
            skuIndex: index, sku: ids[index], level: to, previousLevel: from, transition: transition, reason: reason,
            time: now, metrics: metrics, action: SuggestedAction(level: to),
            substitute: to >= .emergency ? policy.substitute : nil, banner: banner, danmaku: danmaku,
            hostHint: templates.hostHint.render(values), why: why
        )
    }

    /// Why a level stands, in the figures an operator can judge (English, for the console and logs).
    ///
    /// - Parameter holds: whether the level was lowered to (rather than raised at) this reason's level: then the
    ///   text says why the level still stands, which is the hold condition, not the raise condition.
    func explanation(_ reason: AlertReason, index: Int, metrics m: SkuMetrics, holds: Bool = false) -> String {
        let policy = policies[index]
        let f = AlertEngine.figure
        let rate = "\(f(m.ratePerMinute))/min (98 %: \(f(m.rateLowPerMinute))–\(f(m.rateHighPerMinute)))"
        let lead = "\(f(Double(policy.restockLeadTime) / Double(SkuPolicy.minute))) min"
        switch reason {
        case .surge where holds:
            return "trend holds: sales \(f(m.recentRatePerMinute))/min over the last "
                + "\(f(Double(policy.trendWindowSeconds) / 60)) min, still above the rate before the surge by the "
                + "\(f(policy.hysteresisMargin * 100)) % margin (baseline now \(f(m.baselineRatePerMinute))/min)"
        case .timeToStockOut where holds:
            return "emergency holds: sellable \(m.sellable) would still run out before a \(lead) restock at the "
                + "recent rates; rate \(rate)"
        case .surge:
            let ratio = m.baselineRatePerMinute > 0 ? " (\(f(m.recentRatePerMinute / m.baselineRatePerMinute))×)" : ""
            return "sales \(f(m.recentRatePerMinute))/min over the last \(f(Double(policy.trendWindowSeconds) / 60)) min "
                + "against a baseline of \(f(m.baselineRatePerMinute))/min\(ratio); surge score \(f(m.trendScore)) "
                + "reached its limit \(f(m.trendLimit)) (a ×\(f(policy.trendFactor)) surge test, dispersion \(f(m.dispersion)))"
        case .watchMark:
            return "\(m.sold) sold crossed the watch mark \(policy.watchMark)"
        case .safetyLine:
            return "sellable \(m.sellable) at or below the safety line \(m.safetyLine) = max(\(policy.safetyMinimum), "
                + "\(f(policy.safetyFactor)) × \(lead) × \(f(m.ratePerMinute))/min); rate \(rate)"
        case .timeToStockOut:
            let cautious = m.rateLowPerMinute > 0 ? f(Double(m.sellable) / m.rateLowPerMinute) : "∞"
            return "sellable \(m.sellable) runs out within \(cautious) min even at the cautious rate, before a \(lead) "
                + "restock; rate \(rate)"
        case .emergencyLine:
            return "sellable \(m.sellable) at or below the emergency line \(policy.emergencyLine)"
        case .soldOut:
            return "nothing sellable"
        case .restock:
            return "sellable rose to \(m.sellable)"
        case .cleared:
            return "cleared: sellable \(m.sellable), rate \(rate)"
        }
    }

    /// How the suggested restock quantity was reached, e.g. "restock 475: the 120 min lead time's expected sales at
    /// 4.2/min (504) less 29 sellable" or "…, capped at one more lot of 500 (on hand, sold included)".
    func restockExplanation(_ index: Int, metrics m: SkuMetrics) -> String {
        let policy = policies[index]
        let f = AlertEngine.figure
        let leadMinutes = Double(policy.restockLeadTime) / Double(SkuPolicy.minute)
        let expected = AlertEngine.units((m.ratePerMinute * leadMinutes).rounded(.up))
        var text = "restock \(m.suggestedRestockQuantity): the \(f(leadMinutes)) min lead time's expected sales at "
            + "\(f(m.ratePerMinute))/min (\(expected)) less \(m.sellable) sellable"
        let cap = AlertEngine.restockCap(onHand: states[index].figures.onHand, policy: policy)
        if m.suggestedRestockQuantity >= cap && expected - m.sellable > cap {
            text += ", capped at one more lot of \(cap) (on hand, sold included)"
        }
        return text
    }

    /// The z of the rate's interval: 2.326, 98 % two-sided (99 % on each side).
    static let intervalZ = 2.326

    /// A figure with at most one decimal ("4.1", "12", "0.3").
    static func figure(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        let tenths = (value * 10).rounded()
        if abs(tenths) >= 1e15 { return String(value) }
        let whole = Int64(tenths) / 10
        let decimal = abs(Int64(tenths) % 10)
        if decimal == 0 { return String(whole) }
        return (tenths < 0 && whole == 0 ? "-" : "") + "\(whole).\(decimal)"
    }

    /// The condition that keeps `level` up.
    private func firingReason(of level: AlertLevel, index: Int, raw: RawMetrics) -> AlertReason {
        switch level {
        case .normal: .cleared
        case .trend: states[index].watchCrossedAt != .min ? .watchMark : .surge
        case .threshold: .safetyLine
        case .emergency: raw.sellable <= policies[index].emergencyLine ? .emergencyLine : .timeToStockOut
        case .soldout: .soldOut
        }
    }

    /// `max(safetyMinimum, ceil(rate × restockLeadTime × safetyFactor))` for a rate in units per second.
    @inline(__always)
    static func safetyLine(_ policy: SkuPolicy, ratePerSecond: Double) -> Int64 {
        let needed = ratePerSecond * Double(policy.restockLeadTime) / Double(SkuPolicy.second)
        return max(policy.safetyMinimum, units((needed * policy.safetyFactor).rounded(.up)))
    }

    /// `ceil(line × margin)`, the units by which a unit line must clear.
    @inline(__always)
    static func marginUnits(_ line: Int64, _ margin: Double) -> Int64 {
        units((Double(line) * margin).rounded(.up))
    }

    /// A Double rounded by the caller, clamped into `Int64` (NaN reads as 0).
    @inline(__always)
    static func units(_ value: Double) -> Int64 {
        guard value.isFinite else { return value.isNaN ? 0 : (value > 0 ? .max : .min) }
        if value >= 9.0e18 { return .max }
        if value <= -9.0e18 { return .min }
        return Int64(value)
    }
}

/// A per-SKU limit on injected danmaku: at most one per interval of core time.
///
/// The engine keeps one inside its state for alert danmaku. The gateway keeps its own for stock-question
/// replies (viewer chat is not journaled, so it must not change the engine's replayed state).
public struct DanmakuRateLimiter: Sendable, Hashable {
    /// The least time between two danmaku of one SKU, nanoseconds.
    public var interval: Int64
    /// Core time of each SKU's last danmaku.
    private var lastSent: [Int: Int64] = [:]

    /// Creates a limiter.
    ///
    /// - Parameter interval: the least time between two danmaku of one SKU, nanoseconds (default 10 s).
    public init(interval: Int64 = 10 * SkuPolicy.second) { self.interval = interval }

    /// Whether a danmaku for `sku` may go out at `now`; if so, records it.
    ///
    /// - Complexity: O(1) on average.
    public mutating func allow(sku: Int, now: Int64) -> Bool {
        if let last = lastSent[sku], now - last < interval { return false }
        lastSent[sku] = now
        return true
    }
}

extension Double {
    /// Self when finite and at most `limit`, else nil.
    func nilIfBeyond(_ limit: Double) -> Double? {
        isFinite && self <= limit ? self : nil
    }
}
