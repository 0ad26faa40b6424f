import Dispatch
import Foundation
import LiveGatePOSIX
import LiveGateTestSupport
import Synchronization
import Testing

@testable import LiveGateRedis

@Suite(.serialized)
struct RedisServerTests {
    @Test func commandsAndRepliesAgainstARealServer() throws {
        let server = try RedisServer()
        let harness = try ClientHarness(url: RedisURL(host: "127.0.0.1", port: server.port))
        #expect(harness.waitUntilReady())
        #expect(try harness.call(["PING"])?.get() == .simpleString("PONG"))
        #expect(try harness.call(["SET", "k", "直播 ✓"])?.get() == .simpleString("OK"))
        #expect(try harness.call(["GET", "k"])?.get().string == "直播 ✓")
        #expect(try harness.call(["GET", "missing"])?.get() == .null)
        // An error reply is the server's error, and the connection goes on.
        guard case .failure(.server(let message))? = harness.call(["INCR", "k"]) else {
            Issue.record("INCR of a string should fail")
            return
        }
        #expect(message.contains("not an integer"))
        #expect(try harness.call(["INCR", "n"])?.get() == .integer(1))
    }

    /// 2,000 stream entries in one pipelined write, answered in order; read back with XRANGE and
    /// XREAD from an id (what an edge will do).
    @Test func aPipelinedBatchOfStreamEntries() throws {
        let server = try RedisServer()
        let harness = try ClientHarness(url: RedisURL(host: "127.0.0.1", port: server.port))
        #expect(harness.waitUntilReady())
        let commands = (1...2_000).map { ["XADD", "room:demo", "1-\($0)", "m", "{\"seq\":\($0)}"] }
        let replies = try #require(try harness.pipeline(commands)?.get())
        #expect(replies.count == 2_000)
        #expect(replies.first?.string == "1-1")
        #expect(replies.last?.string == "1-2000")
        #expect(try harness.call(["XLEN", "room:demo"])?.get() == .integer(2_000))
        let read = try #require(try harness.call(["XREAD", "COUNT", "5", "STREAMS", "room:demo", "1-1995"])?.get())
        let entries = read.elements?.first?.elements?[1].elements ?? []
        #expect(entries.map { $0.elements?[0].string } == ["1-1996", "1-1997", "1-1998", "1-1999", "1-2000"])
        #expect(entries.first?.elements?[1].elements?[1].string == "{\"seq\":1996}")
        // A duplicate id is refused by the server: the retry of a batch that did land is harmless.
        guard case .failure(.server(let message))? = harness.call(["XADD", "room:demo", "1-5", "m", "x"]) else {
            Issue.record("a duplicate stream id should be refused")
            return
        }
        #expect(message.contains("equal or smaller"))
    }

    @Test func logsInAndSelectsTheDatabase() throws {
        let server = try RedisServer(password: "s3cret pass")
        let harness = try ClientHarness(url: try RedisURL(parsing: "redis://:s3cret%20pass@127.0.0.1:\(server.port)/5"))
        #expect(harness.waitUntilReady())
        #expect(try harness.call(["SET", "where", "db5"])?.get() == .simpleString("OK"))
        #expect(try harness.call(["CLIENT", "INFO"])?.get().string?.contains("db=5") == true)

        // The wrong password: never ready, and a command is refused as not connected.
        let wrong = try ClientHarness(url: try RedisURL(parsing: "redis://:nope@127.0.0.1:\(server.port)"))
        #expect(!wrong.waitUntilReady(seconds: 1))
        guard case .failure(.notConnected(let why))? = wrong.call(["PING"]) else {
            Issue.record("a command without a login should be refused")
            return
        }
        #expect(why.contains("AUTH refused"), "\(why)")
    }

    /// The server is stopped and started again on the same port: commands fail clearly while it
    /// is away, the client reconnects by itself with backoff and goes on.
    @Test func reconnectsAfterTheServerRestarts() throws {
        let server = try RedisServer()
        let harness = try ClientHarness(url: RedisURL(host: "127.0.0.1", port: server.port))
        #expect(harness.waitUntilReady())
        #expect(try harness.call(["SET", "a", "1"])?.get() == .simpleString("OK"))
        server.stop()
        // The loss is noticed (the server closed the socket), then every command is refused at once.
        let deadline = Date().addingTimeInterval(5)
        var refused: RedisError?
        while Date() < deadline {
            if case .failure(let error)? = harness.call(["PING"]), case .notConnected = error {
                refused = error
                break
            }
            usleep(20_000)
        }
        #expect(refused != nil, "commands should be refused while the server is down")
        usleep(300_000)
        try server.start()
        #expect(harness.waitUntilReady(seconds: 10))
        #expect(try harness.call(["PING"])?.get() == .simpleString("PONG"))
        #expect(harness.onLoop { $0.reconnectCount } >= 1)
        let states = harness.stateLog.states.withLock { $0 }
        #expect(states.contains { if case .backingOff = $0 { true } else { false } })
        #expect(states.last == .ready)
    }

    /// A server that stops answering without closing (SIGSTOP, as a partition or a lost host
    /// looks): the command fails once the reply timeout passes, and the client reconnects by
    /// itself when the server answers again.
    @Test func aServerThatStopsAnsweringIsNoticed() throws {
        let server = try RedisServer()
        let harness = try ClientHarness(url: RedisURL(host: "127.0.0.1", port: server.port))
        #expect(harness.waitUntilReady())
        harness.onLoop { client in
            client.replyTimeout = 1_500
            client.connectTimeout = 1_000
        }
        server.pause()
        let started = Date()
        guard case .failure(let error)? = harness.call(["PING"]) else {
            Issue.record("PING to a frozen server should fail")
            server.resume()
            return
        }
        let waited = Date().timeIntervalSince(started)
        #expect(error == .connectionLost("no reply for 1 s"), "\(error)")
        #expect(waited >= 1.4 && waited < 5, "failed after \(waited) s")
        server.resume()
        #expect(harness.waitUntilReady(seconds: 10))
        #expect(try harness.call(["PING"])?.get() == .simpleString("PONG"))
    }

    @Test func aServerThatIsNotThereIsRetriedNotFatal() throws {
        let port = try RedisServer.freePort()
        let harness = try ClientHarness(url: RedisURL(host: "127.0.0.1", port: port))
        #expect(!harness.waitUntilReady(seconds: 0.5))
        guard case .failure(.notConnected(let why))? = harness.call(["PING"]) else {
            Issue.record("PING without a server should be refused")
            return
        }
        #expect(why.contains("refused") || why.contains("ECONNREFUSED"), "\(why)")
    }
}
