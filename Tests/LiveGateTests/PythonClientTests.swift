import Foundation
import LiveGate
import Testing

/// Runs a real third-party client, Python `websockets`, against an in-process server.
struct PythonClientTests {
    @Test(.timeLimit(.minutes(2)))
    func pythonWebsocketsClientTalksToEcho() throws {
        try withServer { server in
            let script = ConfigurationTests.repositoryRoot.appendingPathComponent("Tests/python/e2e_websockets.py").path
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", script, "ws://127.0.0.1:\(server.port)/echo"]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let text = String(decoding: data, as: UTF8.self)
            #expect(process.terminationStatus == 0, "\(text)")
            #expect(text.contains("16 MiB message intact"))
            #expect(!text.contains("FAIL"), "\(text)")
        }
    }
}
