import Synchronization

/// Process-wide counters, updated with relaxed atomics from any loop.
final class ServerStats: Sendable {
    let openConnections = Atomic<Int>(0)
    let acceptedTotal = Atomic<Int>(0)
    let upgradesTotal = Atomic<Int>(0)
    let deliveries = Atomic<Int>(0)
    /// Open WebSocket connections that negotiated permessage-deflate (room publications are
    /// compressed only while there is at least one).
    let deflateConnections = Atomic<Int>(0)
    /// Messages compressed for the room streams: once per message, whatever the subscribers.
    let messagesDeflated = Atomic<Int>(0)
    /// Connections closed with 1009 because a compressed message inflated past the limit.
    let inflateLimitCloses = Atomic<Int>(0)
    /// Order received → its stock change flushed to subscribers, per audience.
    let orderToDelivery = Audience.allCases.map { _ in LatencyHistogram() }

    func connectionOpened() {
        openConnections.wrappingAdd(1, ordering: .relaxed)
        acceptedTotal.wrappingAdd(1, ordering: .relaxed)
    }

    func connectionClosed() {
        openConnections.wrappingSubtract(1, ordering: .relaxed)
    }

    /// A connection negotiated permessage-deflate.
    func deflateNegotiated() {
        deflateConnections.wrappingAdd(1, ordering: .relaxed)
    }

    /// A connection that negotiated permessage-deflate closed.
    func deflateClosed() {
        deflateConnections.wrappingSubtract(1, ordering: .relaxed)
    }

    /// A compressed message inflated past the limit (the connection closes with 1009).
    func inflateLimitHit() {
        inflateLimitCloses.wrappingAdd(1, ordering: .relaxed)
    }

    func upgraded() {
        upgradesTotal.wrappingAdd(1, ordering: .relaxed)
    }
}

/// A latency histogram with fixed log-spaced buckets (0.1 ms … 10 s), updated with relaxed atomics.
final class LatencyHistogram: Sendable {
    /// Upper bounds of the buckets, seconds.
    static let bounds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    private let counts = (0...LatencyHistogram.bounds.count).map { _ in GatewayMetrics.Counter() }
    private let sumNanoseconds = Atomic<Int>(0)

    /// Records one observation.
    func observe(nanoseconds: UInt64) {
        let seconds = Double(nanoseconds) / 1e9
        let index = Self.bounds.firstIndex(where: { seconds <= $0 }) ?? Self.bounds.count
        counts[index].value.wrappingAdd(1, ordering: .relaxed)
        sumNanoseconds.wrappingAdd(Int(clamping: nanoseconds), ordering: .relaxed)
    }

    /// Observations so far and their sum in seconds (tests).
    var countAndSum: (count: Int, seconds: Double) {
        (counts.reduce(0) { $0 + $1.value.load(ordering: .relaxed) }, Double(sumNanoseconds.load(ordering: .relaxed)) / 1e9)
    }

    /// The Prometheus histogram lines for `name` with `labels` (e.g. `role="host"`).
    func render(name: String, labels: String) -> String {
        var text = ""
        var cumulative = 0
        for (index, bound) in Self.bounds.enumerated() {
            cumulative += counts[index].value.load(ordering: .relaxed)
            text += "\(name)_bucket{\(labels),le=\"\(bound)\"} \(cumulative)\n"
        }
        cumulative += counts[Self.bounds.count].value.load(ordering: .relaxed)
        text += "\(name)_bucket{\(labels),le=\"+Inf\"} \(cumulative)\n"
        text += "\(name)_sum{\(labels)} \(Double(sumNanoseconds.load(ordering: .relaxed)) / 1e9)\n"
        text += "\(name)_count{\(labels)} \(cumulative)\n"
        return text
    }
}
