import Foundation

/// The scenarios `livegate-bench` knows, by subcommand name.
let scenarios: [any BenchScenario.Type] = [
    StockBench.self, FanoutBench.self, LatencyBench.self, ClusterBench.self, IdleBench.self, ConnectBench.self, IngestBench.self,
    SlowBench.self,
    CrashChild.self, FaultsBench.self, AlertsBench.self, ViewerChild.self,
]

let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, let scenario = scenarios.first(where: { $0.name == name }) else {
    var usage = "usage: livegate-bench <scenario> [options]\n\nscenarios:\n"
    for scenario in scenarios where !scenario.isHidden {
        usage += "  " + scenario.name.padding(toLength: 10, withPad: " ", startingAt: 0) + scenario.summary + "\n"
    }
    FileHandle.standardError.write(Data(usage.utf8))
    exit(arguments.isEmpty || arguments.first == "--help" ? 0 : 2)
}
do {
    exit(try scenario.run(BenchOptions(Array(arguments.dropFirst()))))
} catch {
    FileHandle.standardError.write(Data("livegate-bench \(name): \(error)\n".utf8))
    exit(1)
}
