import Foundation
import LiveGateTestSupport
import Glibc
import LiveGate
import Testing

/// A self-signed certificate for 127.0.0.1 made with the `openssl` command, in a temp dir.
struct TestCertificate {
    let directory: String
    var certificate: String { directory + "/cert.pem" }
    var key: String { directory + "/key.pem" }

    init() throws {
        directory = NSTemporaryDirectory() + "livegate-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let (status, _) = try ChildProcess.run("/usr/bin/env", [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", directory + "/key.pem",
            "-out", directory + "/cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ], capture: .standardError, discardOther: true)
        guard status == 0 else { throw TestClientError.connectFailed(-1) }
    }
}

@Suite(.serialized)
struct TLSTests {
    func withTLSServer(_ adjust: (inout Configuration) -> Void = { _ in }, _ body: (Server, TestCertificate) throws -> Void) throws {
        let certificate = try TestCertificate()
        defer { try? FileManager.default.removeItem(atPath: certificate.directory) }
        try withServer({ configuration in
            configuration.tlsPort = 0
            configuration.tlsCertificateChain = certificate.certificate
            configuration.tlsPrivateKey = certificate.key
            adjust(&configuration)
        }) { server in
            try body(server, certificate)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func pythonClientOverWSS() throws {
        try withTLSServer { server, certificate in
            #expect(server.tlsPort > 0)
            let script = ConfigurationTests.repositoryRoot.appendingPathComponent("Tests/python/e2e_websockets.py").path
            let (status, text) = try runPython(script, "wss://127.0.0.1:\(server.tlsPort)/echo", certificate.certificate)
            #expect(status == 0, "\(text)")
            #expect(text.contains("16 MiB message intact"), "\(text)")
            // The plain listener still works next to it.
            let plain = try TestClient(port: server.port)
            plain.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(plain.readResponse()?.status == 200)
        }
    }

    @Test func garbageAndHalfHandshakesAreDroppedAndTheServerGoesOn() throws {
        try withTLSServer({ $0.handshakeTimeoutSeconds = 0.5 }) { server, certificate in
            let garbage = try TestClient(port: server.tlsPort)
            garbage.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")  // plain HTTP to the TLS port
            #expect(garbage.isDropped())
            // A ClientHello cut short: the record header announces more than ever arrives.
            let half = try TestClient(port: server.tlsPort)
            half.send([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03])
            let started = Date()
            #expect(half.isDropped())
            #expect(Date().timeIntervalSince(started) < 3)
            // Still serving TLS: a real client works.
            let (_, data) = try ChildProcess.run("/usr/bin/env", ["curl", "-s", "--max-time", "5", "--cacert", certificate.certificate,
                                                                  "https://127.0.0.1:\(server.tlsPort)/healthz"])
            #expect(String(decoding: data, as: UTF8.self) == "ok\n")
        }
    }

    @Test func aMissingOrWrongKeyFailsNamingTheFile() throws {
        let certificate = try TestCertificate()
        defer { try? FileManager.default.removeItem(atPath: certificate.directory) }
        for (chain, key, named) in [
            ("/nonexistent/cert.pem", certificate.key, "/nonexistent/cert.pem"),
            (certificate.certificate, "/nonexistent/key.pem", "/nonexistent/key.pem"),
            (certificate.certificate, certificate.certificate, certificate.certificate),
        ] {
            var configuration = Configuration()
            configuration.host = "127.0.0.1"
            configuration.port = 0
            configuration.tlsPort = 0
            configuration.tlsCertificateChain = chain
            configuration.tlsPrivateKey = key
            let server = try Server(configuration: configuration)
            do {
                try server.start()
                server.shutdown()
                Issue.record("started with \(chain) and \(key)")
            } catch {
                #expect("\(error)".contains(named), "\(error)")
            }
        }
    }
}
