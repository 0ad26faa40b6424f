import Foundation
import LiveGate
import LiveGateCore
import LiveGatePOSIX

let usage = """
    usage: livegate [options]

    Runs the livegate gateway on the configuration file (JSON5).

    options:
      --config PATH      configuration file (default: Config/livegate.json5)
      --port N           listen on port N instead of the configured one (0: any free port)
      --host ADDRESS     listen on ADDRESS instead of the configured one
      --io-threads N     event loops (0: one per CPU the process may run on)
      --echo             serve the /echo endpoint (conformance testing; off by default)
      --log-level LEVEL  debug, info, warning or error
      -h, --help         show this help

    SIGINT or SIGTERM: stop accepting, close WebSockets with 1001 Going Away, exit 0.
    """

func fail(_ message: String, code: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("livegate: \(message)\n".utf8))
    exit(code)
}

var arguments = CommandLine.arguments.dropFirst()
var configPath: String?
var overrides: [(inout Configuration) -> Void] = []

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
    case "--echo":
        overrides.append { $0.echo = true }
    case "--log-level":
        let text = value(for: argument, from: &arguments)
        let levels: [String: Log.Level] = ["debug": .debug, "info": .info, "warning": .warning, "error": .error]
        guard let level = levels[text] else { fail("--log-level: expected debug, info, warning or error") }
        overrides.append { $0.logLevel = level }
    default:
        fail("unknown option '\(argument)'\n\n\(usage)")
    }
}

var configuration: Configuration
do {
    if let configPath {
        configuration = try Configuration.load(path: configPath)
    } else if FileManager.default.fileExists(atPath: "Config/livegate.json5") {
        configPath = "Config/livegate.json5"
        configuration = try Configuration.load(path: "Config/livegate.json5")
    } else {
        configuration = Configuration()
    }
} catch {
    fail("\(error)")
}
for apply in overrides { apply(&configuration) }
Log.level = configuration.logLevel

Signals.blockTerminationSignals()
let server: Server
do {
    server = try Server(configuration: configuration)
    try server.start()
} catch {
    fail("cannot start: \(error)", code: 1)
}
Log.info("livegate: configuration \(configPath ?? "(built-in defaults)"), \(server.loopCount) I/O thread(s)")
Log.info("livegate: listening on http://\(configuration.host):\(server.port) (ws:// on the same port)")
if configuration.echo {
    Log.info("livegate: echo endpoint ws://\(configuration.host):\(server.port)/echo (max message \(configuration.echoMaxMessageBytes) bytes)")
}

while true {
    let signal = Signals.waitForTerminationSignal()
    if signal == SIGHUP {
        Log.info("livegate: SIGHUP ignored (nothing to reload yet)")
        continue
    }
    Log.info("livegate: \(Signals.name(signal)) received: closing \(server.openConnections) connection(s)")
    server.shutdown()
    Log.info("livegate: stopped")
    exit(0)
}
