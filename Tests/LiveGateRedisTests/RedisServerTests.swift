import Dispatch
import Foundation
import LiveGatePOSIX
import LiveGateTestSupport
import Synchronization
import Testing

@testable import LiveGateRedis

/// A real `redis-server` (Debian's), started on a free loopback port in a temporary directory,
/// stopped by its PID. Never a mock.
final class RedisServer {
    static let binary = "/usr/bin/redis-server"
    let port: Int
    let directory = TemporaryDirectory(prefix: "livegate-redis-")
    let password: String?
    private var pid: pid_t = 0

    init(password: String? = nil) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw SetupError(description: "no \(Self.binary): apt-get install -y redis-server (.ci/run installs it)")
        }
        self.password = password
        port = try Self.freePort()
        try start()
    }

    struct SetupError: Error, CustomStringConvertible {
        let description: String
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw SetupError(description: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func start() throws {
        var arguments = [Self.binary, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                         "--dir", directory.path, "--logfile", directory.path + "/redis.log", "--daemonize", "no"]
        if let password { arguments += ["--requirepass", password] }
        // posix_spawn and waitpid, not Foundation's Process: its waitUntilExit needs a run loop
        // and hung in a deinit at exit.
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, Self.binary, nil, nil, &argv, environ)
        guard status == 0 else { throw SetupError(description: "posix_spawn redis-server: \(status)") }
        pid = child
        // Ready when it accepts a TCP connection; bounded.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            if connected == 0 { return }
            usleep(20_000)
        }
        stop()
        throw SetupError(description: "redis-server did not listen on \(port) within 10 s")
    }

    /// Stops the server by its PID (SIGKILL: nothing of it needs to be kept) and reaps it.
    func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        pid = 0
    }

    deinit {
        stop()
        directory.remove()
    }
}

/// A started loop with one client on it; every call waits (bounded) for the loop's answer.
final class ClientHarness: @unchecked Sendable {
    let group: EventLoopGroup
    let loop: EventLoop
    let client: RedisClient
    let stateLog = StateLog()

    final class StateLog: Sendable {
        let states = Mutex<[RedisClient.State]>([])
    }

    init(url: RedisURL) throws {
        group = try EventLoopGroup(count: 1)
        loop = group.loops[0]
        client = RedisClient(url: url, loop: loop)
        group.start()
        let client = self.client
        let log = stateLog
        loop.execute {
            client.onStateChange = { state in log.states.withLock { $0.append(state) } }
            client.start()
        }
    }

    deinit {
        let client = self.client
        let done = DispatchSemaphore(value: 0)
        loop.execute {
            client.stop()
            done.signal()
        }
        done.wait()
        group.stopAndWait()
    }

    /// Waits until the client is ready (bounded).
    func waitUntilReady(seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if onLoop({ $0.state == .ready }) { return true }
            usleep(10_000)
        }
        return false
    }

    func onLoop<T: Sendable>(_ body: @escaping @Sendable (RedisClient) -> T) -> T {
        let result = Mutex<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        let client = self.client
        loop.execute {
            result.withLock { $0 = body(client) }
            done.signal()
        }
        done.wait()
        return result.withLock { $0! }
    }

    /// Sends one command and waits for its reply (at most 10 s).
    func call(_ arguments: [String]) -> Result<RESPValue, RedisError>? {
        let result = Mutex<Result<RESPValue, RedisError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let client = self.client
        loop.execute {
            client.send(arguments) { reply in
                result.withLock { $0 = reply }
                done.signal()
            }
        }
        guard done.wait(timeout: .now() + 10) == .success else { return nil }
        return result.withLock { $0 }
    }

    func pipeline(_ commands: [[String]]) -> Result<[RESPValue], RedisError>? {
        let result = Mutex<Result<[RESPValue], RedisError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let client = self.client
        loop.execute {
            client.pipeline(commands) { reply in
                result.withLock { $0 = reply }
                done.signal()
            }
        }
        guard done.wait(timeout: .now() + 10) == .success else { return nil }
        return result.withLock { $0 }
    }
}

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
