import Foundation
import LiveGatePOSIX
import LiveGateTLS
import LiveGateTestSupport
import Synchronization
import Testing

@testable import LiveGateRedis

/// `rediss://` against a real `redis-server` listening for TLS only, with a throwaway CA made by
/// the `openssl` command: the server's certificate is verified (its CA, its name), a client
/// certificate is shown when the server asks for one, and every failure is a lost connection
/// with a reason, retried through the backoff, never a ready one.
@Suite(.serialized)
struct RedisTLSTests {
    /// A CA, and a redis-server whose certificate it issued for 127.0.0.1.
    static func server(_ authority: TestCertificateAuthority, subjectAltName: String = "IP:127.0.0.1",
                       requireClientCertificate: Bool = false, password: String? = nil) throws -> RedisServer {
        let issued = try authority.issue("redis test server", subjectAltName: subjectAltName)
        return try RedisServer(password: password, tls: RedisServer.TLS(
            certificate: issued.certificate, key: issued.key, clientCA: authority.certificate,
            requireClientCertificate: requireClientCertificate))
    }

    /// The client never got ready: its state log has no `.ready`, and a command is refused with
    /// the reason of the last failure, which is returned.
    static func refusal(_ harness: ClientHarness, seconds: Double = 1.5) -> String? {
        #expect(!harness.waitUntilReady(seconds: seconds))
        #expect(!harness.stateLog.states.withLock { $0 }.contains(.ready), "never ready")
        guard case .failure(.notConnected(let why))? = harness.call(["PING"]) else {
            Issue.record("a command should be refused while the client is not connected")
            return nil
        }
        return why
    }

    /// Each failure is retried once: between two `.backingOff` states there is a connection
    /// attempt (a failure reported twice would back off twice and schedule two reconnects).
    static func expectOneRetryPerFailure(_ harness: ClientHarness) {
        let states = harness.stateLog.states.withLock { $0 }
        var previous: RedisClient.State?
        var backoffs = 0
        for state in states {
            if case .backingOff = state {
                backoffs += 1
                if case .backingOff? = previous { Issue.record("two back-offs without a connection between: \(states)") }
            }
            previous = state
        }
        #expect(backoffs >= 2, "it went on retrying: \(states)")
        // 1.5 s of 50, 100, 200, 400, 800 ms back-offs: at most 5 or 6 attempts, not twice as many.
        #expect(backoffs <= 7, "\(backoffs) back-offs: \(states)")
    }

    /// Commands over TLS: a pipelined batch answered in order, a value far larger than a TLS
    /// record both ways, the login and database over the encrypted connection.
    @Test func pipelinedCommandsOverTLSAnswerInOrder() throws {
        let authority = try TestCertificateAuthority()
        let server = try Self.server(authority, password: "tls pass")
        let tls = try TLSClientContext(caFile: authority.certificate)
        let harness = try ClientHarness(url: try RedisURL(parsing: "rediss://:tls%20pass@127.0.0.1:\(server.port)/3"), tls: tls)
        #expect(harness.waitUntilReady())
        #expect(harness.stateLog.states.withLock { $0 }.prefix(3) == [.connecting, .handshaking, .ready])
        #expect(try harness.call(["CLIENT", "INFO"])?.get().string?.contains("db=3") == true)

        let padding = String(repeating: "x", count: 200)
        let commands = (1...2_000).map { ["XADD", "room:tls", "1-\($0)", "m", "{\"seq\":\($0),\"pad\":\"\(padding)\"}"] }
        let replies = try #require(try harness.pipeline(commands)?.get())
        #expect(replies.map(\.string) == (1...2_000).map { "1-\($0)" })
        #expect(try harness.call(["XLEN", "room:tls"])?.get() == .integer(2_000))

        let big = String(repeating: "直播", count: 300_000)  // 1.8 MB
        #expect(try harness.call(["SET", "big", big])?.get() == .simpleString("OK"))
        #expect(try harness.call(["GET", "big"])?.get().string == big)
        #expect(harness.onLoop { $0.inFlightCount } == 0)
    }

    /// A server certificate from another CA is refused, and so is one of the right CA that does not
    /// name the host; a certificate that names the host by DNS name is accepted (SNI and name check).
    @Test func aServerCertificateFromAnotherCAOrForAnotherHostIsRefused() throws {
        let trusted = try TestCertificateAuthority(name: "trusted CA")
        let other = try TestCertificateAuthority(name: "other CA")
        let tls = try TLSClientContext(caFile: trusted.certificate)

        let foreign = try Self.server(other)
        let refused = try ClientHarness(url: foreign.url, tls: tls)
        let why = try #require(Self.refusal(refused))
        // Redis sends its chain up to its CA: "self-signed certificate in certificate chain";
        // the leaf alone would be "unable to get local issuer certificate".
        #expect(why.hasPrefix("TLS: certificate verify failed: "), "\(why)")
        #expect(why.contains("self-signed") || why.contains("issuer"), "\(why)")
        Self.expectOneRetryPerFailure(refused)

        let elsewhere = try Self.server(trusted, subjectAltName: "DNS:redis.elsewhere.example")
        let mismatched = try ClientHarness(url: elsewhere.url, tls: tls)
        let mismatch = try #require(Self.refusal(mismatched, seconds: 0.5))
        #expect(mismatch.hasPrefix("TLS: certificate verify failed: "), "\(mismatch)")
        #expect(mismatch.contains("mismatch"), "\(mismatch)")

        // By name: a certificate for localhost is good at rediss://localhost, not at 127.0.0.1.
        let named = try Self.server(trusted, subjectAltName: "DNS:localhost")
        let byName = try ClientHarness(url: RedisURL(host: "localhost", port: named.port, usesTLS: true), tls: tls)
        #expect(byName.waitUntilReady())
        #expect(try byName.call(["PING"])?.get() == .simpleString("PONG"))
        let byAddress = try ClientHarness(url: named.url, tls: tls)
        #expect(Self.refusal(byAddress, seconds: 0.5)?.contains("mismatch") == true)

        // The system's trust store does not know the test CA either.
        let system = try ClientHarness(url: foreign.url)
        #expect(Self.refusal(system, seconds: 0.5)?.hasPrefix("TLS: certificate verify failed") == true)
    }

    /// A server that wants client certificates (`tls-auth-clients yes`): a client with one issued
    /// by the CA it trusts works; one without is refused, never ready (with TLS 1.3 its side of the
    /// handshake completes: the refusal comes with the first reply), and retried once per failure.
    @Test func mutualTLSNeedsTheClientCertificate() throws {
        let authority = try TestCertificateAuthority()
        let server = try Self.server(authority, requireClientCertificate: true)
        let client = try authority.issue("livegate node", clientAuth: true)
        let withCertificate = try ClientHarness(
            url: server.url, tls: try TLSClientContext(caFile: authority.certificate, certificateFile: client.certificate, keyFile: client.key))
        #expect(withCertificate.waitUntilReady())
        #expect(try withCertificate.call(["SET", "who", "edge"])?.get() == .simpleString("OK"))
        #expect(try withCertificate.call(["GET", "who"])?.get().string == "edge")

        let without = try ClientHarness(url: server.url, tls: try TLSClientContext(caFile: authority.certificate))
        let why = try #require(Self.refusal(without))
        #expect(why.hasPrefix("TLS: "), "\(why)")
        // The server's alert, or only the reset when the client's PING reached the closed socket
        // first (Linux drops the alert still unread then).
        #expect(why.contains("certificate required") || why.contains("connection closed during TLS") || why.contains("reset by peer"),
                "\(why)")
        Self.expectOneRetryPerFailure(without)

        // A certificate and key that do not belong together are refused when the context is made.
        let stranger = try authority.issue("someone else", clientAuth: true)
        #expect(throws: TLSError.self) {
            try TLSClientContext(caFile: authority.certificate, certificateFile: client.certificate, keyFile: stranger.key)
        }
        #expect(throws: TLSError.self) { try TLSClientContext(caFile: "/nonexistent/ca.pem") }
    }

    /// A TLS client at a plain Redis: the server waits for the end of a line the ClientHello does
    /// not have, so the handshake times out (the connect timeout covers it) and is retried.
    @Test func aTLSClientAtAPlainServerTimesOutAndRetries() throws {
        let plain = try RedisServer()
        let harness = try ClientHarness(url: RedisURL(host: "127.0.0.1", port: plain.port, usesTLS: true))
        harness.onLoop { $0.connectTimeout = 1_000 }
        let why = try #require(Self.refusal(harness, seconds: 4.5))
        #expect(why == "TLS: handshake timed out after 1 s", "\(why)")
        let states = harness.stateLog.states.withLock { $0 }
        #expect(states.filter { if case .backingOff = $0 { true } else { false } }.count >= 2, "retried: \(states)")
    }
}
