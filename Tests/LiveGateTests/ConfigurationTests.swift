import Foundation
import LiveGate
import Testing

struct ConfigurationTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    @Test func theShippedDefaultFileLoadsAndMatchesTheBuiltInDefaults() throws {
        let path = Self.repositoryRoot.appendingPathComponent("Config/livegate.json5").path
        let loaded = try Configuration.load(path: path)
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
    ])
    func badConfigurationsNameTheKey(text: String, message: String) {
        do {
            _ = try Configuration.parse(Data(text.utf8))
            Issue.record("accepted \(text)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    @Test func json5Features() throws {
        let config = try Configuration.parse(Data("{ // comment\n port: 9000, echo: true, webSocket: { idlePingSeconds: 0, }, }".utf8))
        #expect(config.port == 9000)
        #expect(config.echo)
        #expect(config.idlePingSeconds == 0)
    }
}
