import LiveGateAlerts
import LiveGateCore
import Testing

/// Each level and transition, hysteresis, cooldown and restock re-arming, with hand-built streams.
struct AlertLevelTests {
    /// A ledger with the substitute SKU and one test SKU of `onHand` units.
    func makeLedger(onHand: Int64, policy: SkuPolicy = handPolicy()) throws -> (TestLedger, Int) {
        var ledger = try TestLedger()
        try ledger.addSku("tee-white", name: "白色T恤", onHand: 1_000)
        let sku = try ledger.addSku("tee", name: "黑色T恤", onHand: onHand, policy: policy)
        return (ledger, sku)
    }

    /// Threshold, emergency and soldout raised by unit lines, with texts and substitute; a restock recovers.
    @Test func unitLinesRaiseThresholdEmergencySoldoutAndARestockRecovers() throws {
        var (ledger, sku) = try makeLedger(onHand: 100)
        ledger.setSellable(sku, 50, at: seconds(1))
        #expect(ledger.events.isEmpty)

        ledger.setSellable(sku, 20, at: seconds(2))
        try #require(ledger.events.count == 1)
        let threshold = ledger.events[0]
        #expect(threshold.sku == "tee")
        #expect(threshold.previousLevel == .normal && threshold.level == .threshold)
        #expect(threshold.transition == .raised && threshold.reason == .safetyLine)
        #expect(threshold.sellable == 20 && threshold.safetyLine == 20)
        #expect(threshold.timeToStockOutSeconds == nil && threshold.ratePerMinute == 0)
        #expect(threshold.action == .restockOrChangePitch && threshold.substitute == nil)
        #expect(threshold.banner == .show("库存紧张,仅剩20件"))
        #expect(threshold.danmaku == "这款库存不多了,想要的宝宝抓紧拍")
        #expect(threshold.time == seconds(2))

        ledger.setSellable(sku, 5, at: seconds(3))
        try #require(ledger.events.count == 2)
        let emergency = ledger.events[1]
        #expect(emergency.previousLevel == .threshold && emergency.level == .emergency)
        #expect(emergency.reason == .emergencyLine && emergency.action == .switchToSubstitute)
        #expect(emergency.substitute == "tee-white")
        #expect(emergency.banner == .show("最后5件,手慢无"))
        #expect(emergency.danmaku == nil, "within 10 s of the last danmaku")

        ledger.setSellable(sku, 0, at: seconds(20))
        try #require(ledger.events.count == 3)
        let soldout = ledger.events[2]
        #expect(soldout.previousLevel == .emergency && soldout.level == .soldout && soldout.reason == .soldOut)
        #expect(soldout.banner == .show("已售罄"))
        #expect(soldout.danmaku == "已售罄,没抢到的宝宝可以看看白色T恤")

        ledger.restock(sku, 100, at: seconds(30))
        try #require(ledger.events.count == 4)
        let recovered = ledger.events[3]
        #expect(recovered.previousLevel == .soldout && recovered.level == .normal)
        #expect(recovered.transition == .recovered && recovered.reason == .restock)
        #expect(recovered.banner == .withdraw && recovered.danmaku == nil && recovered.action == SuggestedAction.none)
        #expect(ledger.engine.level(ofSku: sku) == .normal)
    }

    /// A restock that leaves sellable under the safety line lowers soldout to threshold.
    @Test func aSmallRestockLowersSoldoutToThreshold() throws {
        var (ledger, sku) = try makeLedger(onHand: 100)
        ledger.setSellable(sku, 0, at: seconds(1))
        #expect(ledger.transitions() == ["normal→soldout"])
        ledger.restock(sku, 10, at: seconds(2))
        #expect(ledger.transitions() == ["normal→soldout", "soldout→threshold"])
        let lowered = ledger.events[1]
        #expect(lowered.transition == .lowered && lowered.reason == .restock)
        #expect(lowered.banner == .show("库存紧张,仅剩10件") && lowered.danmaku == nil)
    }

    /// A level falls only once its line is cleared by the margin.
    @Test func hysteresisHoldsALevelInsideTheMargin() throws {
        var (ledger, sku) = try makeLedger(onHand: 100, policy: handPolicy(cooldown: 0, margin: 0.2))
        ledger.setSellable(sku, 20, at: seconds(1))
        #expect(ledger.transitions() == ["normal→threshold"])
        ledger.setSellable(sku, 24, at: seconds(2))  // 20 + ceil(20 × 0.2) = 24: still held
        ledger.setSellable(sku, 22, at: seconds(3))
        #expect(ledger.events.count == 1)
        ledger.setSellable(sku, 25, at: seconds(4))  // cleared by the margin
        #expect(ledger.transitions() == ["normal→threshold", "threshold→normal"])
        ledger.setSellable(sku, 21, at: seconds(5))
        #expect(ledger.events.count == 2, "21 is above the line: no re-raise")
        ledger.setSellable(sku, 20, at: seconds(6))
        #expect(ledger.transitions(from: 2) == ["normal→threshold"])

        ledger.setSellable(sku, 5, at: seconds(7))
        ledger.setSellable(sku, 6, at: seconds(8))  // 5 + ceil(5 × 0.2) = 6: emergency held
        #expect(ledger.transitions(from: 3) == ["threshold→emergency"])
        ledger.setSellable(sku, 7, at: seconds(9))
        #expect(ledger.transitions(from: 3) == ["threshold→emergency", "emergency→threshold"])
        #expect(ledger.events.last?.transition == .lowered)
    }

    /// A raised level is held for the cooldown, so a hovering figure raises it at most once per cooldown.
    @Test func cooldownHoldsARaisedLevelSoAHoveringFigureDoesNotFlap() throws {
        var (ledger, sku) = try makeLedger(onHand: 100, policy: handPolicy(cooldown: minutes(1), margin: 0))
        ledger.setSellable(sku, 20, at: 0)
        ledger.setSellable(sku, 21, at: seconds(10))
        ledger.tick(at: seconds(59))
        #expect(ledger.transitions() == ["normal→threshold"], "held for the cooldown")
        ledger.tick(at: seconds(60))
        #expect(ledger.transitions() == ["normal→threshold", "threshold→normal"])

        // Hover across the line every second for ten minutes.
        for second in 61...661 {
            ledger.setSellable(sku, second % 2 == 0 ? 21 : 20, at: seconds(Double(second)))
        }
        let raises = ledger.events.filter { $0.level == .threshold && $0.transition == .raised }.map(\.time)
        #expect(raises.count <= 12)
        for (earlier, later) in zip(raises, raises.dropFirst()) {
            #expect(later - earlier >= minutes(1), "raised twice within a cooldown")
        }
    }

    /// A restock clears threshold at once, margin and cooldown notwithstanding.
    @Test func aRestockReArmsAtOnceDespiteMarginAndCooldown() throws {
        var (ledger, sku) = try makeLedger(onHand: 100, policy: handPolicy(cooldown: minutes(5), margin: 0.5))
        ledger.setSellable(sku, 20, at: 0)
        ledger.restock(sku, 1, at: seconds(5))
        #expect(ledger.transitions() == ["normal→threshold", "threshold→normal"])
        #expect(ledger.events[1].reason == .restock)
        // And a fresh breach right after the restock is reported at once.
        ledger.setSellable(sku, 19, at: seconds(6))
        #expect(ledger.transitions(from: 2) == ["normal→threshold"])
    }

    /// A fourfold surge after half an hour of steady sales raises trend within minutes, with the figures that
    /// justify it; it is held through the plateau and falls after it.
    @Test func aSurgeRaisesTrendWhichFallsWhenTheRateReturnsToItsBaseline() throws {
        var (ledger, sku) = try makeLedger(onHand: 100_000)
        // 5 per minute for 30 minutes, 20 per minute for 6, 5 per minute for 8; a tick every second.
        for second in 0..<(44 * 60) {
            let time = seconds(Double(second))
            let every = second < 1800 || second >= 2160 ? 12 : 3
            if second % every == 0 { ledger.place(sku, 1, at: time) }
            ledger.tick(at: time)
        }
        #expect(ledger.transitions() == ["normal→trend", "trend→normal"])
        let trend = try #require(ledger.events.first)
        #expect(trend.reason == .surge && trend.action == .prepareStock)
        #expect(trend.banner == .unchanged && trend.danmaku == nil)
        #expect(trend.time > seconds(1800) && trend.time < seconds(1800 + 180), "raised within three minutes of the rise")
        #expect(trend.metrics.trendScore >= trend.metrics.trendLimit && trend.metrics.trendLimit >= 6)
        #expect(abs(trend.metrics.baselineRatePerMinute - 5) < 1.5, "the baseline is the pre-surge rate")
        #expect(trend.why.contains("against a baseline of") && trend.why.contains("reached its limit"), "\(trend.why)")
        let recovered = try #require(ledger.events.last)
        #expect(recovered.transition == .recovered && recovered.reason == .cleared)
        #expect(recovered.time > seconds(2160) && recovered.time < seconds(2160 + 360), "held through the plateau, not after")
    }

    /// No trend before the baseline has history: a SKU that opens at a high rate raises nothing.
    @Test func noTrendBeforeTheBaselineHasHistory() throws {
        var (ledger, sku) = try makeLedger(onHand: 100_000)
        for second in 0..<(20 * 60) {
            let time = seconds(Double(second))
            // 60 per minute from the first second, then 4× that after 5 minutes: still in the warm-up.
            ledger.place(sku, second < 300 ? 1 : 4, at: time)
            ledger.tick(at: time)
        }
        #expect(!ledger.events.contains { $0.level == .trend && $0.time < minutes(10) })
    }

    /// A SKU that reopens after hours without a sale starts the trend test cold: its first sales are not a surge
    /// against a baseline that decayed to nothing.
    @Test func aSkuThatReopensAfterHoursStartsCold() throws {
        var (ledger, sku) = try makeLedger(onHand: 100_000)
        for second in 0..<(30 * 60) where second % 12 == 0 { ledger.place(sku, 1, at: seconds(Double(second))) }
        let reopen = 6 * 3600
        for second in reopen..<(reopen + 40 * 60) {
            let time = seconds(Double(second))
            if second % 12 == 0 { ledger.place(sku, 1, at: time) }
            ledger.tick(at: time)
        }
        #expect(!ledger.events.contains { $0.level == .trend }, "\(ledger.transitions())")
    }

    /// A launch marker silences the trend of the launch spike; an unmarked SKU with the same sales reports it.
    @Test func aLaunchMarkerSilencesTheLaunchSpike() throws {
        var ledger = try TestLedger()
        let launched = try ledger.addSku("a", onHand: 100_000, policy: handPolicy())
        let unmarked = try ledger.addSku("b", onHand: 100_000, policy: handPolicy())
        for second in 0..<(40 * 60) {
            let time = seconds(Double(second))
            if second == 1200 { ledger.engine.markLaunch(sku: launched, at: time) }
            // 5 per minute for 20 minutes, then 30 per minute.
            if second % (second < 1200 ? 12 : 2) == 0 {
                ledger.place(launched, 1, at: time)
                ledger.place(unmarked, 1, at: time)
            }
            ledger.tick(at: time)
        }
        // Not during the quiet period, and not when it ends either: the launch restarted the test's baseline.
        #expect(!ledger.events.contains { $0.skuIndex == launched && $0.level == .trend })
        let spike = ledger.events.filter { $0.skuIndex == unmarked }
        #expect(spike.first?.level == .trend && spike.first.map { $0.time < seconds(1200 + 120) } == true)
    }

    /// Crossing the watch mark raises trend, which falls after a window and the cooldown.
    @Test func crossingTheWatchMarkRaisesTrend() throws {
        var (ledger, sku) = try makeLedger(onHand: 100_000, policy: handPolicy(watchMark: 50))
        for second in 0..<(15 * 60) {
            let time = seconds(Double(second))
            if second % 12 == 0 { ledger.sell(sku, 1, at: time) }
            ledger.tick(at: time)
        }
        try #require(ledger.transitions() == ["normal→trend", "trend→normal"])
        #expect(ledger.events[0].reason == .watchMark)
        #expect(ledger.events[0].metrics.sold == 50)
    }

    /// A steady sale goes threshold → emergency (time to stock-out) → soldout, with the restock suggestion.
    @Test func timeToStockOutBelowLeadTimeRaisesEmergency() throws {
        var (ledger, sku) = try makeLedger(onHand: 300)
        ledger.engine.markLaunch(sku: sku, at: 0)
        var second = 0
        while ledger.figures[sku].sellable > 0 {
            let time = seconds(Double(second))
            if second % 5 == 0 { ledger.sell(sku, 1, at: time) }
            ledger.tick(at: time)
            second += 1
        }
        #expect(ledger.transitions() == ["normal→threshold", "threshold→emergency", "emergency→soldout"])
        let threshold = ledger.events[0]
        #expect(threshold.reason == .safetyLine)
        #expect(threshold.safetyLine > 20 && threshold.safetyLine <= 200, "rate × lead × factor ≈ 12 × 10 × 1.5")
        let emergency = ledger.events[1]
        #expect(emergency.reason == .timeToStockOut)
        #expect((emergency.timeToStockOutSeconds ?? .infinity) < 600)
        #expect(emergency.sellable > 5)
        #expect(emergency.substitute == "tee-white" && emergency.action == .switchToSubstitute)
        let expected = max(0, Int64((emergency.ratePerMinute / 60 * 600 - Double(emergency.sellable)).rounded(.up)))
        #expect(emergency.suggestedRestockQuantity == expected && expected > 0)
    }

    /// Can-sell, may-free-up, the host hint and stock-question replies with live figures.
    @Test func hostHintMayFreeUpAndStockReplies() throws {
        var configuration = AlertConfiguration()
        configuration.templates = .english
        var ledger = try TestLedger(configuration: configuration)
        let sku = try ledger.addSku("hoodie", name: "Hoodie", onHand: 100, policy: handPolicy(substitute: nil))
        for _ in 0..<40 { ledger.place(sku, 1, at: seconds(1)) }
        for _ in 0..<24 { ledger.pay(sku, 1, at: seconds(1)) }
        for _ in 0..<8 { ledger.release(sku, 1, at: seconds(1)) }
        let metrics = ledger.engine.metrics(forSku: sku, now: seconds(1))
        #expect(metrics.reserved == 8 && metrics.canSell == 68 && metrics.sold == 24)
        #expect(metrics.mayFreeUp == 2, "8 reserved × 8 / (24 + 8) lost")
        #expect(metrics.mayFreeUpWithinSeconds == 15 * 60)
        #expect(metrics.recentRatePerMinute == 40)
        let hint = ledger.engine.hostHint(forSku: sku, now: seconds(1))
        #expect(hint.hasPrefix("Can sell 68 now, about 2 more may free up within 15 min; sells out in about "))
        #expect(ledger.engine.stockReply(to: "Is it still IN STOCK??", sku: sku, now: seconds(1)) == "Yes! Hoodie: 68 left")
        #expect(ledger.engine.stockReply(to: "还有货吗", sku: sku, now: seconds(1)) == "Yes! Hoodie: 68 left")
        #expect(ledger.engine.stockReply(to: "love the colour", sku: sku, now: seconds(1)) == nil)
        ledger.setSellable(sku, 0, at: seconds(2))
        #expect(
            ledger.engine.stockReply(to: "any left?", sku: sku, now: seconds(2))
                == "Hoodie is sold out, have a look at our other items"
        )
    }

    /// With no sale in the recent window the rate is zero and time to stock-out is nil.
    @Test func rateIsZeroAndTimeToStockOutNilWithoutRecentSales() throws {
        var (ledger, sku) = try makeLedger(onHand: 100)
        ledger.place(sku, 3, at: 0)
        #expect(ledger.engine.metrics(forSku: sku, now: seconds(30)).timeToStockOutSeconds != nil)
        let later = ledger.engine.metrics(forSku: sku, now: minutes(1) + seconds(1))
        #expect(later.ratePerMinute == 0 && later.timeToStockOutSeconds == nil)
        #expect(later.safetyLine == 20 && later.suggestedRestockQuantity == 0)
        #expect(later.previousRatePerMinute == 3)
    }

    /// The public limiter allows one danmaku per SKU per interval.
    @Test func danmakuRateLimiterAllowsOnePerInterval() {
        var limiter = DanmakuRateLimiter(interval: seconds(10))
        let answers = [
            limiter.allow(sku: 1, now: 0), limiter.allow(sku: 1, now: seconds(9)), limiter.allow(sku: 2, now: seconds(9)),
            limiter.allow(sku: 1, now: seconds(10)),
        ]
        #expect(answers == [true, false, true, true])
    }
}

/// A rate decayed to almost nothing gives no time to stock-out rather than one past Int64's range
/// (pages get it in whole seconds; `Int64(x)` of a larger double traps).
struct DecayedRateTests {
    @Test func aNearlyZeroRateHasNoTimeToStockOut() throws {
        var configuration = AlertConfiguration()
        configuration.smoothingTime = seconds(5)
        var ledger = try TestLedger(configuration: configuration)
        let sku = try ledger.addSku("tee", onHand: 1_000_000, policy: handPolicy(cooldown: minutes(1)))
        for index in 0..<30 { _ = ledger.sell(sku, at: seconds(Double(index))) }
        let busy = ledger.engine.metrics(forSku: sku, now: seconds(30))
        #expect(busy.timeToStockOutSeconds != nil, "a live rate has a forecast")
        for later in [seconds(400), minutes(30), minutes(59)] {
            let quiet = ledger.engine.metrics(forSku: sku, now: later)
            if let eta = quiet.timeToStockOutSeconds {
                #expect(eta.isFinite && eta <= 1e9, "at \(later): \(eta)")
                #expect(Int64(exactly: eta.rounded()) != nil)
            }
        }
        let quiet = ledger.engine.metrics(forSku: sku, now: minutes(59))
        #expect(quiet.timeToStockOutSeconds == nil, "rate \(quiet.ratePerMinute)/min says nothing about a stock-out")
    }
}
