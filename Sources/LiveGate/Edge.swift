import Foundation
import LiveGateCore
import LiveGateHTTP
import LiveGatePOSIX
import LiveGateRedis
import LiveGateTLS
import LiveGateWebSocket
import Synchronization

/// An edge node (cluster role `edge`, issue #19): it holds clients of the configured rooms,
/// fans out what the core wrote to Redis (ClusterPublisher.swift) and relays what clients send
/// to the core through Redis (``EdgeRelay``), with no stock core of its own. A client that joins
/// here gets its room stream's latest snapshot from Redis and then every message after its
/// `seq`, as at the core; `since`/`epoch` resume works at any node, because the edge numbers
/// nothing itself: it takes the core's epoch and `seq`s.
public final class EdgeGateway: Sendable {
    public let server: Server
    let streams: StreamHub
    let mirror: EdgeMirror
    let relay: EdgeRelay
    let tokens: TokenAuthority
    let budgets: Budgets

    public init(configuration: Configuration) throws {
        guard let cluster = configuration.cluster, cluster.role == .edge else {
            throw ConfigurationError(message: "an edge needs cluster.redis and cluster.role edge")
        }
        let redisTLS = try cluster.makeRedisTLS()
        server = try Server(configuration: configuration)
        let compression = configuration.compression
            ? StreamCompression(minimumBytes: configuration.compressionMinimumBytes, stats: server.stats) : nil
        streams = StreamHub(historySize: configuration.historySize, contexts: server.contexts, compression: compression)
        let rooms = configuration.rooms.map(\.id)
        for room in rooms { streams.addRoom(room) }
        tokens = TokenAuthority(secret: configuration.tokenSecret)
        budgets = Budgets(viewerSoftBytes: configuration.viewerSoftBudgetBytes, viewerHardBytes: configuration.viewerHardBudgetBytes,
                          priorityHardBytes: configuration.priorityHardBudgetBytes)
        relay = EdgeRelay(settings: cluster, loop: server.firstLoop, redisTLS: redisTLS)
        mirror = EdgeMirror(settings: cluster, edge: cluster.node ?? relay.edge, rooms: rooms, streams: streams, loop: server.firstLoop,
                            redisTLS: redisTLS, contexts: server.contexts)
    }

    /// Starts listening and following the core.
    public func start() throws {
        var router = server.makeBaseRouter()
        let streams = self.streams, mirror = self.mirror, relay = self.relay, tokens = self.tokens, budgets = self.budgets
        let maxMessageBytes = server.configuration.maxMessageBytes
        router.webSocketEndpoints["/ws"] = WebSocketEndpoint(
            path: "/ws", maxMessageBytes: maxMessageBytes,
            makeSession: { head in EdgeSession(head: head, tokens: tokens, mirror: mirror, relay: relay, streams: streams, budgets: budgets) })
        router.httpHandler = { head, body, info in
            switch head.path {
            case "/readyz":
                let status = mirror.status
                guard status.isCaughtUp else { return .respond(.text(.serviceUnavailable, "not ready: \(status.why)")) }
                return .respond(.text(.ok, "ready"))
            case "/metrics":
                guard info.isLoopbackPeer else { return .respond(.text(.forbidden, "metrics are served to loopback")) }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
                return .respond(HTTPResponse(status: .ok, headers: headers, body: Array((mirror.metrics() + relay.metrics()).utf8)))
            case "/v1/orders":
                return EdgeRelay.orders(head, body: body, tokens: tokens, relay: relay)
            default:
                // The pages and /healthz are the router's; the rest of the room API is the core's.
                guard head.path.hasPrefix("/v1/") else { return nil }
                return .respond(.text(.notFound, "this node is an edge: it serves /ws, POST /v1/orders and the pages; the rest of the API is the core's"))
            }
        }
        try server.start(router: router)
        relay.start()
        mirror.start()
    }

    public func shutdown(drainWaves: Int = 0) {
        // While the loops run: the relay refuses from now on, the lag line goes from Redis.
        relay.stop()
        mirror.stop()
        server.shutdown(drainWaves: drainWaves)
    }
}

/// A client's connection at an edge: the token, the snapshot and messages from the mirror, then
/// its role's room stream through the loop's fan-out, as at the core; what it sends goes to the
/// core through the relay.
final class EdgeSession: WebSocketSession {
    private let claims: TokenClaims?
    private let token: String
    private let refusal: String?
    private let mirror: EdgeMirror
    private let relay: EdgeRelay
    private let streams: StreamHub
    private let budgets: Budgets
    private let since: UInt64?
    private let epoch: String?
    /// The page the client says it is (`page=` in the URL), for presence.
    private let page: PageKind?
    /// A refused token's claims, when its signature was good (expired): presence names the refusal.
    private let refusedClaims: TokenClaims?
    /// Whether it sent a message (the core then knows it, and is told when it leaves).
    private var hasSent = false
    /// Whether it joined (and counts in presence).
    private var hasJoined = false

    init(head: HTTPRequestHead, tokens: TokenAuthority, mirror: EdgeMirror, relay: EdgeRelay, streams: StreamHub, budgets: Budgets) {
        self.mirror = mirror
        self.relay = relay
        self.streams = streams
        self.budgets = budgets
        since = head.queryParameter("since").flatMap { UInt64($0) }
        epoch = head.queryParameter("epoch")
        page = PageKind(name: head.queryParameter("page"))
        let token = head.queryParameter("token") ?? bearerToken(head)
        self.token = token ?? ""
        do {
            guard let token else { throw TokenError.missing }
            claims = try tokens.verify(token, now: Int64(Date().timeIntervalSince1970))
            refusal = nil
            refusedClaims = nil
        } catch {
            claims = nil
            refusal = "\(error)"
            // An expired token with a good signature still says truly which room and role it was for.
            refusedClaims = (error as? TokenError) == .expired ? token.flatMap { try? tokens.verify($0, now: .min) } : nil
        }
    }

    func connectionDidOpen(_ connection: Connection) {
        guard let claims else {
            let reason = refusal ?? "refused"
            Log.event(.info, "ws_refused", ["fd": "\(connection.fd)", "reason": reason])
            connection.close(.policyViolation, reason: reason)
            if let claims = refusedClaims, mirror.serves(claims.room) {
                _ = mirror.presence.refused(
                    room: claims.room, role: claims.role,
                    Presence.Refusal(reason: reason, at: Int64(Date().timeIntervalSince1970), subject: claims.subject, page: page),
                    now: Posix.monotonicMilliseconds())
            }
            return
        }
        let audience = Audience(claims.role)
        guard let (frames, seq) = mirror.join(room: claims.room, audience: audience, since: since, epoch: epoch) else {
            if mirror.serves(claims.room) {
                connection.close(.tryAgainLater, reason: "this edge is catching up with the core; retry")
            } else {
                connection.close(.policyViolation, reason: "unknown room \(claims.room)")
            }
            return
        }
        budgets.apply(to: connection, audience: audience)
        for frame in frames { connection.send(frame) }
        connection.loopContext.subscribe(connection, room: claims.room, audience: audience, startSeq: seq)
        _ = mirror.presence.change(room: claims.room, role: claims.role, page: page, by: 1, now: Posix.monotonicMilliseconds())
        hasJoined = true
    }

    func connection(_ connection: Connection, didReceive opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) {
        guard claims != nil else { return }
        guard opcode == .text else {
            connection.send(errorFrame(id: nil, ProtocolError(.badMessage, "messages are JSON text frames")))
            return
        }
        hasSent = true
        relay.forward(message: [UInt8](payload), token: token, from: connection.handle)
    }

    func connectionDidClose(_ connection: Connection) {
        connection.loopContext.unsubscribe(connection)
        if hasSent { relay.left(connection.handle) }
        if hasJoined, let claims {
            hasJoined = false
            _ = mirror.presence.change(room: claims.room, role: claims.role, page: page, by: -1, now: Posix.monotonicMilliseconds())
        }
    }
}

/// Follows the core's room streams in Redis for an edge: the epoch, each room stream's latest
/// snapshot, then every entry after it (`XREAD BLOCK`), handed to the local ``StreamHub`` with the
/// core's `seq`. Two Redis connections on one loop: one blocks in `XREAD`, the other reads the
/// epoch and refreshes the snapshots every second, and reports where this edge stands
/// (``ClusterWire/EdgeReport``).
///
/// A gap (entries trimmed, or dropped by the core while Redis was away) or a new epoch (the core
/// restarted) restarts the stream from a fresh snapshot and sends this edge's clients of the room
/// away with 1012: they come back with `since`, which no longer resumes, and get the snapshot,
/// never a silent gap.
final class EdgeMirror: @unchecked Sendable {
    struct Status: Sendable {
        var isCaughtUp: Bool
        var why: String
    }

    typealias StreamID = ClusterPublisher.StreamID

    private let settings: ClusterSettings
    private let edge: String
    private let rooms: [String]
    private let streamIDs: [StreamID]
    private let streams: StreamHub
    private let loop: EventLoop
    private let contexts: [LoopBound<LoopContext>]
    private let reader: RedisClient
    private let control: RedisClient
    /// Each stream's snapshot (its seq, its frame), and the frames an operator gets after it; read
    /// by joins on every loop.
    private let snapshots = Mutex<[StreamID: (seq: UInt64, frame: SharedBytes)]>([:])
    private let consoles = Mutex<[String: [SharedBytes]]>([:])
    private let statusState = Mutex(Status(isCaughtUp: false, why: "connecting to Redis"))
    private let received = Atomic<Int>(0)
    private let gaps = Atomic<Int>(0)
    /// How old the newest message was when it was taken (ms; the core's clock against this one's).
    private let lagMilliseconds = Atomic<Int>(0)
    /// This edge's connections and refusals per room, reported to the core every second (its
    /// consoles' `presence` counts every node's); never published from here.
    let presence = Presence()
    // Loop-confined.
    private var epoch: String?
    /// The last seq handed to the hub, by stream (0: not started).
    private var positions: [StreamID: UInt64] = [:]
    private var isReading = false
    private var isRefreshing = false
    private var isStopped = false

    init(settings: ClusterSettings, edge: String, rooms: [String], streams: StreamHub, loop: EventLoop,
         redisTLS: TLSClientContext? = nil, contexts: [LoopBound<LoopContext>]) {
        self.settings = settings
        self.edge = edge
        self.rooms = rooms
        streamIDs = rooms.flatMap { room in Audience.allCases.map { StreamID(room: room, audience: $0) } }
        self.streams = streams
        self.loop = loop
        self.contexts = contexts
        reader = RedisClient(url: settings.redis, loop: loop, tls: redisTLS)
        control = RedisClient(url: settings.redis, loop: loop, tls: redisTLS)
    }

    var status: Status { statusState.withLock { $0 } }

    func serves(_ room: String) -> Bool { rooms.contains(room) }

    func start() {
        loop.execute { [self] in
            control.onStateChange = { [weak self] state in
                if state == .ready { self?.refresh() } else { self?.setStatus(false, "Redis: \(state)") }
            }
            reader.onStateChange = { [weak self] state in
                guard let self else { return }
                self.isReading = false
                if state == .ready { self.read() }
            }
            control.start()
            reader.start()
            scheduleRefresh()
            Log.event(.info, "cluster_edge", ["redis": settings.redis.description, "prefix": settings.prefix, "edge": edge,
                                              "rooms": rooms.joined(separator: ",")])
        }
    }

    func stop() {
        loop.execute { [self] in
            isStopped = true
            if control.state == .ready { control.send(["HDEL", ClusterWire.edges(settings.prefix), edge]) { _ in } }
            reader.stop()
            loop.schedule(afterMilliseconds: 100) { [control] in control.stop() }
        }
    }

    private func setStatus(_ caughtUp: Bool, _ why: String) {
        statusState.withLock { $0 = Status(isCaughtUp: caughtUp, why: why) }
    }

    private func key(_ epoch: String, _ stream: StreamID) -> String {
        "\(settings.prefix):\(epoch):\(stream.room):\(stream.audience)"
    }

    /// What a joining client gets: the missed messages when it resumes in this epoch, else the
    /// snapshot and the messages after it (and an operator, the console's join messages). Any loop.
    func join(room: String, audience: Audience, since: UInt64?, epoch clientEpoch: String?) -> (frames: [SharedBytes], seq: UInt64)? {
        let console = audience == .operator ? consoles.withLock { $0[room] } ?? [] : []
        if let since, clientEpoch == streams.epoch,
           let (seq, missed) = streams.resume(room: room, audience: audience, since: since), let missed {
            return (missed + console, seq)
        }
        guard let snapshot = snapshots.withLock({ $0[StreamID(room: room, audience: audience)] }),
              let (seq, after) = streams.resume(room: room, audience: audience, since: snapshot.seq), let after
        else { return nil }
        return ([snapshot.frame] + after + console, seq)
    }

    // MARK: - Epoch and snapshots (control connection)

    private func scheduleRefresh() {
        loop.schedule(afterMilliseconds: 1_000) { [weak self] in
            guard let self, !self.isStopped else { return }
            self.refresh()
            self.scheduleRefresh()
        }
    }

    /// Reads the epoch and every stream's snapshot; starts (or restarts) streams as needed;
    /// reports where this edge stands.
    private func refresh() {
        guard control.state == .ready, !isRefreshing else { return }
        isRefreshing = true
        control.send(["GET", "\(settings.prefix):epoch"]) { [weak self] result in
            guard let self else { return }
            guard case .success(let value) = result, let current = value.string else {
                self.isRefreshing = false
                self.setStatus(false, "no epoch in Redis yet (is the core running with the same prefix?)")
                return
            }
            let commands = self.streamIDs.map { ["GET", self.key(current, $0) + ":snapshot"] }
                + self.rooms.map { ["GET", self.key(current, StreamID(room: $0, audience: .operator)) + ":console"] }
            self.control.pipeline(commands) { [weak self] result in
                guard let self else { return }
                self.isRefreshing = false
                guard case .success(let replies) = result else { return }
                self.apply(epoch: current, snapshots: Array(replies.prefix(self.streamIDs.count)),
                           consoles: Array(replies.dropFirst(self.streamIDs.count)))
                self.report(current)
            }
        }
    }

    private func report(_ epoch: String) {
        let positions = streamIDs.compactMap { stream in
            self.positions[stream].map { ClusterWire.EdgeReport.Position(epoch: epoch, room: stream.room, audience: stream.audience, seq: $0) }
        }
        var presence: [String: Presence.Snapshot] = [:]
        for room in rooms {
            let snapshot = self.presence.localSnapshot(room: room)
            if snapshot != Presence.Snapshot() { presence[room] = snapshot }
        }
        let report = ClusterWire.EdgeReport(
            at: Int64(Date().timeIntervalSince1970 * 1000), lagMilliseconds: Int64(lagMilliseconds.load(ordering: .relaxed)),
            positions: positions, presence: presence)
        control.send(["HSET", ClusterWire.edges(settings.prefix), edge, report.text]) { _ in }
    }

    private func apply(epoch current: String, snapshots replies: [RESPValue], consoles: [RESPValue]) {
        if current != epoch {
            let previous = epoch
            epoch = current
            streams.setEpoch(current)
            positions = [:]
            snapshots.withLock { $0.removeAll() }
            if previous != nil {
                Log.event(.warning, "edge_epoch", ["from": previous ?? "", "to": current, "action": "clients reconnect"])
                for room in rooms { sendAway(room: room, reason: "the core restarted; reconnect") }
            }
        }
        var missing: Set<String> = []
        for (stream, reply) in zip(streamIDs, replies) {
            guard let text = reply.string, let seq = Self.seq(ofSnapshot: text) else {
                missing.insert(stream.room)
                continue
            }
            let position = positions[stream] ?? 0
            if position == 0 {
                // The stream starts here.
                streams.restartRemote(room: stream.room, audience: stream.audience, after: seq)
                positions[stream] = seq
            } else if seq > position {
                // Not caught up to this snapshot yet: keep the one before.
                continue
            }
            let frame = Array(text.utf8).withUnsafeBytes { WebSocketFrameEncoder.makeSharedFrame(opcode: .text, payload: $0) }
            snapshots.withLock { $0[stream] = (seq, frame) }
        }
        for (room, reply) in zip(rooms, consoles) {
            guard let text = reply.string else { continue }
            let frames = text.split(separator: "\n").map { line in
                Array(line.utf8).withUnsafeBytes { WebSocketFrameEncoder.makeSharedFrame(opcode: .text, payload: $0) }
            }
            self.consoles.withLock { $0[room] = frames }
        }
        if missing.isEmpty {
            setStatus(true, "following epoch \(current)")
        } else {
            setStatus(false, "no snapshot in Redis yet for \(missing.sorted().joined(separator: ", "))")
        }
        if !isReading { read() }
    }

    /// The `"seq":N` of a snapshot's JSON (written by the core's JSONWriter: no spaces).
    static func seq(ofSnapshot text: String) -> UInt64? {
        guard let range = text.range(of: "\"seq\":") else { return nil }
        return UInt64(text[range.upperBound...].prefix { $0.isNumber })
    }

    // MARK: - Entries (reader connection)

    private func read() {
        guard !isStopped, !isReading, reader.state == .ready, let epoch else { return }
        let started = streamIDs.filter { (positions[$0] ?? 0) > 0 }
        guard !started.isEmpty else { return }
        isReading = true
        let command = ["XREAD", "COUNT", "1024", "BLOCK", "1000", "STREAMS"] + started.map { key(epoch, $0) }
            + started.map { "0-\(positions[$0] ?? 0)" }
        reader.send(command) { [weak self] result in
            guard let self else { return }
            self.isReading = false
            guard case .success(let value) = result else { return }  // read() again when ready
            if epoch == self.epoch { self.take(value, streams: started, epoch: epoch) }
            self.read()
        }
    }

    private func take(_ reply: RESPValue, streams started: [StreamID], epoch: String) {
        guard let streamsReply = reply.elements else { return }  // nil: BLOCK timed out
        var newest: Int64 = 0
        for stream in streamsReply {
            guard let parts = stream.elements, parts.count == 2, let name = parts[0].string,
                  let id = started.first(where: { key(epoch, $0) == name }), let entries = parts[1].elements
            else { continue }
            for entry in entries {
                guard let fields = entry.elements, fields.count == 2, let entryID = fields[0].string,
                      let seq = UInt64(entryID.split(separator: "-").last ?? ""), let pairs = fields[1].elements
                else { continue }
                let values = ClusterWire.fields(pairs)
                guard let payload = values[UInt8(ascii: "m")] else { continue }
                let conflation = ClusterWire.integer(values[UInt8(ascii: "k")]).map { UInt32(truncatingIfNeeded: $0) } ?? 0
                if let at = ClusterWire.integer(values[UInt8(ascii: "t")]) { newest = max(newest, at) }
                let position = positions[id] ?? 0
                if seq <= position { continue }
                if seq != position + 1 {
                    gap(id, expected: position + 1, got: seq)
                    return
                }
                positions[id] = seq
                received.add(1, ordering: .relaxed)
                let frame = payload.withUnsafeBytes { WebSocketFrameEncoder.makeSharedFrame(opcode: .text, payload: $0) }
                streams.publishRemote(room: id.room, audience: id.audience, seq: seq, frame: frame, key: conflation)
            }
        }
        if newest > 0 {
            lagMilliseconds.store(Int(min(max(0, Int64(Date().timeIntervalSince1970 * 1000) &- newest), 86_400_000)), ordering: .relaxed)
        }
    }

    private func gap(_ stream: StreamID, expected: UInt64, got: UInt64) {
        gaps.add(1, ordering: .relaxed)
        Log.event(.warning, "edge_gap", ["room": stream.room, "audience": "\(stream.audience)", "expected": String(expected),
                                         "got": String(got), "action": "snapshot, clients reconnect"])
        for audience in Audience.allCases { positions[StreamID(room: stream.room, audience: audience)] = 0 }
        snapshots.withLock { snapshots in
            for audience in Audience.allCases { snapshots.removeValue(forKey: StreamID(room: stream.room, audience: audience)) }
        }
        sendAway(room: stream.room, reason: "this edge missed messages; reconnect")
        setStatus(false, "restarting room \(stream.room) after a gap")
        refresh()
    }

    /// Sends every client of the room at this edge away with 1012.
    private func sendAway(room: String, reason: String) {
        for context in contexts {
            context.execute { $0.scheduleDrain(room: room, waves: 1, over: 0, reason: reason, everyone: true) }
        }
    }

    func metrics() -> String {
        var text = ""
        func metric(_ name: String, _ type: String, _ help: String, _ value: Int) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        metric("livegate_edge_caught_up", "gauge", "1 when the edge follows the core's streams.", status.isCaughtUp ? 1 : 0)
        metric("livegate_edge_received_total", "counter", "Room stream messages taken from Redis.", received.load(ordering: .relaxed))
        metric("livegate_edge_gaps_total", "counter", "Gaps in a stream (clients sent to reconnect).", gaps.load(ordering: .relaxed))
        metric("livegate_edge_lag_milliseconds", "gauge", "How old the newest message was when this edge took it.",
               lagMilliseconds.load(ordering: .relaxed))
        return text
    }
}
