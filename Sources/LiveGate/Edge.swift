import Foundation
import LiveGateCore
import LiveGateHTTP
import LiveGatePOSIX
import LiveGateRedis
import LiveGateWebSocket
import Synchronization

/// An edge node (cluster role `edge`, issue #19): it holds the viewers of the configured rooms
/// and fans out what the core wrote to Redis (ClusterPublisher.swift), with no stock core of its
/// own. A viewer that joins here gets the room stream's latest snapshot from Redis and then every
/// message after its `seq`, as at the core; `since`/`epoch` resume works at any node, because the
/// edge numbers nothing itself: it takes the core's epoch and `seq`s.
///
/// So far viewers only: other roles are sent to the core (1008), and a viewer's own messages
/// (chat) are answered `unavailable`.
public final class EdgeGateway: Sendable {
    public let server: Server
    let streams: StreamHub
    let mirror: EdgeMirror
    let tokens: TokenAuthority
    let budgets: Budgets

    public init(configuration: Configuration) throws {
        guard let cluster = configuration.cluster, cluster.role == .edge else {
            throw ConfigurationError(message: "an edge needs cluster.redis and cluster.role edge")
        }
        server = try Server(configuration: configuration)
        let compression = configuration.compression
            ? StreamCompression(minimumBytes: configuration.compressionMinimumBytes, stats: server.stats) : nil
        streams = StreamHub(historySize: configuration.historySize, contexts: server.contexts, compression: compression)
        let rooms = configuration.rooms.map(\.id)
        for room in rooms { streams.addRoom(room) }
        tokens = TokenAuthority(secret: configuration.tokenSecret)
        budgets = Budgets(viewerSoftBytes: configuration.viewerSoftBudgetBytes, viewerHardBytes: configuration.viewerHardBudgetBytes,
                          priorityHardBytes: configuration.priorityHardBudgetBytes)
        mirror = EdgeMirror(settings: cluster, rooms: rooms, streams: streams, loop: server.firstLoop, contexts: server.contexts)
    }

    /// Starts listening and following the core.
    public func start() throws {
        var router = server.makeBaseRouter()
        let streams = self.streams, mirror = self.mirror, tokens = self.tokens, budgets = self.budgets
        let maxMessageBytes = server.configuration.maxMessageBytes
        router.webSocketEndpoints["/ws"] = WebSocketEndpoint(
            path: "/ws", maxMessageBytes: maxMessageBytes,
            makeSession: { head in EdgeSession(head: head, tokens: tokens, mirror: mirror, streams: streams, budgets: budgets) })
        router.httpHandler = { head, _, info in
            switch head.path {
            case "/readyz":
                let status = mirror.status
                guard status.isCaughtUp else { return .respond(.text(.serviceUnavailable, "not ready: \(status.why)")) }
                return .respond(.text(.ok, "ready"))
            case "/metrics":
                guard info.isLoopbackPeer else { return .respond(.text(.forbidden, "metrics are served to loopback")) }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
                return .respond(HTTPResponse(status: .ok, headers: headers, body: Array(mirror.metrics().utf8)))
            default:
                // The pages and /healthz are the router's; the room API is the core's.
                guard head.path.hasPrefix("/v1/") else { return nil }
                return .respond(.text(.notFound, "this node is an edge: it serves viewers (/ws, the pages); orders and the API go to the core"))
            }
        }
        try server.start(router: router)
        mirror.start()
    }

    public func shutdown(drainWaves: Int = 0) {
        server.shutdown(drainWaves: drainWaves)
        mirror.stop()
    }
}

/// A viewer's connection at an edge: the token, the snapshot and messages from the mirror, then
/// the room's viewer stream through the loop's fan-out, as at the core.
final class EdgeSession: WebSocketSession {
    private let claims: TokenClaims?
    private let refusal: String?
    private let mirror: EdgeMirror
    private let streams: StreamHub
    private let budgets: Budgets
    private let since: UInt64?
    private let epoch: String?

    init(head: HTTPRequestHead, tokens: TokenAuthority, mirror: EdgeMirror, streams: StreamHub, budgets: Budgets) {
        self.mirror = mirror
        self.streams = streams
        self.budgets = budgets
        since = head.queryParameter("since").flatMap { UInt64($0) }
        epoch = head.queryParameter("epoch")
        do {
            guard let token = head.queryParameter("token") ?? bearerToken(head) else { throw TokenError.missing }
            claims = try tokens.verify(token, now: Int64(Date().timeIntervalSince1970))
            refusal = nil
        } catch {
            claims = nil
            refusal = "\(error)"
        }
    }

    func connectionDidOpen(_ connection: Connection) {
        guard let claims else {
            connection.close(.policyViolation, reason: refusal ?? "refused")
            return
        }
        guard claims.role == .viewer else {
            connection.close(.policyViolation, reason: "this node is an edge: it serves viewers; a \(claims.role.rawValue) connects to the core")
            return
        }
        guard let (frames, seq) = mirror.join(room: claims.room, since: since, epoch: epoch) else {
            if mirror.serves(claims.room) {
                connection.close(.tryAgainLater, reason: "this edge is catching up with the core; retry")
            } else {
                connection.close(.policyViolation, reason: "unknown room \(claims.room)")
            }
            return
        }
        connection.softBudget = budgets.viewerSoftBytes
        connection.hardBudget = budgets.viewerHardBytes
        for frame in frames { connection.send(frame) }
        connection.loopContext.subscribe(connection, room: claims.room, audience: .viewer, startSeq: seq)
    }

    func connection(_ connection: Connection, didReceive opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) {
        var writer = JSONWriter()
        Messages.writeError(&writer, id: nil, error: ProtocolError(.unavailable, "this node is an edge: it does not take messages yet; send them to the core"))
        connection.send(writer.makeTextFrame())
    }

    func connectionDidClose(_ connection: Connection) {
        connection.loopContext.unsubscribe(connection)
    }
}

/// Follows the core's room streams in Redis for an edge: the epoch, each viewer stream's latest
/// snapshot, then every entry after it (`XREAD BLOCK`), handed to the local ``StreamHub`` with the
/// core's `seq`. Two Redis connections on one loop: one blocks in `XREAD`, the other reads the
/// epoch and refreshes the snapshots every second.
///
/// A gap (entries trimmed, or dropped by the core while Redis was away) or a new epoch (the core
/// restarted) restarts the stream from a fresh snapshot and sends this edge's viewers of the room
/// away with 1012: they come back with `since`, which no longer resumes, and get the snapshot,
/// never a silent gap.
final class EdgeMirror: @unchecked Sendable {
    struct Status: Sendable {
        var isCaughtUp: Bool
        var why: String
    }

    private let settings: ClusterSettings
    private let rooms: [String]
    private let streams: StreamHub
    private let loop: EventLoop
    private let contexts: [LoopBound<LoopContext>]
    private let reader: RedisClient
    private let control: RedisClient
    /// Each room's snapshot (its seq, its frame), read by joins on every loop.
    private let snapshots = Mutex<[String: (seq: UInt64, frame: SharedBytes)]>([:])
    private let statusState = Mutex(Status(isCaughtUp: false, why: "connecting to Redis"))
    private let received = Atomic<Int>(0)
    private let gaps = Atomic<Int>(0)
    // Loop-confined.
    private var epoch: String?
    /// The last seq handed to the hub, by room (0: not started).
    private var positions: [String: UInt64] = [:]
    private var isReading = false
    private var isRefreshing = false
    private var isStopped = false

    init(settings: ClusterSettings, rooms: [String], streams: StreamHub, loop: EventLoop, contexts: [LoopBound<LoopContext>]) {
        self.settings = settings
        self.rooms = rooms
        self.streams = streams
        self.loop = loop
        self.contexts = contexts
        reader = RedisClient(url: settings.redis, loop: loop)
        control = RedisClient(url: settings.redis, loop: loop)
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
            Log.event(.info, "cluster_edge", ["redis": settings.redis.description, "prefix": settings.prefix, "rooms": rooms.joined(separator: ",")])
        }
    }

    func stop() {
        loop.execute { [self] in
            isStopped = true
            reader.stop()
            control.stop()
        }
    }

    private func setStatus(_ caughtUp: Bool, _ why: String) {
        statusState.withLock { $0 = Status(isCaughtUp: caughtUp, why: why) }
    }

    private func key(_ epoch: String, _ room: String) -> String {
        "\(settings.prefix):\(epoch):\(room):\(Audience.viewer)"
    }

    /// What a joining viewer gets: the missed messages when it resumes in this epoch, else the
    /// snapshot and the messages after it. Any loop.
    func join(room: String, since: UInt64?, epoch clientEpoch: String?) -> (frames: [SharedBytes], seq: UInt64)? {
        if let since, clientEpoch == streams.epoch,
           let (seq, missed) = streams.resume(room: room, audience: .viewer, since: since), let missed {
            return (missed, seq)
        }
        guard let snapshot = snapshots.withLock({ $0[room] }),
              let (seq, after) = streams.resume(room: room, audience: .viewer, since: snapshot.seq), let after
        else { return nil }
        return ([snapshot.frame] + after, seq)
    }

    // MARK: - Epoch and snapshots (control connection)

    private func scheduleRefresh() {
        loop.schedule(afterMilliseconds: 1_000) { [weak self] in
            guard let self, !self.isStopped else { return }
            self.refresh()
            self.scheduleRefresh()
        }
    }

    /// Reads the epoch and every room's snapshot; starts (or restarts) streams as needed.
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
            let commands = self.rooms.map { ["GET", self.key(current, $0) + ":snapshot"] }
            self.control.pipeline(commands) { [weak self] result in
                guard let self else { return }
                self.isRefreshing = false
                guard case .success(let replies) = result else { return }
                self.apply(epoch: current, snapshots: replies)
            }
        }
    }

    private func apply(epoch current: String, snapshots replies: [RESPValue]) {
        if current != epoch {
            let previous = epoch
            epoch = current
            streams.setEpoch(current)
            positions = [:]
            snapshots.withLock { $0.removeAll() }
            if previous != nil {
                Log.event(.warning, "edge_epoch", ["from": previous ?? "", "to": current, "action": "viewers reconnect"])
                for room in rooms { sendViewersAway(room: room, reason: "the core restarted; reconnect") }
            }
        }
        var missing: [String] = []
        for (room, reply) in zip(rooms, replies) {
            guard let text = reply.string, let seq = Self.seq(ofSnapshot: text) else {
                missing.append(room)
                continue
            }
            let position = positions[room] ?? 0
            if position == 0 {
                // The stream starts here.
                streams.restartRemote(room: room, audience: .viewer, after: seq)
                positions[room] = seq
            } else if seq > position {
                // Not caught up to this snapshot yet: keep the one before.
                continue
            }
            let frame = Array(text.utf8).withUnsafeBytes { WebSocketFrameEncoder.makeSharedFrame(opcode: .text, payload: $0) }
            snapshots.withLock { $0[room] = (seq, frame) }
        }
        if missing.isEmpty {
            setStatus(true, "following epoch \(current)")
        } else {
            setStatus(false, "no snapshot in Redis yet for \(missing.joined(separator: ", "))")
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
        let started = rooms.filter { (positions[$0] ?? 0) > 0 }
        guard !started.isEmpty else { return }
        isReading = true
        let command = ["XREAD", "COUNT", "1024", "BLOCK", "1000", "STREAMS"] + started.map { key(epoch, $0) }
            + started.map { "0-\(positions[$0] ?? 0)" }
        reader.send(command) { [weak self] result in
            guard let self else { return }
            self.isReading = false
            guard case .success(let value) = result else { return }  // read() again when ready
            if epoch == self.epoch { self.take(value, rooms: started) }
            self.read()
        }
    }

    private func take(_ reply: RESPValue, rooms started: [String]) {
        guard let epoch, let streamsReply = reply.elements else { return }  // nil: BLOCK timed out
        for stream in streamsReply {
            guard let parts = stream.elements, parts.count == 2, let name = parts[0].string,
                  let room = started.first(where: { key(epoch, $0) == name }), let entries = parts[1].elements
            else { continue }
            for entry in entries {
                guard let fields = entry.elements, fields.count == 2, let id = fields[0].string,
                      let seq = UInt64(id.split(separator: "-").last ?? ""), let pairs = fields[1].elements
                else { continue }
                var payload: [UInt8]?
                var conflation: UInt32 = 0
                var index = 0
                while index + 1 < pairs.count {
                    if pairs[index].string == "m", case .bulkString(let bytes) = pairs[index + 1] { payload = bytes }
                    if pairs[index].string == "k", let text = pairs[index + 1].string { conflation = UInt32(text) ?? 0 }
                    index += 2
                }
                guard let payload else { continue }
                let position = positions[room] ?? 0
                if seq <= position { continue }
                if seq != position + 1 {
                    gap(room: room, expected: position + 1, got: seq)
                    return
                }
                positions[room] = seq
                received.add(1, ordering: .relaxed)
                let frame = payload.withUnsafeBytes { WebSocketFrameEncoder.makeSharedFrame(opcode: .text, payload: $0) }
                streams.publishRemote(room: room, audience: .viewer, seq: seq, frame: frame, key: conflation)
            }
        }
    }

    private func gap(room: String, expected: UInt64, got: UInt64) {
        gaps.add(1, ordering: .relaxed)
        Log.event(.warning, "edge_gap", ["room": room, "expected": String(expected), "got": String(got), "action": "snapshot, viewers reconnect"])
        positions[room] = 0
        snapshots.withLock { _ = $0.removeValue(forKey: room) }
        sendViewersAway(room: room, reason: "this edge missed messages; reconnect")
        setStatus(false, "restarting room \(room) after a gap")
        refresh()
    }

    private func sendViewersAway(room: String, reason: String) {
        for context in contexts {
            context.execute { $0.scheduleDrain(room: room, waves: 1, over: 0, reason: reason) }
        }
    }

    func metrics() -> String {
        var text = ""
        func metric(_ name: String, _ type: String, _ help: String, _ value: Int) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        metric("livegate_edge_caught_up", "gauge", "1 when the edge follows the core's streams.", status.isCaughtUp ? 1 : 0)
        metric("livegate_edge_received_total", "counter", "Room stream messages taken from Redis.", received.load(ordering: .relaxed))
        metric("livegate_edge_gaps_total", "counter", "Gaps in a stream (viewers sent to reconnect).", gaps.load(ordering: .relaxed))
        return text
    }
}
