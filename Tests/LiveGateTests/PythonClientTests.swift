import Foundation
import LiveGate
import Testing

/// Runs a real third-party client, Python `websockets`, against an in-process server.
struct PythonClientTests {
    @Test(.timeLimit(.minutes(2)))
    func pythonWebsocketsClientTalksToEcho() throws {
        try withServer { server in
            let script = ConfigurationTests.repositoryRoot.appendingPathComponent("Tests/python/e2e_websockets.py").path
            let (status, text) = try runPython(script, "ws://127.0.0.1:\(server.port)/echo")
            #expect(status == 0, "\(text)")
            #expect(text.contains("16 MiB message intact"))
            #expect(!text.contains("FAIL"), "\(text)")
        }
    }
}
