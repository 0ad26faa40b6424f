import Foundation
import Testing
import LiveGateTestSupport

/// `livegate replay` as a command: a malformed scenario is an error naming the file and the field, with a
/// non-zero exit status, never a crash. Runs when the `livegate` executable was built beside the tests.
struct ReplayCommandTests {
    static let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("livegate").path

    /// Runs `livegate` with `arguments`: exit status and standard error.
    static func run(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let (status, data) = try ChildProcess.run(executable, arguments, capture: .standardError, discardOther: true)
        return (status, String(decoding: data, as: UTF8.self))
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: executable)))
    func malformedScenarioExitsWithTheField() throws {
        let path = NSTemporaryDirectory() + "bad-scenario-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = #"{"name":"x","seed":1,"duration":"1h","focusSku":"a","staticRuleBelow":10,"skus":[{"id":"a","onHand":"ten"}],"channels":[{"id":"tb"}],"buyers":{"payRatio":1,"cancelRatio":0,"payDelay":[1,2],"cancelDelay":1}}"#
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let bad = try Self.run(["replay", path, "--quiet"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("skus[0].onHand"), "\(bad.stderr)")
        #expect(bad.stderr.contains((path as NSString).lastPathComponent))

        let missing = try Self.run(["replay", path + ".missing"])
        #expect(missing.status == 1 && missing.stderr.contains("cannot read"))
        let badPolicy = try Self.run(["replay", ScenarioTests.path("flat.json"), "--policy", "k=abc"])
        #expect(badPolicy.status == 1 && badPolicy.stderr.contains("--policy: k:"), "\(badPolicy.stderr)")
        let badSpeed = try Self.run(["replay", "x.json", "--speed", "fast"])
        #expect(badSpeed.status != 0 && badSpeed.stderr.contains("--speed"))
    }
}
