import Dispatch
import Foundation
import LiveGateAlerts
import LiveGateCore
import LiveGateHTTP
import LiveGatePOSIX
import LiveGateStock

/// The whole product in one process: the stock core, the rooms and the network server,
/// wired together.
public final class Gateway: Sendable {
    /// The network server.
    public let server: Server
    /// The stock core.
    public let core: StockEngine
    let rooms: Rooms
    let tokens: TokenAuthority
    let metrics = GatewayMetrics()
    let store: RoomStore
    /// The consoles' charts and alert history, kept across restarts.
    let archive: ConsoleArchive
    /// The room streams' publisher to Redis, when the cluster is configured.
    let cluster: ClusterPublisher?
    /// What the room connections share.
    let services: RoomSession.SharedServices
    /// Messages and orders from the clients of edges, when the cluster is configured.
    let inbox: ClusterInbox?

    /// Opens the stock core in `dataDir` (recovering it), seeds the configured SKUs it does
    /// not have yet, and prepares the server. Nothing listens until ``start()``.
    ///
    /// - Throws: configuration, journal or socket errors, with the file or key named.
    public init(configuration: Configuration) throws {
        let redisTLS = try configuration.cluster?.makeRedisTLS()
        server = try Server(configuration: configuration)
        let rooms = Rooms(configuration: configuration, contexts: server.contexts, stats: server.stats)
        self.rooms = rooms
        store = RoomStore(dataDirectory: configuration.dataDir)
        tokens = TokenAuthority(secret: configuration.tokenSecret)
        try DataDirectory.create(configuration.dataDir)
        archive = ConsoleArchive(dataDirectory: configuration.dataDir, rooms: rooms)
        let firstLoop = server.firstLoop
        let cluster = configuration.cluster.map { settings in
            ClusterPublisher(
                settings: settings, epoch: rooms.streams.epoch, loop: firstLoop, redisTLS: redisTLS, rooms: configuration.rooms.map(\.id)
            ) { room, audience in
                // The position first: the registry's figures are then at least as new as it.
                guard let seq = rooms.streams.position(room: room, audience: audience),
                      let writer = rooms.registry.snapshot(room: room, seq: seq, epoch: rooms.streams.epoch, audience: audience)
                else { return nil }
                return (seq, writer.json)
            } console: { room in
                rooms.consoleJoinFrames(room: room).map { ClusterPublisher.payload(of: $0) }.joined(separator: "\n")
            }
        }
        self.cluster = cluster
        if let cluster { rooms.streams.setTap { cluster.publish($0) } }
        archive.restore()
        var stockConfiguration = StockConfiguration()
        stockConfiguration.clock = configuration.stockClock
        stockConfiguration.snapshotEvery = configuration.snapshotEvery
        stockConfiguration.retention = Int64(configuration.orderRetentionSeconds * 1e9)
        stockConfiguration.log = { Log.warning("stock core: \($0)") }
        let observer = try AlertObserver(
            configuration: configuration.alerts,
            names: Dictionary(configuration.skus.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first }))
        let metrics = self.metrics
        // On the core's release thread, for each durable batch in order: the changed SKUs and
        // what the alert engine attached to the same batch.
        core = try StockEngine.open(
            dataDirectory: configuration.dataDir, configuration: stockConfiguration, observer: observer
        ) { batch in
            for event in batch.annotation?.events ?? [] { metrics.alert(event.level) }
            rooms.batchDurable(batch)
        }
        let notes = core.withLedger { $0.notes }
        core.start()
        rooms.restore(try store.load())
        rooms.registry.restoreFeatured(notes: notes)
        let store = self.store
        let services = RoomSession.SharedServices(RoomServices(
            rooms: rooms, core: core, tokens: tokens, metrics: metrics,
            budgets: Budgets(viewerSoftBytes: configuration.viewerSoftBudgetBytes, viewerHardBytes: configuration.viewerHardBudgetBytes,
                             priorityHardBytes: configuration.priorityHardBudgetBytes),
            rules: RoomRules(
                stockQuestionKeywords: configuration.alerts.templates.stockQuestionKeywords,
                defaultPolicy: configuration.alerts.defaultPolicy,
                alertHorizon: configuration.alerts.horizon,
                danmakuMaxCharacters: configuration.danmakuMaxCharacters,
                danmakuPer10Seconds: configuration.danmakuPer10Seconds,
                isExternalClock: configuration.stockClock == .external),
            persistRooms: { try store.save { rooms.registry.liveCreated(excluding: configuration) } },
            replyIntervalMs: UInt64(configuration.alerts.danmakuInterval / 1_000_000)))
        self.services = services
        inbox = cluster.map { cluster in
            ClusterInbox(settings: cluster.settings, epoch: cluster.epoch, loop: firstLoop, redisTLS: cluster.redisTLS, services: services,
                         streams: rooms.streams)
        }
        try seed(configuration)
    }

    /// Creates the configured SKUs the recovered state lacks; logs where recovered state differs.
    private func seed(_ configuration: Configuration) throws {
        let existing = try call(.readSkus(nil)).skus
        let byID = Dictionary(existing.map { ($0.sku, $0) }, uniquingKeysWith: { first, _ in first })
        for sku in configuration.skus {
            if let recovered = byID[sku.id] {
                if recovered.onHand != sku.onHand {
                    Log.info("sku \(sku.id): recovered onHand \(recovered.onHand) (config says \(sku.onHand)); recovered state wins")
                }
                continue
            }
            let result = try call(.createSku(sku: sku.id, onHand: sku.onHand, policy: sku.policy))
            guard result.outcome.isSuccess else {
                throw ConfigurationError(message: "skus[\(sku.id)]: the stock core refused it: \(result.outcome.wireName)")
            }
            Log.info("sku \(sku.id): created with \(sku.onHand) on hand")
        }
        rooms.seed(try call(.readSkus(nil)).skus)
    }

    /// Submits a command and waits for its durable result (start-up only).
    private func call(_ command: StockCommand) throws -> StockResult {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        let status = core.submit(command) { result in
            box.set(result)
            done.signal()
        }
        guard status == .accepted else { throw ConfigurationError(message: "stock core: command not accepted (\(status))") }
        done.wait()
        return box.get()!
    }

    /// Starts listening: `/ws`, the room API, `/healthz`, `/readyz` and `/echo` when enabled.
    public func start() throws {
        var router = server.makeBaseRouter()
        let configuration = server.configuration
        if configuration.benchPubSub {
            let rooms = self.rooms, streams = rooms.streams
            rooms.addInternalRoom(BenchSubscriberSession.topic)
            router.webSocketEndpoints["/bench"] = WebSocketEndpoint(
                path: "/bench", maxMessageBytes: configuration.maxMessageBytes,
                makeSession: { _ in BenchSubscriberSession(streams: streams) })
            router.webSocketEndpoints["/bench/pub"] = WebSocketEndpoint(
                path: "/bench/pub", maxMessageBytes: configuration.maxMessageBytes,
                makeSession: { _ in BenchPublisherSession(streams: streams) })
        }
        router.webSocketEndpoints["/ws"] = WebSocketEndpoint(
            path: "/ws", maxMessageBytes: configuration.maxMessageBytes,
            makeSession: { [services] head in RoomSession(head: head, services: services) })
        let rooms = self.rooms, core = self.core, tokens = self.tokens, metrics = self.metrics, clusterStats = self.cluster?.stats, inbox = self.inbox
        let stats = server.stats
        let metricsToken = configuration.metricsToken
        router.httpHandler = { head, body, info in
            if head.path == "/metrics" {
                guard head.method == "GET" else { return .respond(.text(.methodNotAllowed, "use GET")) }
                let allowed = info.isLoopbackPeer || (metricsToken.map { bearerToken(head) == $0 } ?? false)
                guard allowed else {
                    return .respond(.text(.forbidden, "metrics are served to loopback, or with the metricsToken as a Bearer token"))
                }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
                return .respond(HTTPResponse(status: .ok, headers: headers, body: Array(metrics.render(server: stats, core: core, cluster: clusterStats, inbox: inbox).utf8)))
            }
            return RoomAPI.handle(head, body: body, rooms: rooms, core: core, tokens: tokens, metrics: metrics)
        }
        // Orders and commands read on a loop are submitted without waking the writer; it is woken
        // once the turn's events are handled, so that what arrived together is written together.
        try server.start(router: router, afterEvents: { [core] in core.wakeWriter() })
        archive.start()
        cluster?.start()
        inbox?.start()
    }

    /// Order → flush latency so far for an audience: observations and mean seconds (tests, metrics).
    func orderDeliveryLatency(_ audience: Audience) -> (count: Int, meanSeconds: Double) {
        let (count, sum) = server.stats.orderToDelivery[audience.rawValue].countAndSum
        return (count, count == 0 ? 0 : sum / Double(count))
    }

    /// Closes the connections (1001), then stops the stock core. With `drainWaves`, viewers
    /// are first sent away with 1012 in that many waves over half the grace period.
    public func shutdown(drainWaves: Int = 0) {
        // While the loops run: the heartbeat goes, so edges refuse at once and send away the
        // clients whose answers this core will not write.
        inbox?.stop()
        server.shutdown(drainWaves: drainWaves)
        cluster?.stop()
        core.stop()
        archive.stop()
    }
}

/// Carries a result from the writer thread to a waiting thread.
private final class ResultBox: @unchecked Sendable {
    // @unchecked: written once before the semaphore is signalled, read after it is waited on.
    private var result: StockResult?
    func set(_ value: StockResult) { result = value }
    func get() -> StockResult? { result }
}

/// The room API over HTTP on the same port.
enum RoomAPI {
    static func handle(
        _ head: HTTPRequestHead, body: [UInt8], rooms: Rooms, core: StockEngine, tokens: TokenAuthority, metrics: GatewayMetrics
    ) -> Route? {
        let path = head.path
        if path == "/readyz" {
            guard !core.isAvailable else { return .respond(.text(.ok, "ready")) }
            return .respond(.text(.serviceUnavailable, "not ready: " + (core.unavailableReason ?? "the stock core is not accepting commands")))
        }
        if path == "/v1/orders" {
            return OrdersAPI.handle(head, body: body, rooms: rooms, core: core, tokens: tokens, metrics: metrics)
        }
        return stock(head, rooms: rooms, tokens: tokens).map { .respond($0) }
    }

    static func stock(_ head: HTTPRequestHead, rooms: Rooms, tokens: TokenAuthority) -> HTTPResponse? {
        let path = head.path
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count == 4, parts[0] == "v1", parts[1] == "rooms", parts[3] == "stock" || parts[3] == "series" else {
            return nil
        }
        guard head.method == "GET" || head.method == "HEAD" else {
            var headers = HTTPHeaders()
            headers.add(name: "Allow", value: "GET, HEAD")
            return .text(.methodNotAllowed, "use GET", headers: headers)
        }
        let room = String(parts[2])
        guard let token = head.queryParameter("token") ?? bearerToken(head) else {
            return .text(.unauthorized, TokenError.missing.description)
        }
        let claims: TokenClaims
        do {
            claims = try tokens.verify(token, now: Int64(Date().timeIntervalSince1970))
        } catch {
            return .text(.unauthorized, error.description)
        }
        guard claims.room == room else { return .text(.forbidden, "the token is for room \(claims.room)") }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        if parts[3] == "series" {
            guard claims.role == .operator else { return .text(.forbidden, "series are for operators") }
            guard let sku = head.queryParameter("sku"), !sku.isEmpty else { return .text(.badRequest, "sku is required") }
            let sinceText = head.queryParameter("since") ?? "0"
            guard let since = Int64(sinceText) else { return .text(.badRequest, "since must be seconds since 1970") }
            guard let json = rooms.seriesJSON(room: room, sku: sku, since: since) else {
                return .text(.notFound, "room \(room) has no SKU \(sku)")
            }
            return HTTPResponse(status: .ok, headers: headers, body: json)
        }
        // A viewer's token reads the viewers' figures, as its stream shows them.
        let audience: Audience = claims.role == .viewer ? .viewer : .operator
        guard let json = rooms.snapshotJSON(room: room, audience: audience) else { return .text(.notFound, "no room \(room)") }
        return HTTPResponse(status: .ok, headers: headers, body: json)
    }
}
