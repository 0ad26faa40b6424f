import Foundation
import LiveGate
import LiveGateAlerts
import LiveGateCore
import LiveGateTestSupport
import LiveGateStock
import Testing

struct ConfigurationTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    @Test func theShippedDefaultFileLoadsAndMatchesTheBuiltInDefaults() throws {
        let path = Self.repositoryRoot.appendingPathComponent("Config/livegate.json5").path
        var loaded = try Configuration.load(path: path)
        #expect(loaded.rooms.map(\.id) == ["demo"])
        #expect(loaded.skus.count == 3)
        #expect(loaded.skus[1].policy.restockLeadTime == 1200 * 1_000_000_000)  // alerts.defaultPolicy without a policy object
        #expect(loaded.alerts.templates.thresholdDanmaku == "最后{left}件,手慢无")
        loaded.skus = []
        loaded.rooms = []
        loaded.alerts = Configuration().alerts
        #expect(loaded == Configuration())
        #expect(loaded.port == 8080)
        #expect(!loaded.echo)
    }

    @Test(arguments: [
        ("{ prot: 1 }", "unknown key 'prot'"),
        ("{ http: { maxHeadByte: 1 } }", "unknown key 'http.maxHeadByte'"),
        ("{ port: 70000 }", "port: 70000 is outside 0...65535"),
        ("{ port: '80' }", "port: expected an integer, got a string"),
        ("{ echo: 1 }", "echo: expected true or false"),
        ("{ logLevel: 'loud' }", "logLevel"),
        ("{ webSocket: { idlePingSeconds: -1 } }", "webSocket.idlePingSeconds"),
        ("{ port: 1,, }", "not valid JSON5"),
        ("[1]", "expected an object"),
        ("{ skus: [{ id: 'a', onHand: -1 }] }", "skus[0].onHand"),
        ("{ skus: [{ name: 'a' }] }", "skus[0].id: required"),
        ("{ skus: [{ id: 'a', policy: { safety: 1 } }] }", "unknown key 'skus[0].policy.safety'"),
        ("{ skus: [{ id: 'a' }], rooms: [{ id: 'r', skus: ['b'] }] }", "rooms[r].skus: no SKU 'b'"),
        ("{ skus: [{ id: 'a' }], rooms: [{ id: 'r', skus: ['a'], featured: 'c' }] }", "rooms[r].featured"),
        ("{ skus: [{ id: 'a', substitute: 'z' }] }", "substitute: no SKU 'z'"),
        ("{ tokenSecret: 'short' }", "tokenSecret"),
        ("{ alerts: { templates: { soldoutBanner: 'gone {nmae}' } } }", "nmae"),
        ("{ alerts: { language: 'fr' } }", "alerts.language"),
        ("{ skus: [{ id: 'a', policy: { trendFactor: 0.5 } }] }", "skus[0].policy.trendFactor"),
        ("{ skus: [{ id: 'a', policy: { safetyMinimum: 2.5 } }] }", "skus[0].policy.safetyMinimum: must be a whole number"),
        ("{ skus: [{ id: 'a', policy: { cooldownSeconds: 'soon' } }] }", "skus[0].policy.cooldownSeconds: expected a number"),
        ("{ alerts: { defaultPolicy: { emergencyLine: -1 } } }", "alerts.defaultPolicy.emergencyLine"),
        ("{ webSocket: { compression: 'yes' } }", "webSocket.compression: expected off or on"),
        ("{ webSocket: { compressionMinimumBytes: -1 } }", "webSocket.compressionMinimumBytes"),
    ])
    func badConfigurationsNameTheKey(text: String, message: String) {
        do {
            _ = try Configuration.parse(Data(text.utf8))
            Issue.record("accepted \(text)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    /// A SKU's `policy` object reads every field of the policy table, by name or deprecated name (not both);
    /// `alerts.defaultPolicy` is the base of every SKU's policy.
    @Test func policyObjectsCoverEveryFieldOfTheTable() throws {
        let expected = try SkuPolicy.everyFieldChanged()
        for deprecated in [false, true] {
            let text = "{ skus: [{ id: 'a', policy: { \(expected.jsonMembers(deprecatedNames: deprecated)) } }] }"
            let config = try Configuration.parse(Data(text.utf8))
            #expect(config.skus[0].policy == expected, "\(text)")
        }
        let defaults = "{ alerts: { defaultPolicy: { \(expected.jsonMembers()) } }, skus: [{ id: 'a' }, { id: 'b', policy: { watchMark: 9 } }] }"
        let config = try Configuration.parse(Data(defaults.utf8))
        #expect(config.alerts.defaultPolicy == expected)
        #expect(config.skus[0].policy == expected)
        var b = expected
        b.watchMark = 9
        #expect(config.skus[1].policy == b)
        let both = "{ skus: [{ id: 'a', policy: { cooldownSeconds: 60, cooldownSec: 60 } }] }"
        #expect(throws: ConfigurationError.self) { try Configuration.parse(Data(both.utf8)) }
        let window = "{ alerts: { horizonSeconds: 120, defaultPolicy: { trendWindowSeconds: 60 } }, skus: [{ id: 'a', policy: { trendWindowSeconds: 90 } }] }"
        do {
            _ = try Configuration.parse(Data(window.utf8))
            Issue.record("accepted two 90 s windows in a 120 s horizon")
        } catch {
            #expect("\(error)".contains("skus[a].policy: alert policy trendWindowSeconds: two windows (180 s) exceed"), "\(error)")
        }
    }

    @Test func compressionKeys() throws {
        let config = try Configuration.parse(Data("{ webSocket: { compression: 'on', compressionMinimumBytes: 64 } }".utf8))
        #expect(config.compression)
        #expect(config.compressionMinimumBytes == 64)
        #expect(!Configuration().compression)
    }

    @Test func json5Features() throws {
        let config = try Configuration.parse(Data("{ // comment\n port: 9000, echo: true, webSocket: { idlePingSeconds: 0, }, }".utf8))
        #expect(config.port == 9000)
        #expect(config.echo)
        #expect(config.idlePingSeconds == 0)
    }
}

/// Inputs the fuzzers found crashing once (Tests/Fuzz/regressions): each is refused with an
/// error now.
struct FuzzRegressionTests {
    static let directory = ConfigurationTests.repositoryRoot.appendingPathComponent("Tests/Fuzz/regressions")

    @Test func aConfigurationThatIsNotUTF8IsRefusedNotACrash() throws {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent("json5-invalid-utf8-in-key"))
        #expect(throws: InvalidUTF8Error(offset: 1504)) { try JSONValue.parseJSON5(data) }
        #expect(throws: InvalidUTF8Error(offset: 3)) { try JSONValue.parseJSON5(Data([0x7b, 0x61, 0x3a, 0xff, 0x7d])) }
        #expect(throws: InvalidUTF8Error(offset: 4)) { try JSONValue.parseJSON5(Data([0x7b, 0x61, 0xe2, 0x82])) }  // ends mid-character
        #expect(try JSONValue.parseJSON5(Data("{a: '€'}".utf8)) == .object(["a": .string("€")]))
    }
}
