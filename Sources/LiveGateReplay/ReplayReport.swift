import Foundation

/// Writes a replay's report directory: `report.md`, `chart.svg`, `events.jsonl` (and, for a what-if run,
/// `chart-whatif.svg` and `events-whatif.jsonl`).
public enum ReplayReport {
    /// Writes the files into `directory` (created if missing).
    /// - Throws: file errors.
    public static func write(_ run: ReplayRun, whatIf: ReplayRun? = nil, whatIfSpec: String? = nil, scenario: Scenario, to directory: String)
        throws
    {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func save(_ text: String, _ name: String) throws {
            try Data(text.utf8).write(to: URL(fileURLWithPath: directory).appendingPathComponent(name))
        }
        try save(markdown(run, whatIf: whatIf, whatIfSpec: whatIfSpec, scenario: scenario), "report.md")
        try save(ReplayChart.svg(run, title: "\(run.scenario): \(run.focusSku)"), "chart.svg")
        try save(run.eventLines.joined(separator: "\n") + "\n", "events.jsonl")
        if let whatIf {
            try save(ReplayChart.svg(whatIf, title: "\(run.scenario) what-if (\(whatIfSpec ?? "")): \(run.focusSku)"), "chart-whatif.svg")
            try save(whatIf.eventLines.joined(separator: "\n") + "\n", "events-whatif.jsonl")
        }
    }

    /// `h:mm:ss`, or a dash.
    public static func clock(_ t: Int64?) -> String { t.map(ScenarioTime.clock) ?? "—" }

    /// A signed duration in minutes and seconds, e.g. `53 min 12 s`, or a dash.
    static func lead(_ seconds: Int64?) -> String {
        guard let seconds else { return "—" }
        let sign = seconds < 0 ? "−" : ""
        let value = abs(seconds)
        return value >= 60 ? "\(sign)\(value / 60) min \(value % 60) s" : "\(sign)\(value) s"
    }

    private static func number(_ value: Double) -> String {
        value.rounded() == value ? String(Int64(value)) : String(format: "%.2f", value)
    }

    /// The report's Markdown.
    public static func markdown(_ run: ReplayRun, whatIf: ReplayRun?, whatIfSpec: String?, scenario: Scenario) -> String {
        var out = "# Replay: \(run.scenario)\n\n"
        if let description = scenario.description { out += "\(description)\n\n" }
        out += "Seed \(scenario.seed), \(ScenarioTime.clock(run.duration)) of sale, core time driven by `tick` "
            + "(`clock: external`), speed \(run.speed.map { number($0) } ?? "max"), \(String(format: "%.1f", run.wallSeconds)) s of real time. "
            + "Focus SKU `\(run.focusSku)`; policy: "
            + run.policy.map { "\($0.0) \(number($0.1))" }.joined(separator: ", ") + ".\n\n"
        out += "## Key facts\n\n" + keyFacts(run)
        out += "\n## Timeline\n\nAlerts as the operator console received them, and what the operators did (core time). "
            + "Lead times: how long before the static \"remaining < \(run.staticRuleBelow)\" rule (at \(clock(run.staticRuleAt))) "
            + "and before the sell-out (at \(clock(run.soldOutAt))) the alert came.\n\n"
        out += timeline(run)
        out += "\n## Orders by channel and result\n\n" + orders(run)
        out += "\n## Stock at the end\n\n| SKU | supplied (start + restocks) | sold | reserved | held | sellable |\n| --- | ---: | ---: | ---: | ---: | ---: |\n"
        for sku in scenario.skus {
            let state = run.finalStock[sku.id] ?? StockState()
            out += "| `\(sku.id)` | \(run.supplied[sku.id] ?? 0) | \(state.sold) | \(state.reserved) | \(state.held) | \(state.sellable) |\n"
        }
        out += "\n## What the clients received\n\n| client | messages by type |\n| --- | --- |\n"
        for (audience, counts) in run.messageCounts.sorted(by: { $0.key < $1.key }) {
            out += "| \(audience) | " + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + " |\n"
        }
        if !run.banners.isEmpty {
            out += "\nViewer banners: " + Array(Set(run.banners)).sorted().prefix(6).map { "\"\($0)\"" }.joined(separator: "; ") + ".\n"
        }
        out += "\n## Chart\n\n![sellable units and sales rate with alerts and actions](chart.svg)\n"
        if let whatIf {
            out += "\n## What-if: `\(whatIfSpec ?? "")`\n\nThe same scenario (same seed, same buyers) re-run from an empty state under "
                + "the changed policy, side by side with the run above.\n\n" + comparison(run, whatIf)
            out += "\n![what-if chart](chart-whatif.svg)\n"
        }
        return out
    }

    /// The key facts table.
    static func keyFacts(_ run: ReplayRun) -> String {
        var out = "| fact | value |\n| --- | --- |\n"
        for level in ["trend", "threshold", "emergency"] {
            let alert = run.firstRaise(level)
            out += "| first \(level) alert | \(clock(alert?.at))\(alert.map { " (sellable \($0.sellable))" } ?? "") |\n"
        }
        out += "| static \"remaining < \(run.staticRuleBelow)\" rule | \(clock(run.staticRuleAt)) |\n"
        out += "| sold out | \(clock(run.soldOutAt)) |\n"
        if let trend = run.firstRaise("trend") {
            let vsStatic = run.staticRuleAt.map { lead($0 - trend.at) + " earlier" } ?? "— (the static rule never fired)"
            out += "| trend warning vs the static rule | \(vsStatic) |\n"
            out += "| trend warning before sell-out | \(lead(run.soldOutAt.map { $0 - trend.at })) |\n"
        }
        out += "| alerts (raised / all transitions) | \(run.alerts.filter { $0.sku == run.focusSku && $0.isRaise }.count) / \(run.alerts.filter { $0.sku == run.focusSku }.count) |\n"
        out += "| false alarms (no sell-out within \(run.falseAlarmHorizon / 60) min) | \(run.falseAlarms.count) |\n"
        let sold = run.finalStock[run.focusSku]?.sold ?? 0
        out += "| units sold (\(run.focusSku)) | \(sold) of \(run.supplied[run.focusSku] ?? 0) supplied |\n"
        out += "| orders placed / answered | \(run.ordersPlaced) / \(run.ordersAnswered) |\n"
        out += "| **oversell** | **\(run.oversell)** |\n"
        return out
    }

    /// Alerts, actions and the static rule in time order, with lead times.
    static func timeline(_ run: ReplayRun) -> String {
        var rows: [(Int64, Int, String)] = []
        for alert in run.alerts {
            let isFocus = alert.sku == run.focusSku && alert.isRaise
            let vsStatic = isFocus ? lead(run.staticRuleAt.map { $0 - alert.at }) : ""
            let vsSellOut = isFocus ? lead(run.soldOutAt.map { $0 - alert.at }) : ""
            let eta = alert.etaSec.map { "\($0 / 60) min" } ?? "—"
            rows.append((alert.at, 1,
                "| \(clock(alert.at)) | alert `\(alert.sku)` \(alert.previousLevel) → **\(alert.level)** (\(alert.transition), \(alert.reason)); suggests \(alert.suggestedAction)\(alert.suggestedQty > 0 ? " \(alert.suggestedQty)" : "") | \(alert.sellable) | \(String(format: "%.1f", alert.ratePerMin)) | \(eta) | \(vsStatic) | \(vsSellOut) |"))
        }
        for action in run.actions {
            let what = action.type == "note" ? action.label : "`\(action.type)`\(action.sku.map { " \($0)" } ?? "")\(action.qty.map { " \($0)" } ?? "") — \(action.label) → \(action.outcome)"
            let trigger = action.triggeredAt != action.at ? " (triggered \(clock(action.triggeredAt)))" : ""
            rows.append((action.at, 0, "| \(clock(action.at)) | action: \(what)\(trigger) | | | | | |"))
        }
        if let at = run.staticRuleAt {
            rows.append((at, 2, "| \(clock(at)) | *static rule: remaining < \(run.staticRuleBelow)* | | | | | |"))
        }
        var out = "| time | what | sellable | rate/min | time to stock-out | lead vs static rule | lead to sell-out |\n"
        out += "| --- | --- | ---: | ---: | ---: | ---: | ---: |\n"
        for row in rows.sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }) { out += row.2 + "\n" }
        return out
    }

    /// Orders by channel and result.
    static func orders(_ run: ReplayRun) -> String {
        var out = "| channel | placed | via HTTP | answered | reserved | refused: insufficient | refused: other | paid (units) | cancelled | left unpaid (expire) |\n"
        out += "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        var total = ChannelTally(channel: "**total**")
        for tally in run.channels {
            let reserved = tally.placedOutcomes["reserved"] ?? 0
            let insufficient = tally.placedOutcomes["insufficient"] ?? 0
            let other = tally.answered - reserved - insufficient
            out += "| \(tally.channel) | \(tally.placed) | \(tally.viaHTTP) | \(tally.answered) | \(reserved) | \(insufficient) | \(other) | \(tally.paid) (\(tally.paidUnits)) | \(tally.cancelled) | \(tally.leftUnpaid) |\n"
            total.placed += tally.placed
            total.viaHTTP += tally.viaHTTP
            total.answered += tally.answered
            for (key, value) in tally.placedOutcomes { total.placedOutcomes[key, default: 0] += value }
            total.paid += tally.paid
            total.paidUnits += tally.paidUnits
            total.cancelled += tally.cancelled
            total.leftUnpaid += tally.leftUnpaid
        }
        let reserved = total.placedOutcomes["reserved"] ?? 0
        let insufficient = total.placedOutcomes["insufficient"] ?? 0
        out += "| **total** | \(total.placed) | \(total.viaHTTP) | \(total.answered) | \(reserved) | \(insufficient) | \(total.answered - reserved - insufficient) | \(total.paid) (\(total.paidUnits)) | \(total.cancelled) | \(total.leftUnpaid) |\n"
        let others = total.placedOutcomes.filter { !["reserved", "insufficient"].contains($0.key) }
        if !others.isEmpty {
            out += "\nOther outcomes: " + others.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ".\n"
        }
        return out
    }

    /// The two runs side by side.
    public static func comparison(_ base: ReplayRun, _ other: ReplayRun) -> String {
        var out = "| | baseline | what-if |\n| --- | --- | --- |\n"
        let names = Set(base.policy.map(\.0) + other.policy.map(\.0))
        for (name, value) in base.policy where names.contains(name) {
            let changed = other.policy.first { $0.0 == name }?.1 ?? value
            out += "| \(name) | \(number(value)) | \(changed == value ? number(changed) : "**\(number(changed))**") |\n"
        }
        func row(_ label: String, _ value: (ReplayRun) -> String) { out += "| \(label) | \(value(base)) | \(value(other)) |\n" }
        for level in ["trend", "threshold", "emergency"] {
            row("first \(level)") { clock($0.firstRaise(level)?.at) }
        }
        row("static rule (remaining < \(base.staticRuleBelow))") { clock($0.staticRuleAt) }
        row("sold out") { clock($0.soldOutAt) }
        row("warning lead vs static rule (first raise)") { run in
            let first = run.alerts.first { $0.sku == run.focusSku && $0.isRaise }
            return lead(first.flatMap { alert in run.staticRuleAt.map { $0 - alert.at } })
        }
        row("warning lead before sell-out (first raise)") { run in
            let first = run.alerts.first { $0.sku == run.focusSku && $0.isRaise }
            return lead(first.flatMap { alert in run.soldOutAt.map { $0 - alert.at } })
        }
        row("alerts fired (raised)") { run in String(run.alerts.filter { $0.sku == run.focusSku && $0.isRaise }.count) }
        row("false alarms") { String($0.falseAlarms.count) }
        row("transfer arrived") { run in clock(run.actions.first { $0.type == "restock" }?.at) }
        row("units sold") { String($0.finalStock[$0.focusSku]?.sold ?? 0) }
        row("oversell") { String($0.oversell) }
        return out
    }
}

/// The chart: sellable units and the sales rate over time, with alert and action markers.
enum ReplayChart {
    /// The chart of `run` as an SVG document.
    static func svg(_ run: ReplayRun, title: String) -> String {
        let width = 960.0, height = 440.0
        let left = 60.0, right = 60.0, top = 40.0, bottom = 90.0
        let plotW = width - left - right, plotH = height - top - bottom
        let duration = Double(max(1, run.duration))
        // One point per minute (or per step, for short scenarios).
        let every = max(1, run.duration / 600)
        var points: [Sample] = []
        for sample in run.samples {
            if let last = points.last, last.t / every == sample.t / every {
                points[points.count - 1] = sample
            } else {
                points.append(sample)
            }
        }
        let maxSellable = Double(max(1, points.map(\.sellable).max() ?? 1, run.staticRuleBelow)) * 1.1
        let maxRate = max(1, points.map(\.ratePerMin).max() ?? 1) * 1.1
        func x(_ t: Int64) -> Double { left + plotW * Double(t) / duration }
        func ySellable(_ v: Int64) -> Double { top + plotH * (1 - Double(v) / maxSellable) }
        func yRate(_ v: Double) -> Double { top + plotH * (1 - v / maxRate) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
        svg += "<text x=\"\(f(left))\" y=\"22\" font-size=\"14\" font-weight=\"bold\">\(esc(title))</text>\n"
        // Axes and grid.
        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#999\"/>\n"
        let hourStep: Int64 = run.duration > 4 * 3600 ? 3600 : run.duration > 3600 ? 1800 : run.duration > 600 ? 300 : max(1, run.duration / 10)
        var tick: Int64 = 0
        while tick <= run.duration {
            svg += "<line x1=\"\(f(x(tick)))\" y1=\"\(f(top))\" x2=\"\(f(x(tick)))\" y2=\"\(f(top + plotH))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(f(x(tick)))\" y=\"\(f(top + plotH + 14))\" text-anchor=\"middle\">\(ScenarioTime.clock(tick))</text>\n"
            tick += hourStep
        }
        for fraction in stride(from: 0.0, through: 1.0, by: 0.25) {
            let y = top + plotH * (1 - fraction)
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\" fill=\"#1f5fbf\">\(Int((maxSellable * fraction).rounded()))</text>"
            svg += "<text x=\"\(f(left + plotW + 6))\" y=\"\(f(y + 4))\" fill=\"#d9730d\">\(f(maxRate * fraction))</text>\n"
        }
        svg += "<text x=\"12\" y=\"\(f(top + plotH / 2))\" transform=\"rotate(-90 12 \(f(top + plotH / 2)))\" text-anchor=\"middle\" fill=\"#1f5fbf\">sellable units</text>\n"
        svg += "<text x=\"\(f(width - 10))\" y=\"\(f(top + plotH / 2))\" transform=\"rotate(90 \(f(width - 10)) \(f(top + plotH / 2)))\" text-anchor=\"middle\" fill=\"#d9730d\">sales rate (units/min)</text>\n"
        // Static rule.
        let yStatic = ySellable(run.staticRuleBelow)
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(yStatic))\" x2=\"\(f(left + plotW))\" y2=\"\(f(yStatic))\" stroke=\"#888\" stroke-dasharray=\"6 4\"/>"
        svg += "<text x=\"\(f(left + 4))\" y=\"\(f(yStatic - 4))\" fill=\"#666\">static rule: remaining &lt; \(run.staticRuleBelow)</text>\n"
        // Series.
        let sellable = points.map { "\(f(x($0.t))),\(f(ySellable($0.sellable)))" }.joined(separator: " ")
        let rate = points.map { "\(f(x($0.t))),\(f(yRate($0.ratePerMin)))" }.joined(separator: " ")
        svg += "<polyline fill=\"none\" stroke=\"#d9730d\" stroke-width=\"1.5\" points=\"\(rate)\"/>\n"
        svg += "<polyline fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"2\" points=\"\(sellable)\"/>\n"
        // Alert markers (raises of the focus SKU).
        let colors = ["trend": "#c9a400", "threshold": "#e07000", "emergency": "#d00000", "soldout": "#000000"]
        var labelRow = 0
        for alert in run.alerts where alert.sku == run.focusSku && alert.isRaise {
            let color = colors[alert.level] ?? "#555"
            let xa = x(alert.at)
            svg += "<line x1=\"\(f(xa))\" y1=\"\(f(top))\" x2=\"\(f(xa))\" y2=\"\(f(top + plotH))\" stroke=\"\(color)\" stroke-width=\"1.5\"/>"
            svg += "<text x=\"\(f(xa + 3))\" y=\"\(f(top + 12 + Double(labelRow % 4) * 13))\" fill=\"\(color)\">\(alert.level) \(ScenarioTime.clock(alert.at))</text>\n"
            labelRow += 1
        }
        if let at = run.staticRuleAt {
            svg += "<circle cx=\"\(f(x(at)))\" cy=\"\(f(yStatic))\" r=\"4\" fill=\"#888\"/>\n"
        }
        // Action markers below the axis.
        var actionRow = 0
        for action in run.actions where action.type != "note" {
            let xa = x(action.at)
            let y = top + plotH + 30 + Double(actionRow % 3) * 14
            svg += "<path d=\"M\(f(xa)) \(f(top + plotH)) l-5 9 h10 z\" fill=\"#2a8a2a\"/>"
            let label = action.type == "restock" ? "restock +\(action.qty ?? 0)" : action.type
            svg += "<text x=\"\(f(xa))\" y=\"\(f(y))\" text-anchor=\"middle\" fill=\"#2a8a2a\">\(esc(label)) \(ScenarioTime.clock(action.at))</text>\n"
            actionRow += 1
        }
        // Legend.
        let ly = height - 12
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(ly - 4))\" x2=\"\(f(left + 20))\" y2=\"\(f(ly - 4))\" stroke=\"#1f5fbf\" stroke-width=\"2\"/><text x=\"\(f(left + 24))\" y=\"\(f(ly))\">sellable</text>"
        svg += "<line x1=\"\(f(left + 90))\" y1=\"\(f(ly - 4))\" x2=\"\(f(left + 110))\" y2=\"\(f(ly - 4))\" stroke=\"#d9730d\" stroke-width=\"1.5\"/><text x=\"\(f(left + 114))\" y=\"\(f(ly))\">sales rate (smoothed)</text>"
        svg += "<text x=\"\(f(left + 250))\" y=\"\(f(ly))\">alerts: <tspan fill=\"#c9a400\">trend</tspan> <tspan fill=\"#e07000\">threshold</tspan> <tspan fill=\"#d00000\">emergency</tspan> soldout · <tspan fill=\"#2a8a2a\">▲ operator actions</tspan></text>\n"
        svg += "</svg>\n"
        return svg
    }
}
