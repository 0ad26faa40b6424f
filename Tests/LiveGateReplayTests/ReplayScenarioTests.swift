import Foundation
import Testing

@testable import LiveGateReplay

/// Each shipped scenario through a real embedded gateway at full speed, with its report's key facts asserted.
@Suite(.serialized)
struct ReplayScenarioTests {
    static func load(_ name: String) throws -> Scenario { try Scenario.load(path: ScenarioTests.path(name)) }

    @Test func double11WarnsEarlyAndNeverOversells() throws {
        let scenario = try Self.load("double11.json")
        let run = try Replay.run(scenario)
        let trend = try #require(run.firstRaise("trend"))
        let threshold = try #require(run.firstRaise("threshold"))
        let staticRule = try #require(run.staticRuleAt)
        let soldOut = try #require(run.soldOutAt)
        #expect(trend.at >= 3 * 3600, "no trend during the steady hours")
        #expect(trend.at < threshold.at, "trend fires before threshold")
        #expect(staticRule - trend.at >= 10 * 60, "at least 10 minutes more warning than remaining < 100")
        #expect(threshold.at >= 3 * 3600 && threshold.at < 4 * 3600, "threshold in hour four")
        #expect(soldOut >= 4 * 3600 && soldOut < 5 * 3600, "sold out in hour five")
        #expect(run.oversell == 0)
        #expect(run.worstOversell <= 0)
        // The reaction: the transfer arrives 20 minutes of core time after the trend alert.
        let restock = try #require(run.actions.first { $0.type == "restock" })
        #expect(restock.at == trend.at + 20 * 60 && restock.outcome == "ok" && restock.qty == 200)
        #expect(run.supplied["hoodie-cobrand"] == 700)
        #expect(run.finalStock["hoodie-cobrand"]?.sold == 700)
        // The host's pitch and the substitute: the switch happened, and the substitute then sold.
        #expect(run.actions.contains { $0.type == "switch" && $0.outcome == "ok" })
        #expect((run.finalStock["hoodie-regular"]?.sold ?? 0) > 0)
        #expect(run.ordersAnswered == run.ordersPlaced && run.ordersPlaced > 1000)
        #expect(run.channels.allSatisfy { $0.viaHTTP > 0 && $0.placed > $0.viaHTTP }, "orders over sockets and HTTP")
        #expect(run.falseAlarms.isEmpty)
        // Every role was connected and heard the room.
        #expect((run.messageCounts["host"]?["hint"] ?? 0) > 0)
        #expect((run.messageCounts["viewer"]?["banner"] ?? 0) > 0)
        #expect((run.messageCounts["operator"]?["alert"] ?? 0) == run.alerts.count)

        // The same scenario at a finite speed gives the same run.
        let again = try Replay.run(scenario, options: ReplayOptions(speed: 3000))
        #expect(again.wallSeconds >= Double(scenario.duration.seconds) / 3000 * 0.95)
        #expect(again.alerts.map { "\($0.at) \($0.sku) \($0.level) \($0.transition)" } == run.alerts.map { "\($0.at) \($0.sku) \($0.level) \($0.transition)" })
        #expect(again.actions.map { "\($0.at) \($0.type) \($0.outcome)" } == run.actions.map { "\($0.at) \($0.type) \($0.outcome)" })
        #expect(again.staticRuleAt == run.staticRuleAt && again.soldOutAt == run.soldOutAt)
        #expect(again.channels.map(\.placed) == run.channels.map(\.placed))
        #expect(again.finalStock == run.finalStock)
        #expect(again.samples == run.samples)
    }

    @Test func flatSalesRaiseNoTrend() throws {
        let run = try Replay.run(try Self.load("flat.json"))
        #expect(run.ordersPlaced > 1000)
        #expect(!run.alerts.contains { $0.level == "trend" })
        #expect(run.oversell == 0)
        #expect(run.ordersAnswered == run.ordersPlaced)
    }

    @Test func flashSaleSellsExactlyTheStockAndAnswersEveryone() throws {
        let run = try Replay.run(try Self.load("flashsale.json"))
        #expect(run.ordersPlaced == 20_000)
        #expect(run.ordersAnswered == 20_000, "every buyer gets an answer")
        #expect(run.finalStock["sneaker-drop"]?.sold == 1000)
        #expect(run.finalStock["sneaker-drop"]?.sellable == 0)
        #expect(run.channels.reduce(0) { $0 + ($1.placedOutcomes["reserved"] ?? 0) } == 1000)
        #expect(run.channels.reduce(0) { $0 + ($1.placedOutcomes["insufficient"] ?? 0) } == 19_000)
        #expect(run.oversell == 0 && run.worstOversell <= 0)
        #expect(run.channels.count == 3 && run.channels.allSatisfy { $0.viaHTTP > 0 })
        #expect(run.soldOutAt != nil)
    }

    @Test func whatIfComparesTwoRunsAndWritesTheReport() throws {
        let scenario = try Self.load("flat.json")
        let base = try Replay.run(scenario)
        // A trigger-happy policy: a safety line of 4,000 units on a stock that does not sell out in the show.
        // (Trend settings no longer make noise cry surge: even k=1.05 raises nothing on this flat show.)
        let spec = "safety=4000,k=1.05"
        let whatIf = try Replay.run(scenario, options: ReplayOptions(policyOverride: try PolicyFields.parseOverride(spec)))
        #expect(whatIf.isWhatIf && !base.isWhatIf)
        #expect(whatIf.policy.first { $0.0 == "trendFactor" }?.1 == 1.05)
        #expect(whatIf.policy.first { $0.0 == "safetyMinimum" }?.1 == 4000)
        #expect(base.falseAlarms.isEmpty)
        #expect(!whatIf.falseAlarms.isEmpty, "a threshold on a stock that does not sell out is a false alarm")
        #expect(!whatIf.alerts.contains { $0.level == "trend" }, "no trend on a flat show, even tuned to 1.05×")
        // Same buyers in both runs.
        #expect(whatIf.channels.map(\.placed) == base.channels.map(\.placed))

        let directory = NSTemporaryDirectory() + "livegate-replay-report-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try ReplayReport.write(base, whatIf: whatIf, whatIfSpec: spec, scenario: scenario, to: directory)
        let report = try String(contentsOfFile: directory + "/report.md", encoding: .utf8)
        #expect(report.contains("| **oversell** | **0** |"))
        #expect(report.contains("What-if: `\(spec)`"))
        #expect(report.contains("| false alarms | 0 | \(whatIf.falseAlarms.count) |"))
        let chart = try String(contentsOfFile: directory + "/chart.svg", encoding: .utf8)
        #expect(chart.hasPrefix("<svg") && chart.hasSuffix("</svg>\n") && chart.contains("<polyline"))
        #expect(FileManager.default.fileExists(atPath: directory + "/chart-whatif.svg"))
        let lines = try String(contentsOfFile: directory + "/events.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == base.eventLines.count)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["kind"] is String && object?["t"] is NSNumber)
        }
    }
}
