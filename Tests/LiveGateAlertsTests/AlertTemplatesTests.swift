import LiveGateAlerts
import LiveGateCore
import Testing

/// Template validation (the config-load check) and configuration ranges.
struct AlertTemplatesTests {
    /// The Chinese and English default template sets validate.
    @Test(arguments: [AlertTemplates.chinese, AlertTemplates.english])
    func defaultSetsAreValid(_ templates: AlertTemplates) throws {
        try templates.validate()
    }

    /// An unknown placeholder fails validation naming the template and the placeholder.
    @Test func anUnknownPlaceholderIsNamedWithItsTemplate() {
        var templates = AlertTemplates.chinese
        templates.soldoutDanmaku = "已售罄,可以看看{substitue}"
        #expect(throws: AlertTemplateError.unknownPlaceholder(template: "soldoutDanmaku", placeholder: "substitue")) {
            try templates.validate()
        }
        do {
            try templates.validate()
        } catch {
            #expect(error.description.contains("soldoutDanmaku"))
            #expect(error.description.contains("{substitue}"))
            #expect(error.description.contains("{substitute}"), "lists the known placeholders")
        }
    }

    /// Unbalanced braces fail validation.
    @Test(arguments: ["最后{left件", "最后left}件", "最后{{left}}件"])
    func unbalancedBracesAreRejected(_ text: String) {
        var templates = AlertTemplates.english
        templates.emergencyBanner = text
        #expect(throws: AlertTemplateError.unbalancedBrace(template: "emergencyBanner")) { try templates.validate() }
    }

    /// An empty stock-question keyword fails validation.
    @Test func anEmptyKeywordIsRejected() {
        var templates = AlertTemplates.english
        templates.stockQuestionKeywords.append("")
        #expect(throws: AlertTemplateError.emptyKeyword) { try templates.validate() }
    }

    /// The engine refuses a configuration whose templates do not validate.
    @Test func theEngineRefusesAnInvalidConfiguration() {
        var configuration = AlertConfiguration()
        configuration.templates.hostHint = "{left} left, {eta}"
        #expect(throws: AlertTemplateError.unknownPlaceholder(template: "hostHint", placeholder: "eta")) {
            _ = try AlertEngine(configuration: configuration)
        }
    }

    /// Policy ranges are checked, including two windows fitting in the horizon.
    @Test func policyRangesAreChecked() throws {
        let horizon = AlertConfiguration().horizon
        try SkuPolicy().validate(horizon: horizon)
        var policy = SkuPolicy()
        policy.trendWindow = 6 * SkuPolicy.minute
        #expect(throws: AlertConfigurationError.invalidPolicy(
            field: "trendWindowSeconds", reason: "two windows (720 s) exceed the alert horizon (600 s)")) {
            try AlertConfiguration().check(policy)
        }
        policy = SkuPolicy(trendFactor: 1)
        let factor = try #require(throws: SkuPolicyError.self) { try policy.validate(horizon: horizon) }
        #expect(factor == SkuPolicyError(field: "trendFactor", reason: "must be greater than 1 and at most 100, got 1"))
        policy = SkuPolicy(trendWindow: 1_500_000_000)
        let window = try #require(throws: SkuPolicyError.self) { try policy.validate(horizon: horizon) }
        #expect(window.field == "trendWindowSeconds")
        var engine = try AlertEngine()
        #expect(throws: AlertConfigurationError.self) { try engine.addSku("x", policy: SkuPolicy(safetyMinimum: -1)) }
        var events: [AlertEvent] = []
        #expect(throws: AlertConfigurationError.unknownSku(3)) {
            try engine.setPolicy(SkuPolicy(), forSku: 3, at: 0, into: &events)
        }
    }

    /// Every placeholder renders the live figure it names.
    @Test func placeholdersRenderLiveFigures() throws {
        var configuration = AlertConfiguration()
        configuration.templates.hostHint = "{name}|{left}|{substitute};{eta_min};{free}|{free_min};{rate}"
        var ledger = try TestLedger(configuration: configuration)
        let sku = try ledger.addSku("cap", name: "Cap", onHand: 100, policy: handPolicy(substitute: "visor"))
        // No rate, nothing may free up: those clauses are left out, not printed as "-" or 0.
        #expect(ledger.engine.hostHint(forSku: sku, now: 0) == "Cap|100|visor")
        ledger.place(sku, 12, at: seconds(1))
        // EWMA: 12 units / τ (300 s) = 2.4 per minute; 88 sellable / 0.04 per second = 2200 s → 37 min.
        #expect(ledger.engine.hostHint(forSku: sku, now: seconds(1)) == "Cap|88|visor;37;2.4")
        ledger.release(sku, 4, at: seconds(2))
        // 4 of 12 reserved units came back and none was paid: the 8 still reserved may free up.
        #expect(ledger.engine.hostHint(forSku: sku, now: seconds(2)) == "Cap|92|visor;39;8|15;2.4")
    }

    /// A new window length regroups the SKU's buckets into the new windows.
    @Test func aPolicyChangeRegroupsTheWindows() throws {
        var ledger = try TestLedger()
        let sku = try ledger.addSku("mug", onHand: 10_000, policy: handPolicy())
        for second in 0..<120 { ledger.place(sku, 1, at: seconds(Double(second))) }
        var metrics = ledger.engine.metrics(forSku: sku, now: seconds(119))
        #expect(metrics.recentRatePerMinute == 60 && metrics.previousRatePerMinute == 60)
        var policy = handPolicy()
        policy.trendWindow = minutes(2)
        var events: [AlertEvent] = []
        try ledger.engine.setPolicy(policy, forSku: sku, at: seconds(119), into: &events)
        metrics = ledger.engine.metrics(forSku: sku, now: seconds(119))
        #expect(metrics.recentRatePerMinute == 60 && metrics.previousRatePerMinute == 0)
        #expect(ledger.engine.policy(forSku: sku).trendWindow == minutes(2))
    }

    /// The default hint leaves out each clause with nothing to say (issue #17): never "约0件未付款…释放" when
    /// nothing reserved is expected back, "约0分钟卖完" when sold out, or "约-分钟卖完" without a rate.
    @Test func theHostHintLeavesOutClausesWithNothingToSay() throws {
        var ledger = try TestLedger()
        let sku = try ledger.addSku("hoodie", name: "Hoodie", onHand: 100, policy: handPolicy(substitute: nil))
        // Nothing sold: no rate, nothing reserved.
        #expect(ledger.engine.hostHint(forSku: sku, now: 0) == "还能卖100件")
        // 42 reserved, none ever lost: nothing is expected to free up, but there is a rate.
        for _ in 0..<42 { ledger.place(sku, 1, at: seconds(1)) }
        let reserved = ledger.engine.hostHint(forSku: sku, now: seconds(1))
        #expect(reserved == "还能卖58件;按当前速度约7分钟卖完", "\(reserved)")
        #expect(!reserved.contains("约0") && !reserved.contains("-"))
        // Some reservations lapse: the clause comes back with its figures.
        ledger.release(sku, 12, kind: .expired, at: seconds(2))
        let mayFree = ledger.engine.hostHint(forSku: sku, now: seconds(2))
        #expect(mayFree.hasPrefix("还能卖70件,约30件未付款可能在15分钟内释放;按当前速度约"), "\(mayFree)")
        // Sold out: no "about 0 minutes".
        ledger.setSellable(sku, 0, at: seconds(3))
        let soldOut = ledger.engine.hostHint(forSku: sku, now: seconds(3))
        #expect(!soldOut.contains("分钟卖完") && soldOut.hasPrefix("还能卖0件"), "\(soldOut)")
        // English: the clause before a left-out one takes its separator.
        var english = AlertConfiguration()
        english.templates = .english
        var other = try TestLedger(configuration: english)
        let cap = try other.addSku("cap", name: "Cap", onHand: 100, policy: handPolicy(substitute: nil))
        other.place(cap, 6, at: seconds(1))
        #expect(other.engine.hostHint(forSku: cap, now: seconds(1)) == "Can sell 94 now; sells out in about 79 min at this rate")
        #expect(other.engine.hostHint(forSku: cap, now: minutes(10)) == "Can sell 94 now")
    }
}
