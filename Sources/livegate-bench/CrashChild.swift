import Foundation
import Glibc
import LiveGateStock

/// `livegate-bench crash-child --data-dir D --prefix P [--limit N]`: the child of the stock crash
/// test. Runs the core on `D` under a stream of orders and prints one line per acknowledged change,
/// only after its durable result arrived: `R <id>` reserved, `S <id>` sold, `C <id>` released. The
/// test kills it with SIGKILL at a random moment and checks the recovered state against the lines.
enum CrashChild: BenchScenario {
    /// The subcommand name.
    static let name = "crash-child"
    /// The usage line.
    static let summary = "(test helper) run the stock core under orders until killed"
    /// Hidden: a helper for the crash test.
    static let isHidden = true
    /// The sales channel of the crash test's orders.
    static let channel = "crash"

    /// Runs the scenario; see the type's documentation.
    static func run(_ options: BenchOptions) throws -> Int32 {
        guard let directory = options.string("--data-dir"), let prefix = options.string("--prefix") else {
            throw BenchUsageError(description: "crash-child needs --data-dir and --prefix")
        }
        let limit = try options.integer("--limit", default: Int.max)
        var configuration = StockConfiguration(clock: .live, snapshotEvery: 3_000, segmentSize: 256 << 10)
        configuration.expectedOrders = 1 << 16
        let core = try StockEngine.open(dataDirectory: directory, configuration: configuration)
        core.start()
        let created = DispatchSemaphore(value: 0)
        core.submit(.createSku(sku: "crash", onHand: 1 << 40)) { _ in created.signal() }
        created.wait()
        writeStandardOutput("started\n")
        let inFlight = DispatchSemaphore(value: 64)
        func send(_ kind: OrderEventKind, _ id: String) {
            inFlight.wait()
            let command = StockCommand.order(OrderEvent(kind, sku: "crash", channel: channel, orderId: id, quantity: 1))
            while true {
                let status = core.submit(command) { result in
                    if !result.isDuplicate {
                        switch result.outcome {
                        case .reserved: writeStandardOutput("R \(id)\n")
                        case .sold: writeStandardOutput("S \(id)\n")
                        case .released: writeStandardOutput("C \(id)\n")
                        default: break
                        }
                    }
                    inFlight.signal()
                }
                if status == .accepted { return }
                precondition(status == .busy, "core unavailable")
                sched_yield()
            }
        }
        var index = 0
        while index < limit {
            send(.placed, "\(prefix)-\(index)")
            if index % 3 == 2 { send(.paid, "\(prefix)-\(index - 1)") }
            if index % 7 == 6 { send(.cancelled, "\(prefix)-\(index - 3)") }
            if index % 11 == 10 { send(.placed, "\(prefix)-\(index - 5)") }
            index += 1
        }
        core.stop()
        return 0
    }
}
