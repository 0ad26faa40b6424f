import Foundation
import LiveGate
import LiveGateRedis
import LiveGateCore
import LiveGatePOSIX

let usage = """
    usage: livegate [options]
           livegate replay SCENARIO.json [--speed N|max] [--out DIR] [--policy SPEC] (livegate replay --help)
           livegate token --room ROOM --role ROLE [--sub NAME] [--channel CHANNEL] [--ttl SECONDS] [--config PATH]

    Runs the livegate gateway on the configuration file (JSON5), or mints a token (HS256 JWT,
    signed with the configuration's tokenSecret) for a role in a room.

    options:
      --config PATH      configuration file (default: Config/livegate.json5 in the working
                         directory, else in the first directory above the executable that has one)
      --port N           listen on port N instead of the configured one (0: any free port)
      --host ADDRESS     listen on ADDRESS instead of the configured one
      --io-threads N     event loops (0: one per CPU the process may run on)
      --data-dir PATH    the stock core's journal directory instead of the configured one
      --echo             serve the /echo endpoint (conformance testing; off by default)
      --tls-port N       also listen for TLS (https://, wss://) on port N (needs a certificate and key)
      --tls-cert PATH    PEM certificate chain for TLS
      --tls-key PATH     PEM private key for TLS
      --bench-pubsub     serve the load generator's pub/sub protocol on /bench and /bench/pub
      --compression on|off  permessage-deflate (RFC 7692) for clients that offer it (webSocket.compression)
      --compression-min N   messages under N bytes go out uncompressed (webSocket.compressionMinimumBytes)
      --redis URL        join a cluster over Redis (redis://[:PASSWORD@]HOST[:PORT][/DB], or rediss://
                         for TLS; cluster in the config): as the core (default) publish the room streams to it
      --redis-ca-file PATH  for rediss://: PEM CA certificates Redis's certificate must chain to
                         (default: the system's; cluster.redisCAFile). The certificate must name the host.
      --edge             as an edge: serve the configured rooms' clients from the core's streams in
                         Redis; their orders and commands go to the core through Redis (no stock
                         core here; needs --redis)
      --node NAME        this node's name in the cluster (the edges' lag on the core's /metrics)
      --log-level LEVEL  debug, info, warning or error
      -h, --help         show this help

    SIGINT: stop accepting, close WebSockets with 1001 Going Away, exit 0.
    SIGTERM: the same, after closing room viewers with 1012 in five waves over half of
    shutdownGraceSeconds (so they reconnect spread out).
    """

func fail(_ message: String, code: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("livegate: \(message)\n".utf8))
    exit(code)
}

var arguments = CommandLine.arguments.dropFirst()
var configPath: String?
var overrides: [(inout Configuration) -> Void] = []
var redisOverride: ((inout Configuration) -> Void)?
var isMintingToken = false
var tokenRoom: String?
var tokenRole: Role?
var tokenSubject = "demo"
var tokenChannel: String?
var tokenTTL = 24 * 3600
if arguments.first == "replay" {
    runReplay(Array(arguments.dropFirst()))
}
if arguments.first == "token" {
    arguments.removeFirst()
    isMintingToken = true
}

func value(for flag: String, from arguments: inout ArraySlice<String>) -> String {
    guard let value = arguments.popFirst() else { fail("\(flag) needs a value\n\n\(usage)") }
    return value
}

while let argument = arguments.popFirst() {
    switch argument {
    case "-h", "--help":
        print(usage)
        exit(0)
    case "--config":
        configPath = value(for: argument, from: &arguments)
    case "--port":
        let text = value(for: argument, from: &arguments)
        guard let port = Int(text), (0...65535).contains(port) else { fail("--port: '\(text)' is not a port number") }
        overrides.append { $0.port = port }
    case "--host":
        let host = value(for: argument, from: &arguments)
        overrides.append { $0.host = host }
    case "--io-threads":
        let text = value(for: argument, from: &arguments)
        guard let count = Int(text), (0...256).contains(count) else { fail("--io-threads: '\(text)' is not 0...256") }
        overrides.append { $0.ioThreads = count }
    case "--data-dir":
        let path = value(for: argument, from: &arguments)
        overrides.append { $0.dataDir = path }
    case "--room" where isMintingToken:
        tokenRoom = value(for: argument, from: &arguments)
    case "--role" where isMintingToken:
        let text = value(for: argument, from: &arguments)
        guard let role = Role(rawValue: text) else {
            fail("--role: expected one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        tokenRole = role
    case "--sub" where isMintingToken:
        tokenSubject = value(for: argument, from: &arguments)
    case "--channel" where isMintingToken:
        tokenChannel = value(for: argument, from: &arguments)
    case "--ttl" where isMintingToken:
        let text = value(for: argument, from: &arguments)
        guard let ttl = Int(text), ttl > 0 else { fail("--ttl: expected a positive number of seconds") }
        tokenTTL = ttl
    case "--tls-port":
        let text = value(for: argument, from: &arguments)
        guard let port = Int(text), (0...65535).contains(port) else { fail("--tls-port: '\(text)' is not a port number") }
        overrides.append { $0.tlsPort = port }
    case "--tls-cert":
        let path = value(for: argument, from: &arguments)
        overrides.append { $0.tlsCertificateChain = path }
    case "--tls-key":
        let path = value(for: argument, from: &arguments)
        overrides.append { $0.tlsPrivateKey = path }
    case "--bench-pubsub":
        overrides.append { $0.benchPubSub = true }
    case "--echo":
        overrides.append { $0.echo = true }
    case "--compression":
        let text = value(for: argument, from: &arguments)
        guard text == "on" || text == "off" else { fail("--compression: expected on or off, got '\(text)'") }
        overrides.append { $0.compression = text == "on" }
    case "--compression-min":
        let text = value(for: argument, from: &arguments)
        guard let bytes = Int(text), bytes >= 0 else { fail("--compression-min: '\(text)' is not a byte count") }
        overrides.append { $0.compressionMinimumBytes = bytes }
    case "--redis":
        let text = value(for: argument, from: &arguments)
        let url: RedisURL
        do {
            url = try RedisURL(parsing: text)
        } catch {
            fail("--redis: \(error)")
        }
        // First, whatever its place: --edge, --node and --redis-ca-file build on it.
        redisOverride = { configuration in
            var settings = configuration.cluster ?? ClusterSettings(redis: url)
            settings.redis = url
            settings.streamLength = max(settings.streamLength, configuration.historySize)
            configuration.cluster = settings
        }
    case "--redis-ca-file":
        let path = value(for: argument, from: &arguments)
        if let why = ClusterSettings.unreadable(path) { fail("--redis-ca-file: cannot read '\(path)': \(why)") }
        overrides.append { configuration in
            guard configuration.cluster != nil else { fail("--redis-ca-file needs --redis rediss://… (or a cluster section)") }
            configuration.cluster?.redisCAFile = path
        }
    case "--edge":
        overrides.append { configuration in
            guard configuration.cluster != nil else { fail("--edge needs --redis URL (or a cluster section)") }
            configuration.cluster?.role = .edge
        }
    case "--node":
        let name = value(for: argument, from: &arguments)
        guard ClusterSettings.isValidNode(name) else { fail("--node: 1 to 64 letters, digits, '-', '_' or '.', got '\(name)'") }
        overrides.append { configuration in
            guard configuration.cluster != nil else { fail("--node needs --redis URL (or a cluster section)") }
            configuration.cluster?.node = name
        }
    case "--log-level":
        let text = value(for: argument, from: &arguments)
        let levels: [String: Log.Level] = ["debug": .debug, "info": .info, "warning": .warning, "error": .error]
        guard let level = levels[text] else { fail("--log-level: expected debug, info, warning or error") }
        overrides.append { $0.logLevel = level }
    default:
        fail("unknown option '\(argument)'\n\n\(usage)")
    }
}

/// Where the configuration is without `--config`: `Config/livegate.json5` in the working
/// directory, else in the directory of the executable's package (walking up from the binary,
/// e.g. `.build/release/livegate` → the clone). Refuses, naming every place it looked, rather
/// than start on built-in defaults with no rooms.
func defaultConfigurationPath() -> String {
    let relative = "Config/livegate.json5"
    let manager = FileManager.default
    var looked: [String] = []
    let cwd = manager.currentDirectoryPath
    looked.append(cwd)
    if manager.fileExists(atPath: relative) { return relative }
    let executable = (try? manager.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var directory = URL(fileURLWithPath: executable).standardizedFileURL.deletingLastPathComponent()
    while true {
        let candidate = directory.appendingPathComponent(relative).path
        if !looked.contains(directory.path) {
            looked.append(directory.path)
            if manager.fileExists(atPath: candidate) { return candidate }
        }
        let parent = directory.deletingLastPathComponent()
        if parent.path == directory.path || directory.path == "/" { break }
        directory = parent
    }
    fail("""
        no configuration file: looked for \(relative) in the working directory (\(cwd)) and in every \
        directory above the executable (\(looked.dropFirst().joined(separator: ", "))). \
        Pass --config PATH (the repository ships Config/livegate.json5).
        """)
}

var configuration: Configuration
do {
    let path = configPath ?? defaultConfigurationPath()
    configPath = path
    configuration = try Configuration.load(path: path)
} catch {
    fail("\(error)")
}
redisOverride?(&configuration)
for apply in overrides { apply(&configuration) }
Log.level = configuration.logLevel
if let problem = configuration.cluster?.tlsFilesProblem() { fail(problem) }
if configuration.tlsPort != nil && (configuration.tlsCertificateChain.isEmpty || configuration.tlsPrivateKey.isEmpty) {
    fail("TLS needs both a certificate chain (--tls-cert or tls.certificateChain) and a key (--tls-key or tls.privateKey)")
}

if isMintingToken {
    guard let tokenRoom, let tokenRole else { fail("token: --room and --role are required\n\n\(usage)") }
    if tokenRole == .connector && tokenChannel == nil { fail("token: a connector token needs --channel (e.g. taobao)") }
    let claims = TokenClaims(
        subject: tokenSubject, room: tokenRoom, role: tokenRole,
        expiresAt: Int64(Date().timeIntervalSince1970) + Int64(tokenTTL), channel: tokenChannel)
    print(TokenAuthority(secret: configuration.tokenSecret).mint(claims))
    exit(0)
}

Signals.blockTerminationSignals()
let server: Server
let shutdown: (Int) -> Void
do {
    if configuration.cluster?.role == .edge {
        let edge = try EdgeGateway(configuration: configuration)
        try edge.start()
        server = edge.server
        shutdown = { edge.shutdown(drainWaves: $0) }
    } else {
        let gateway = try Gateway(configuration: configuration)
        try gateway.start()
        server = gateway.server
        shutdown = { gateway.shutdown(drainWaves: $0) }
    }
} catch {
    fail("cannot start: \(error)", code: 1)
}
if configuration.tokenSecret == Configuration.demoTokenSecret {
    Log.warning("livegate: tokenSecret is the shipped demo secret: anyone can mint tokens; set your own before going live")
}
let dataPath = configuration.dataDir.hasPrefix("/")
    ? configuration.dataDir : FileManager.default.currentDirectoryPath + "/" + configuration.dataDir
if configuration.cluster?.role == .edge {
    Log.info("livegate: edge: configuration \(configPath ?? "?"), \(server.loopCount) I/O thread(s), rooms \(configuration.rooms.map(\.id).joined(separator: ", ")) from the core through Redis (no data directory)")
} else {
    Log.info("livegate: configuration \(configPath ?? "?"), \(server.loopCount) I/O thread(s), data in \(dataPath)")
}
Log.info("livegate: listening on http://\(configuration.host):\(server.port) (ws:// on the same port)")
if server.tlsPort != 0 {
    Log.info("livegate: listening on https://\(configuration.host):\(server.tlsPort) (wss:// on the same port; certificate \(configuration.tlsCertificateChain))")
}
if configuration.echo {
    Log.info("livegate: echo endpoint ws://\(configuration.host):\(server.port)/echo (max message \(configuration.echoMaxMessageBytes) bytes)")
}

while true {
    let signal = Signals.waitForTerminationSignal()
    if signal == SIGHUP {
        if configuration.tlsPort == nil {
            Log.info("livegate: SIGHUP: nothing to reload (no TLS listener)")
        } else {
            do {
                try server.reloadTLS()
                Log.info("livegate: SIGHUP: TLS certificate reloaded from \(configuration.tlsCertificateChain); open connections keep theirs")
            } catch {
                Log.error("livegate: SIGHUP: TLS reload failed, the previous certificate stays in use: \(error)")
            }
        }
        continue
    }
    Log.info("livegate: \(Signals.name(signal)) received: closing \(server.openConnections) connection(s)")
    // SIGTERM (an orchestrated restart) sends viewers away in waves with 1012 first, so they
    // do not all reconnect at once; SIGINT (Ctrl-C) closes everything with 1001 at once.
    shutdown(signal == SIGTERM ? 5 : 0)
    Log.info("livegate: stopped")
    exit(0)
}
