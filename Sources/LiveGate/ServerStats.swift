import Synchronization

/// Process-wide counters, updated with relaxed atomics from any loop.
final class ServerStats: Sendable {
    let openConnections = Atomic<Int>(0)
    let acceptedTotal = Atomic<Int>(0)
    let upgradesTotal = Atomic<Int>(0)
    let deliveries = Atomic<Int>(0)

    func connectionOpened() {
        openConnections.wrappingAdd(1, ordering: .relaxed)
        acceptedTotal.wrappingAdd(1, ordering: .relaxed)
    }

    func connectionClosed() {
        openConnections.wrappingSubtract(1, ordering: .relaxed)
    }

    func upgraded() {
        upgradesTotal.wrappingAdd(1, ordering: .relaxed)
    }
}
