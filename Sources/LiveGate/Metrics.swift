import LiveGateAlerts
import LiveGateStock
import Synchronization

/// Counters for `/metrics`, updated with relaxed atomics from any thread.
final class GatewayMetrics: Sendable {
    /// Open room connections by role, in `Role.allCases` order.
    private let byRole = Mutex<[Int]>(Array(repeating: 0, count: Role.allCases.count))
    /// Client messages received on `/ws`.
    let messagesIn = Atomic<Int>(0)
    /// Order results by outcome, indexed by the outcome's raw value.
    private let ordersByOutcome = (0..<32).map { _ in Counter() }

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    func joined(_ role: Role) {
        let index = Role.allCases.firstIndex(of: role)!
        byRole.withLock { $0[index] += 1 }
    }

    func left(_ role: Role) {
        let index = Role.allCases.firstIndex(of: role)!
        byRole.withLock { $0[index] -= 1 }
    }

    /// Alert transitions by new level, indexed by the level's raw value.
    private let alertsByLevel = (0..<8).map { _ in Counter() }

    func alert(_ level: AlertLevel) {
        alertsByLevel[Int(level.rawValue) & 7].value.wrappingAdd(1, ordering: .relaxed)
    }

    func order(_ outcome: StockOutcome) {
        ordersByOutcome[Int(outcome.rawValue) & 31].value.wrappingAdd(1, ordering: .relaxed)
    }

    /// The Prometheus text exposition (version 0.0.4).
    func render(server: ServerStats, core: StockEngine, cluster: ClusterPublisher.Stats? = nil, inbox: ClusterInbox? = nil) -> String {
        var text = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, Int)]) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { text += "\(name)\(labels) \(value)\n" }
        }
        metric("livegate_connections_open", "gauge", "Open TCP connections.",
               [("", server.openConnections.load(ordering: .relaxed))])
        metric("livegate_connections_accepted_total", "counter", "Accepted TCP connections.",
               [("", server.acceptedTotal.load(ordering: .relaxed))])
        metric("livegate_websocket_upgrades_total", "counter", "Completed WebSocket upgrades.",
               [("", server.upgradesTotal.load(ordering: .relaxed))])
        let roles = byRole.withLock { $0 }
        metric("livegate_room_connections", "gauge", "Open room connections by role.",
               zip(Role.allCases, roles).map { ("{role=\"\($0.rawValue)\"}", $1) })
        metric("livegate_messages_in_total", "counter", "Client messages received on /ws.",
               [("", messagesIn.load(ordering: .relaxed))])
        metric("livegate_deliveries_total", "counter", "Room stream messages queued to subscribers.",
               [("", server.deliveries.load(ordering: .relaxed))])
        metric("livegate_deflate_connections", "gauge", "Open WebSocket connections with permessage-deflate.",
               [("", server.deflateConnections.load(ordering: .relaxed))])
        metric("livegate_messages_deflated_total", "counter", "Room stream messages compressed (once each, for every subscriber).",
               [("", server.messagesDeflated.load(ordering: .relaxed))])
        metric("livegate_inflate_limit_closes_total", "counter", "Connections closed with 1009: a compressed message inflated past maxMessageBytes.",
               [("", server.inflateLimitCloses.load(ordering: .relaxed))])
        metric("livegate_orders_total", "counter", "Order results by outcome.",
               StockOutcome.allCases.map { ("{outcome=\"\($0.wireName)\"}", ordersByOutcome[Int($0.rawValue) & 31].value.load(ordering: .relaxed)) })
        let statistics = core.statistics
        metric("livegate_core_rev", "gauge", "The stock core's last durable commit number.", [("", Int(core.committedRev))])
        metric("livegate_core_batches_total", "counter", "Durable batches committed by the stock core.", [("", statistics.batches)])
        metric("livegate_core_records_total", "counter", "Journaled commands committed.", [("", statistics.records)])
        text += "# HELP livegate_core_batch_size Journaled commands per durable batch.\n# TYPE livegate_core_batch_size histogram\n"
        var cumulative = 0
        for (power, count) in statistics.batchSizes.enumerated() {
            cumulative += count
            text += "livegate_core_batch_size_bucket{le=\"\((1 << (power + 1)) - 1)\"} \(cumulative)\n"
        }
        text += "livegate_core_batch_size_bucket{le=\"+Inf\"} \(statistics.batches)\n"
        text += "livegate_core_batch_size_sum \(statistics.records)\nlivegate_core_batch_size_count \(statistics.batches)\n"
        metric("livegate_alerts_total", "counter", "Alert level transitions by the new level.",
               AlertLevel.allCases.map { ("{level=\"\($0)\"}", alertsByLevel[Int($0.rawValue) & 7].value.load(ordering: .relaxed)) })
        text += "# HELP livegate_core_sync_seconds_total Time the stock core spent in fdatasync.\n# TYPE livegate_core_sync_seconds_total counter\n"
        text += "livegate_core_sync_seconds_total \(Double(statistics.syncNanoseconds) / 1e9)\n"
        text += "# HELP livegate_core_writer_busy_seconds_total Time the stock core's writer spent applying and writing.\n# TYPE livegate_core_writer_busy_seconds_total counter\n"
        text += "livegate_core_writer_busy_seconds_total \(Double(statistics.writerBusyNanoseconds) / 1e9)\n"
        text += "# HELP livegate_order_delivery_seconds From an order's arrival to its stock change being flushed to a room stream's subscribers, by audience.\n"
        text += "# TYPE livegate_order_delivery_seconds histogram\n"
        for audience in Audience.allCases {
            text += server.orderToDelivery[audience.rawValue].render(name: "livegate_order_delivery_seconds", labels: "role=\"\(audience)\"")
        }
        metric("livegate_core_available", "gauge", "1 when the stock core accepts commands.", [("", core.isAvailable ? 1 : 0)])
        if let cluster {
            metric("livegate_redis_ready", "gauge", "1 when the Redis connection is logged in and ready.",
                   [("", cluster.ready.load(ordering: .relaxed))])
            metric("livegate_redis_reconnects_total", "counter", "Redis connections made again after a loss.",
                   [("", cluster.reconnects.load(ordering: .relaxed))])
            metric("livegate_redis_published_total", "counter", "Room stream messages written to Redis streams.",
                   [("", cluster.published.load(ordering: .relaxed))])
            metric("livegate_redis_queued", "gauge", "Room stream messages waiting for Redis.",
                   [("", cluster.queued.load(ordering: .relaxed))])
            metric("livegate_redis_dropped_total", "counter", "Room stream messages dropped while Redis was away too long.",
                   [("", cluster.dropped.load(ordering: .relaxed))])
            metric("livegate_redis_refusals_total", "counter", "Publishing pipelines Redis refused in part (LOADING, READONLY, OOM…), retried.",
                   [("", cluster.refusals.load(ordering: .relaxed))])
            metric("livegate_redis_snapshots_total", "counter", "Room stream snapshots written to Redis.",
                   [("", cluster.snapshots.load(ordering: .relaxed))])
            metric("livegate_redis_round_trip_microseconds", "gauge", "The last publishing pipeline's round trip.",
                   [("", cluster.lastRoundTripMicroseconds.load(ordering: .relaxed))])
        }
        if let inbox {
            metric("livegate_cluster_requests_taken_total", "counter", "Messages and orders requests from edges run here.",
                   [("", inbox.stats.taken.load(ordering: .relaxed))])
            metric("livegate_cluster_requests_expired_total", "counter", "Requests from edges taken too late to run (not run; the edge is told and answers unavailable).",
                   [("", inbox.stats.expired.load(ordering: .relaxed))])
            metric("livegate_cluster_answers_total", "counter", "Answers written back to edges.",
                   [("", inbox.stats.answers.load(ordering: .relaxed))])
            metric("livegate_cluster_answers_dropped_total", "counter", "Answers dropped while Redis was away too long.",
                   [("", inbox.stats.dropped.load(ordering: .relaxed))])
            metric("livegate_cluster_clients", "gauge", "Clients of edges that have sent a message.",
                   [("", inbox.stats.clients.load(ordering: .relaxed))])
            let lags = inbox.edgeLags()
            if !lags.isEmpty {
                metric("livegate_edge_lag_messages", "gauge", "Room stream messages an edge has yet to take, summed over its streams.",
                       lags.map { ("{edge=\"\($0.edge)\"}", $0.messages) })
                metric("livegate_edge_lag_milliseconds", "gauge", "How long after the core wrote it an edge took its newest message.",
                       lags.map { ("{edge=\"\($0.edge)\"}", $0.milliseconds) })
            }
        }
        return text
    }
}
