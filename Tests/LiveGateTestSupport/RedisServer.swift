import Dispatch
import Foundation
import LiveGatePOSIX
import LiveGateRedis
import LiveGateTLS
import Synchronization

/// A real `redis-server` (Debian's, linked with OpenSSL), started on a free loopback port in a
/// temporary directory, stopped by its PID. Never a mock. With `tls`, that port speaks TLS only
/// (`rediss://`; the plain port is off).
public final class RedisServer {
    public static let binary = "/usr/bin/redis-server"
    public let port: Int
    let directory = TemporaryDirectory(prefix: "livegate-redis-")
    let password: String?
    let tls: TLS?
    private var pid: pid_t = 0

    /// The server's TLS: its certificate and key, the CA it checks clients against, and whether
    /// clients must show a certificate (`tls-auth-clients`).
    public struct TLS {
        public var certificate: String
        public var key: String
        public var clientCA: String
        public var requireClientCertificate: Bool

        public init(certificate: String, key: String, clientCA: String, requireClientCertificate: Bool = false) {
            self.certificate = certificate
            self.key = key
            self.clientCA = clientCA
            self.requireClientCertificate = requireClientCertificate
        }
    }

    public init(password: String? = nil, tls: TLS? = nil) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw SetupError(description: "no \(Self.binary): apt-get install -y redis-server (.ci/run installs it)")
        }
        // A client writing to a connection the server closed (a refused TLS client) must get
        // EPIPE, not a signal that ends the test process; livegate itself ignores SIGPIPE in main.
        signal(SIGPIPE, SIG_IGN)
        self.password = password
        self.tls = tls
        port = try Self.freePort()
        try start()
    }

    /// The URL of this server for a client (`rediss://` with TLS).
    public var url: RedisURL {
        RedisURL(host: "127.0.0.1", port: port, password: password, usesTLS: tls != nil)
    }

    public struct SetupError: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public static func freePort() throws -> Int {
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

    public func start() throws {
        var arguments = [Self.binary, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                         "--dir", directory.path, "--logfile", directory.path + "/redis.log", "--daemonize", "no"]
        if let tls {
            arguments += ["--port", "0", "--tls-port", String(port), "--tls-cert-file", tls.certificate, "--tls-key-file", tls.key,
                          "--tls-ca-cert-file", tls.clientCA, "--tls-auth-clients", tls.requireClientCertificate ? "yes" : "no"]
        } else {
            arguments += ["--port", String(port)]
        }
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
        let log = (try? String(contentsOfFile: directory.path + "/redis.log", encoding: .utf8)) ?? ""
        throw SetupError(description: "redis-server did not listen on \(port) within 10 s: \(log.suffix(500))")
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing is answered.
    public func pause() {
        if pid > 0 { kill(pid, SIGSTOP) }
    }

    /// Lets a paused server go on (SIGCONT).
    public func resume() {
        if pid > 0 { kill(pid, SIGCONT) }
    }

    /// Stops the server by its PID (SIGKILL: nothing of it needs to be kept) and reaps it.
    public func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGCONT)
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
public final class ClientHarness: @unchecked Sendable {
    public let group: EventLoopGroup
    public let loop: EventLoop
    public let client: RedisClient
    public let stateLog = StateLog()

    public final class StateLog: Sendable {
        public let states = Mutex<[RedisClient.State]>([])
    }

    public init(url: RedisURL, tls: TLSClientContext? = nil) throws {
        group = try EventLoopGroup(count: 1)
        loop = group.loops[0]
        client = RedisClient(url: url, loop: loop, tls: tls)
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
    public func waitUntilReady(seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if onLoop({ $0.state == .ready }) { return true }
            usleep(10_000)
        }
        return false
    }

    public func onLoop<T: Sendable>(_ body: @escaping @Sendable (RedisClient) -> T) -> T {
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
    public func call(_ arguments: [String]) -> Result<RESPValue, RedisError>? {
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

    public func pipeline(_ commands: [[String]]) -> Result<[RESPValue], RedisError>? {
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

