import Foundation
import LiveGate
import LiveGateReplay

let replayUsage = """
    usage: livegate replay SCENARIO.json [--speed N|max] [--out DIR] [--policy k=1.5,window=3m,safety=80 | --policy FILE]
                                        [--url ws://HOST:PORT [--config PATH | --secret SECRET]] [--quiet]

    Replays a scripted live sale through a real gateway and writes a report directory: report.md,
    chart.svg, events.jsonl. By default the gateway is embedded: started in this process on a fresh
    temporary data directory with stock.clock external, so the run is identical at any speed.

      --speed N        scenario seconds per real second (600: six hours in 36 s); max: as fast as it goes (default)
      --out DIR        the report directory (default: replay-<scenario name>)
      --policy SPEC    also re-run under other alert settings for the focus SKU and compare the two runs:
                       k (trendFactor), window (trendWindowSeconds), safety (safetyMinimum), volume, lead,
                       factor, cooldown, emergency, or any policy field; or a JSON file of policy fields
      --url URL        drive a running gateway instead (it must run with stock.clock: external, a fresh
                       data directory, and the scenario's room and SKUs); tokens are signed with the
                       tokenSecret of --config (default Config/livegate.json5) or --secret
      --quiet          no progress lines
    """

/// `livegate replay …`: parses the flags, runs the scenario (twice for a what-if) and writes the report.
func runReplay(_ arguments: [String]) -> Never {
    var arguments = arguments[...]
    var path: String?
    var speed: Double?
    var out: String?
    var policySpec: String?
    var url: String?
    var configPath: String?
    var secret: String?
    var isQuiet = false
    func value(_ flag: String) -> String {
        guard let value = arguments.popFirst() else { fail("replay: \(flag) needs a value\n\n\(replayUsage)") }
        return value
    }
    while let argument = arguments.popFirst() {
        switch argument {
        case "-h", "--help":
            print(replayUsage)
            exit(0)
        case "--speed":
            let text = value(argument)
            if text == "max" {
                speed = nil
            } else {
                guard let number = Double(text), number > 0, number.isFinite else { fail("replay: --speed: expected a positive number or max") }
                speed = number
            }
        case "--out": out = value(argument)
        case "--policy": policySpec = value(argument)
        case "--url": url = value(argument)
        case "--config": configPath = value(argument)
        case "--secret": secret = value(argument)
        case "--quiet": isQuiet = true
        default:
            if argument.hasPrefix("-") || path != nil { fail("replay: unexpected argument '\(argument)'\n\n\(replayUsage)") }
            path = argument
        }
    }
    guard let path else { fail("replay: a scenario file is required\n\n\(replayUsage)") }
    let scenario: Scenario
    do {
        scenario = try Scenario.load(path: path)
    } catch {
        fail("replay: \(error)", code: 1)
    }
    var whatIf: PolicyFields?
    if let policySpec {
        do {
            if FileManager.default.fileExists(atPath: policySpec) {
                let data = FileManager.default.contents(atPath: policySpec) ?? Data()
                do {
                    try JSONValue.checkUTF8(data)
                    let decoder = JSONDecoder()
                    decoder.allowsJSON5 = true
                    whatIf = try decoder.decode(PolicyFields.self, from: data)
                } catch let error as DecodingError {
                    throw ScenarioError(decoding: error, file: policySpec)
                }
                if whatIf?.entries.isEmpty ?? true { throw ScenarioError(file: policySpec, field: "", message: "no policy field given") }
            } else {
                whatIf = try PolicyFields.parseOverride(policySpec)
            }
        } catch {
            fail("replay: \(error)", code: 1)
        }
    }
    var target = ReplayOptions.Target.embedded
    if let url {
        guard let components = URLComponents(string: url), let host = components.host, ["ws", "http"].contains(components.scheme ?? "")
        else { fail("replay: --url: expected ws://HOST:PORT") }
        var tokenSecret = secret
        if tokenSecret == nil {
            do {
                tokenSecret = try Configuration.load(path: configPath ?? "Config/livegate.json5").tokenSecret
            } catch {
                fail("replay: --url needs the gateway's token secret (--secret, or --config): \(error)")
            }
        }
        target = .remote(host: host, port: components.port ?? 80, tokenSecret: tokenSecret!)
        if whatIf != nil { fail("replay: --policy re-runs on a fresh embedded gateway; it cannot be combined with --url") }
    }
    var progress: (@Sendable (String) -> Void)?
    if !isQuiet {
        progress = { (line: String) in FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8)) }
    }
    let directory = out ?? "replay-\(scenario.name)"
    // Ctrl-C: remove the embedded gateway's temporary data directory, then exit.
    signal(SIGINT, SIG_IGN)
    let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
    interrupt.setEventHandler {
        ReplayCleanup.removeAll()
        FileHandle.standardError.write(Data("\nlivegate: replay interrupted\n".utf8))
        exit(130)
    }
    interrupt.resume()
    do {
        let base = try Replay.run(scenario, options: ReplayOptions(speed: speed, target: target, progress: progress))
        if !isQuiet { FileHandle.standardError.write(Data("\n".utf8)) }
        var other: ReplayRun?
        if let whatIf {
            if !isQuiet { FileHandle.standardError.write(Data("what-if \(policySpec!):\n".utf8)) }
            other = try Replay.run(scenario, options: ReplayOptions(speed: speed, policyOverride: whatIf, target: target, progress: progress))
            if !isQuiet { FileHandle.standardError.write(Data("\n".utf8)) }
        }
        try ReplayReport.write(base, whatIf: other, whatIfSpec: policySpec, scenario: scenario, to: directory)
        let trend = base.firstRaise("trend")
        print("""
            \(scenario.name): \(String(format: "%.1f", base.wallSeconds)) s; first trend \(ReplayReport.clock(trend?.at)), \
            static rule \(ReplayReport.clock(base.staticRuleAt)), sold out \(ReplayReport.clock(base.soldOutAt)), \
            orders \(base.ordersPlaced) placed / \(base.ordersAnswered) answered, oversell \(base.oversell)
            report: \(directory)/report.md
            """)
        exit(base.oversell == 0 && base.ordersAnswered == base.ordersPlaced ? 0 : 3)
    } catch {
        if !isQuiet { FileHandle.standardError.write(Data("\n".utf8)) }
        fail("replay: \(error)", code: 1)
    }
}
