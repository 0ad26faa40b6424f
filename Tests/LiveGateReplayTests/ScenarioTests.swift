import Foundation
import LiveGateCore
import LiveGateTestSupport
import Testing

@testable import LiveGateReplay

/// Scenario files: the shipped ones decode; a malformed one is refused with the file and field named.
struct ScenarioTests {
    static let scenarios = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Config/scenarios")

    static func path(_ name: String) -> String { scenarios.appendingPathComponent(name).path }

    @Test(arguments: ["double11.json", "flat.json", "flashsale.json"])
    func shippedScenarioLoads(name: String) throws {
        let scenario = try Scenario.load(path: Self.path(name))
        #expect(scenario.name + ".json" == name)
        #expect(scenario.skus.contains { $0.id == scenario.focusSku })
    }

    /// A valid scenario with one field replaced, as JSON text.
    static func variant(_ replace: (inout [String: Any]) -> Void) throws -> Data {
        let data = try Data(contentsOf: URL(fileURLWithPath: path("flat.json")))
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        replace(&object)
        return try JSONSerialization.data(withJSONObject: object)
    }

    static func error(_ replace: (inout [String: Any]) -> Void) throws -> ScenarioError? {
        do {
            _ = try Scenario.decode(try variant(replace), file: "bad.json")
            return nil
        } catch let error as ScenarioError {
            return error
        }
    }

    @Test func malformedScenariosNameTheField() throws {
        let missing = try #require(try Self.error { $0.removeValue(forKey: "focusSku") })
        #expect(missing.file == "bad.json" && missing.field == "focusSku")
        #expect(missing.description == "bad.json: focusSku: is required")

        let wrongType = try #require(try Self.error { object in
            var skus = object["skus"] as! [[String: Any]]
            skus[0]["onHand"] = "lots"
            object["skus"] = skus
        })
        #expect(wrongType.field == "skus[0].onHand")
        #expect(wrongType.message.contains("integer"))

        let badTime = try #require(try Self.error { $0["duration"] = "soon" })
        #expect(badTime.field == "duration")

        let unknownChannel = try #require(try Self.error { object in
            var demand = object["demand"] as! [[String: Any]]
            demand[1]["channel"] = "jd"
            object["demand"] = demand
        })
        #expect(unknownChannel.field == "demand[1].channel")
        #expect(unknownChannel.message.contains("jd"))

        let badReaction = try #require(try Self.error { object in
            object["reactions"] = [["on": ["level": "panic"], "actions": [["type": "restock", "qty": 5]]]]
        })
        #expect(badReaction.field == "reactions[0].on.level")

        let badAction = try #require(try Self.error { object in
            object["events"] = [["at": "0:10", "actions": [["type": "restock"]]]]
        })
        #expect(badAction.field == "events[0].actions[0].qty")

        let notJSON = try #require(throws: ScenarioError.self) { try Scenario.decode(Data("{\"name\": ".utf8), file: "cut.json") }
        #expect(notJSON.file == "cut.json" && notJSON.message.contains("not valid JSON"))
    }

    @Test func timesParse() {
        #expect(ScenarioTime.parse("3:00:00") == 10_800)
        #expect(ScenarioTime.parse("3:05") == 11_100)
        #expect(ScenarioTime.parse("20m") == 1200)
        #expect(ScenarioTime.parse("90s") == 90)
        #expect(ScenarioTime.parse("1.5h") == 5400)
        #expect(ScenarioTime.parse("120") == 120)
        #expect(ScenarioTime.parse("3:75") == nil)
        #expect(ScenarioTime.parse("soon") == nil)
        #expect(ScenarioTime.clock(15_138) == "4:12:18")
    }

    @Test func whatIfOverridesParse() throws {
        let fields = try PolicyFields.parseOverride("k=1.5,window=3m,safety=80")
        #expect(fields.values["trendFactor"] == 1.5)
        #expect(fields.values["trendWindowSeconds"] == 180)
        #expect(fields.values["safetyMinimum"] == 80)
        #expect(fields.entries.map(\.0) == ["safetyMinimum", "trendFactor", "trendWindowSeconds"])
        // A value out of its field's range is refused here, naming the key, not later by the gateway.
        let low = try #require(throws: ScenarioError.self) { try PolicyFields.parseOverride("k=1") }
        #expect(low.field == "k" && low.message.contains("greater than 1"))
        let fraction = try #require(throws: ScenarioError.self) { try PolicyFields.parseOverride("safety=2.5") }
        #expect(fraction.message.contains("whole number"))
        let unknown = try #require(throws: ScenarioError.self) { try PolicyFields.parseOverride("speed=3") }
        #expect(unknown.field == "speed")
        let bad = try #require(throws: ScenarioError.self) { try PolicyFields.parseOverride("window=soon") }
        #expect(bad.field == "window")
    }

    /// A scenario's policy object reads every field of the policy table, by name or deprecated name, and refuses
    /// an unknown or out-of-range one naming it.
    @Test func scenarioPolicyCoversEveryFieldOfTheTable() throws {
        let expected = try SkuPolicy.everyFieldChanged()
        for deprecated in [false, true] {
            let json = "{" + expected.jsonMembers(deprecatedNames: deprecated) + "}"
            let fields = try JSONDecoder().decode(PolicyFields.self, from: Data(json.utf8))
            #expect(try fields.apply(to: SkuPolicy()) == expected)
            #expect(fields.entries.map(\.0) == SkuPolicy.fields.map(\.name))
        }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(PolicyFields.self, from: Data(#"{"k":1}"#.utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(PolicyFields.self, from: Data(#"{"speed":1}"#.utf8)) }
    }

    @Test func theGeneratorIsSeeded() {
        var a = SeededGenerator(seed: 42, stream: 3)
        var b = SeededGenerator(seed: 42, stream: 3)
        var c = SeededGenerator(seed: 42, stream: 4)
        let first = (0..<100).map { _ in a.next() }
        #expect(first == (0..<100).map { _ in b.next() })
        #expect(first != (0..<100).map { _ in c.next() })
        // Poisson counts have about the right mean, small and large.
        var d = SeededGenerator(seed: 7)
        let small = (0..<20_000).reduce(0) { total, _ in total + d.poisson(mean: 0.5) }
        #expect(abs(Double(small) / 20_000 - 0.5) < 0.03)
        let large = (0..<2_000).reduce(0) { total, _ in total + d.poisson(mean: 200) }
        #expect(abs(Double(large) / 2_000 - 200) < 3)
    }
}
