/// How the stock core is set up.
public struct StockConfiguration: Sendable {
    /// Where core time comes from.
    public enum Clock: Sendable, Hashable {
        /// The wall clock, never moving backwards (production).
        case live
        /// Only ``StockCommand/tick(to:)`` moves core time (replays, tests).
        case external
    }

    /// Where core time comes from.
    public var clock: Clock
    /// How long order keys are remembered after an order's first event, nanoseconds of core time.
    public var retention: Int64
    /// Take a snapshot after this many records since the last one, or after as many as there are
    /// orders remembered when that is more (a snapshot's cost grows with them).
    public var snapshotEvery: Int
    /// The most commands waiting in the inbox; beyond it ``StockEngine/submit(_:wakesWriter:completion:)`` says `busy`.
    public var inboxCapacity: Int
    /// The size of journal segment files, bytes.
    public var segmentSize: Int
    /// Whether every batch is `fdatasync`ed. Only a benchmark turns this off, and says "not durable".
    public var isDurable: Bool
    /// Orders to size the order table for up front (it grows beyond).
    public var expectedOrders: Int
    /// Where the core reports problems (journal failures); called from the core's threads.
    public var log: @Sendable (String) -> Void

    /// Creates a configuration; every parameter has the documented default.
    public init(
        clock: Clock = .live,
        retention: Int64 = StockLedger.defaultRetention,
        snapshotEvery: Int = 1_000_000,
        inboxCapacity: Int = 65_536,
        segmentSize: Int = 64 << 20,
        isDurable: Bool = true,
        expectedOrders: Int = 1 << 16,
        log: @escaping @Sendable (String) -> Void = StockConfiguration.logToStandardError
    ) {
        self.clock = clock
        self.retention = retention
        self.snapshotEvery = snapshotEvery
        self.inboxCapacity = inboxCapacity
        self.segmentSize = segmentSize
        self.isDurable = isDurable
        self.expectedOrders = expectedOrders
        self.log = log
    }

    /// Writes `message` and a newline to standard error with one `write(2)`.
    public static let logToStandardError: @Sendable (String) -> Void = { message in
        let line = Array(("livegate stock: " + message + "\n").utf8)
        _ = line.withUnsafeBytes { FileDescriptorOutput.write(2, $0) }
    }
}
