import Foundation
import LiveGateCore
import LiveGateHTTP
import LiveGatePOSIX
import LiveGateRedis
import LiveGateTLS
import LiveGateWebSocket
import Synchronization

/// The wire between edges and the core for what clients send (issue #19): the keys, the fields
/// and the timing rules both sides follow.
///
/// - An edge writes each message a client sent it (and each `POST /v1/orders`) to the stream
///   `{prefix}:requests` with fields `e` (the edge's id), `n` (the edge's request number, 1, 2,
///   …), `c` (the client: the edge's connection id, or the HTTP request's number), `k` (`m` a
///   WebSocket message, `h` an orders request, `x` the client left), `d` (the deadline, Unix ms),
///   `t` (the client's token) and `m` (the message or body).
/// - The core reads them through the consumer group `core` (`XREADGROUP … NOACK`: the group keeps
///   the position across core restarts), runs each as a client at the core would, and writes to
///   `{prefix}:answers:{edge}`: `n` (every request of that edge up to `n` has been taken), and for
///   each answer `a` (its number, increasing), `c` and `m` (the message), plus `s` (the HTTP
///   status) for an orders request.
/// - A request the core has not taken by its deadline minus ``takeMargin`` is never run; the
///   edge answers it `unavailable` at its deadline unless it was taken. A taken request's answer
///   comes as at the core: a `result` only once durable.
/// - `{prefix}:core` holds the core's epoch while it runs (refreshed every second, expiring after
///   ``heartbeatMilliseconds``): an edge refuses messages at once when it is missing.
enum ClusterWire {
    static let requestGroup = "core"
    /// How long a request may wait to be taken (ms).
    static let requestTimeoutMilliseconds: Int64 = 5_000
    /// The core does not take a request later than its deadline minus this (ms): its `n` then
    /// reaches the edge before the edge gives up.
    static let takeMargin: Int64 = 1_000
    static let heartbeatMilliseconds = 3_000
    /// Entries kept in the requests stream and in each answers stream.
    static let requestsLength = 100_000
    static let answersLength = 10_000

    static func requests(_ prefix: String) -> String { "\(prefix):requests" }
    static func answers(_ prefix: String, edge: String) -> String { "\(prefix):answers:\(edge)" }
    static func heartbeat(_ prefix: String) -> String { "\(prefix):core" }
    /// A hash: each edge's ``EdgeReport``, written every second.
    static func edges(_ prefix: String) -> String { "\(prefix):edges" }

    /// What an edge says of itself every second: when (Unix ms), how old the newest message was
    /// when it took it (ms), and where it stands in each stream it follows. As text:
    /// `at lagMs epoch/room/audience/seq …`.
    struct EdgeReport: Equatable {
        struct Position: Equatable {
            var epoch: String
            var room: String
            var audience: Audience
            var seq: UInt64
        }

        var at: Int64
        var lagMilliseconds: Int64
        var positions: [Position]

        init(at: Int64, lagMilliseconds: Int64, positions: [Position]) {
            self.at = at
            self.lagMilliseconds = lagMilliseconds
            self.positions = positions
        }

        init?(_ text: String) {
            let words = text.split(separator: " ")
            guard words.count >= 2, let at = Int64(words[0]), let lag = Int64(words[1]) else { return nil }
            self.at = at
            lagMilliseconds = lag
            positions = words.dropFirst(2).compactMap { word in
                let parts = word.split(separator: "/")
                guard parts.count == 4, let audience = Audience.allCases.first(where: { "\($0)" == parts[2] }), let seq = UInt64(parts[3]) else { return nil }
                return Position(epoch: String(parts[0]), room: String(parts[1]), audience: audience, seq: seq)
            }
        }

        var text: String {
            ([String(at), String(lagMilliseconds)] + positions.map { "\($0.epoch)/\($0.room)/\($0.audience)/\($0.seq)" })
                .joined(separator: " ")
        }
    }

    /// A stream entry's fields (`[name, value, …]`) by one-byte name.
    static func fields(_ pairs: [RESPValue]) -> [UInt8: [UInt8]] {
        var fields: [UInt8: [UInt8]] = [:]
        var index = 0
        while index + 1 < pairs.count {
            if case .bulkString(let name) = pairs[index], name.count == 1, case .bulkString(let value) = pairs[index + 1] {
                fields[name[0]] = value
            }
            index += 2
        }
        return fields
    }

    static func integer(_ bytes: [UInt8]?) -> Int64? {
        bytes.flatMap { Int64(String(decoding: $0, as: UTF8.self)) }
    }
}

/// The core's half of clients at edges: takes what edges wrote to `{prefix}:requests`, runs
/// each message as a ``RoomSession`` would (same state machine, same executor, the commands of
/// one client in the order sent) and each orders request as `POST /v1/orders` would, and writes
/// the answers back to the edge's answers stream, pipelined. Keeps the heartbeat key alive.
/// All on one loop.
final class ClusterInbox: @unchecked Sendable {
    /// Counters for `/metrics`.
    final class Stats: Sendable {
        let taken = Atomic<Int>(0)
        let expired = Atomic<Int>(0)
        let answers = Atomic<Int>(0)
        let dropped = Atomic<Int>(0)
        let clients = Atomic<Int>(0)
    }

    /// A client of an edge, as the core knows it.
    private final class Client {
        let token: String
        var machine: RoomSession.StateMachine
        let ordering: CommandOrdering
        var lastUsed: UInt64

        init(token: String, machine: RoomSession.StateMachine, ordering: CommandOrdering, now: UInt64) {
            self.token = token
            self.machine = machine
            self.ordering = ordering
            lastUsed = now
        }
    }

    private struct Answer {
        let edge: String
        let client: UInt64
        let payload: String
        let status: Int?
        /// Increasing from one answer to the next, across restarts: the edge ignores an answer
        /// at or below the last it took (one sent again after a lost connection).
        let number: Int64
    }

    private struct ClientKey: Hashable {
        let edge: String
        let client: UInt64
    }

    let stats = Stats()
    private let settings: ClusterSettings
    private let epoch: String
    private let loop: EventLoop
    private let shared: RoomSession.SharedServices
    private let reader: RedisClient
    private let writer: RedisClient
    /// Clients beyond this many: the longest idle go.
    private let maximumClients: Int
    private let streams: StreamHub
    /// The edges' last reports (``ClusterWire/edgeReport``), read every second.
    private let reports = Mutex<[String: ClusterWire.EdgeReport]>([:])
    // Loop-confined.
    private var clients: [ClientKey: Client] = [:]
    private var answers: [Answer] = []
    /// The highest request number taken per edge, not yet written.
    private var taken: [String: Int64] = [:]
    private var isWriting = false
    /// The last answer's number: starts at the start time (ms) × 10⁶, so a restarted core's
    /// answers count on from above the previous run's.
    private var answerNumber = Int64(Date().timeIntervalSince1970 * 1000) * 1_000_000
    private var isReading = false
    private var isGroupReady = false
    private var isStopped = false

    init(settings: ClusterSettings, epoch: String, loop: EventLoop, redisTLS: TLSClientContext? = nil,
         services: RoomSession.SharedServices, streams: StreamHub, maximumClients: Int = 100_000) {
        self.settings = settings
        self.streams = streams
        self.epoch = epoch
        self.loop = loop
        shared = services
        self.maximumClients = maximumClients
        reader = RedisClient(url: settings.redis, loop: loop, tls: redisTLS)
        writer = RedisClient(url: settings.redis, loop: loop, tls: redisTLS)
        // Longer than the read's BLOCK.
        reader.replyTimeout = 10_000
    }

    func start() {
        loop.execute { [self] in
            reader.onStateChange = { [weak self] state in
                guard let self else { return }
                self.isReading = false
                self.isGroupReady = false
                if state == .ready { self.read() }
            }
            writer.onStateChange = { [weak self] state in
                guard let self, state == .ready else { return }
                self.heartbeat()
                self.flush()
            }
            reader.start()
            writer.start()
            scheduleHeartbeat()
            scheduleIdleSweep()
        }
    }

    func stop() {
        loop.execute { [self] in
            isStopped = true
            // The heartbeat goes at once: edges refuse new messages instead of waiting for a deadline.
            if writer.state == .ready { writer.send(["DEL", ClusterWire.heartbeat(settings.prefix)]) { _ in } }
            reader.stop()
            loop.schedule(afterMilliseconds: 100) { [writer] in writer.stop() }
        }
    }

    // MARK: - Heartbeat

    private func scheduleHeartbeat() {
        loop.schedule(afterMilliseconds: 1_000) { [weak self] in
            guard let self, !self.isStopped else { return }
            self.heartbeat()
            self.scheduleHeartbeat()
        }
    }

    private func heartbeat() {
        guard !isStopped, writer.state == .ready else { return }
        writer.send(["SET", ClusterWire.heartbeat(settings.prefix), epoch, "PX", String(ClusterWire.heartbeatMilliseconds)]) { _ in }
        writer.send(["HGETALL", ClusterWire.edges(settings.prefix)]) { [weak self] result in
            guard let self, case .success(let value) = result, let pairs = value.elements else { return }
            var reports: [String: ClusterWire.EdgeReport] = [:]
            var gone: [String] = []
            let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
            var index = 0
            while index + 1 < pairs.count {
                if let edge = pairs[index].string, let text = pairs[index + 1].string {
                    if let report = ClusterWire.EdgeReport(text), report.at >= nowMs - 10_000 {
                        reports[edge] = report
                    } else {
                        gone.append(edge)
                    }
                }
                index += 2
            }
            self.reports.withLock { $0 = reports }
            // An edge silent for 10 s is gone (killed, or stopped): its line goes too.
            if !gone.isEmpty { self.writer.send(["HDEL", ClusterWire.edges(self.settings.prefix)] + gone) { _ in } }
        }
    }

    /// Each edge's lag behind this core (any thread): messages it has yet to take (its last
    /// report against the streams now), and how old the newest message was when it took it,
    /// plus the report's age when it is behind.
    func edgeLags() -> [(edge: String, messages: Int, milliseconds: Int)] {
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        return reports.withLock { $0 }.sorted { $0.key < $1.key }.map { edge, report in
            var behind = 0
            for position in report.positions where position.epoch == epoch {
                let current = streams.position(room: position.room, audience: position.audience) ?? position.seq
                behind += Int(current > position.seq ? current - position.seq : 0)
            }
            if report.positions.contains(where: { $0.epoch != epoch }) { behind = max(behind, 1) }
            let milliseconds = behind == 0 ? 0 : Int(report.lagMilliseconds + max(0, nowMs - report.at))
            return (edge, behind, milliseconds)
        }
    }

    /// Every minute: clients idle for 15 minutes go (an edge that died never said they left).
    private func scheduleIdleSweep() {
        loop.schedule(afterMilliseconds: 60_000) { [weak self] in
            guard let self, !self.isStopped else { return }
            let cutoff = Posix.monotonicMilliseconds() &- 15 * 60_000
            self.clients = self.clients.filter { $0.value.lastUsed >= cutoff }
            self.stats.clients.store(self.clients.count, ordering: .relaxed)
            self.scheduleIdleSweep()
        }
    }

    // MARK: - Reading requests

    private func read() {
        guard !isStopped, !isReading, reader.state == .ready else { return }
        isReading = true
        let stream = ClusterWire.requests(settings.prefix)
        guard isGroupReady else {
            // From the stream's start when the group is new: whatever is there and still in time runs.
            reader.send(["XGROUP", "CREATE", stream, ClusterWire.requestGroup, "0", "MKSTREAM"]) { [weak self] result in
                guard let self else { return }
                self.isReading = false
                switch result {
                case .success:
                    self.isGroupReady = true
                case .failure(.server(let message)) where message.hasPrefix("BUSYGROUP"):
                    self.isGroupReady = true  // made before
                case .failure(.server(let message)):
                    Log.event(.error, "cluster_inbox", ["reason": String(message.prefix(200)), "retryMs": "1000"])
                    self.isReading = true
                    self.loop.schedule(afterMilliseconds: 1_000) { [weak self] in
                        self?.isReading = false
                        self?.read()
                    }
                    return
                case .failure:
                    return  // read() again when ready
                }
                self.read()
            }
            return
        }
        reader.send(["XREADGROUP", "GROUP", ClusterWire.requestGroup, "core", "COUNT", "512", "BLOCK", "1000", "NOACK",
                     "STREAMS", stream, ">"]) { [weak self] result in
            guard let self else { return }
            self.isReading = false
            switch result {
            case .success(let value):
                self.take(value)
                self.read()
            case .failure(.server(let message)):
                // NOGROUP: Redis lost the stream (restarted empty): make the group again.
                self.isGroupReady = false
                Log.event(.warning, "cluster_inbox", ["reason": String(message.prefix(200))])
                self.loop.schedule(afterMilliseconds: 100) { [weak self] in self?.read() }
            case .failure:
                break  // read() again when ready
            }
        }
    }

    private func take(_ reply: RESPValue) {
        guard let streams = reply.elements else { return }  // BLOCK timed out
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        for stream in streams {
            guard let parts = stream.elements, parts.count == 2, let entries = parts[1].elements else { continue }
            for entry in entries {
                guard let pair = entry.elements, pair.count == 2, let pairs = pair[1].elements else { continue }
                handle(ClusterWire.fields(pairs), nowMs: nowMs)
            }
        }
        flush()
    }

    /// One request.
    private func handle(_ fields: [UInt8: [UInt8]], nowMs: Int64) {
        guard let edgeBytes = fields[UInt8(ascii: "e")], let number = ClusterWire.integer(fields[UInt8(ascii: "n")]),
              let client = ClusterWire.integer(fields[UInt8(ascii: "c")]).map({ UInt64(truncatingIfNeeded: $0) }),
              let kind = fields[UInt8(ascii: "k")]?.first
        else {
            Log.event(.warning, "cluster_request_malformed", ["fields": fields.keys.map { String(UnicodeScalar($0)) }.sorted().joined()])
            return
        }
        let edge = String(decoding: edgeBytes, as: UTF8.self)
        let key = ClientKey(edge: edge, client: client)
        if kind == UInt8(ascii: "x") {
            clients[key] = nil
            stats.clients.store(clients.count, ordering: .relaxed)
            taken[edge] = max(taken[edge] ?? 0, number)
            return
        }
        let deadline = ClusterWire.integer(fields[UInt8(ascii: "d")]) ?? 0
        taken[edge] = max(taken[edge] ?? 0, number)
        guard nowMs <= deadline - ClusterWire.takeMargin else {
            // The edge answers it `unavailable` at its deadline: never run.
            stats.expired.add(1, ordering: .relaxed)
            return
        }
        stats.taken.add(1, ordering: .relaxed)
        let token = fields[UInt8(ascii: "t")].map { String(decoding: $0, as: UTF8.self) } ?? ""
        let payload = fields[UInt8(ascii: "m")] ?? []
        if kind == UInt8(ascii: "h") {
            orders(edge: edge, request: client, token: token, body: payload)
            return
        }
        guard let known = self.client(key, token: token) else { return }
        known.lastUsed = Posix.monotonicMilliseconds()
        let reply: (SharedBytes) -> Void = { [self] frame in answer(edge: edge, client: client, frame: frame) }
        payload.withUnsafeBytes { bytes in
            switch known.ordering.admit(.text, bytes) {
            case .now: known.ordering.process(.text, bytes, machine: &known.machine, reply: reply)
            case .held: break
            case .refused: reply(CommandOrdering.busyFrame())
            }
        }
    }

    /// The client for `key`, made on its first message (its token checked here too: the edge
    /// checked it at connect, the core does not take its word for it).
    private func client(_ key: ClientKey, token: String) -> Client? {
        if let known = clients[key], known.token == token { return known }
        let claims: TokenClaims
        do {
            claims = try shared.value.tokens.verify(token, now: Int64(Date().timeIntervalSince1970))
        } catch {
            answer(edge: key.edge, client: key.client, frame: errorFrame(id: nil, ProtocolError(.unauthorized, "\(error)")))
            return nil
        }
        if clients.count >= maximumClients, let oldest = clients.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
            clients[oldest] = nil
        }
        let edge = key.edge, id = key.client
        let peer = RoomPeer(
            send: { [weak self] frame in self?.loop.execute { self?.answer(edge: edge, client: id, frame: frame) } },
            changeCompleted: { [weak self] in self?.loop.execute { self?.changeCompleted(key) } })
        let made = Client(
            token: token, machine: RoomSession.StateMachine(claims: claims),
            ordering: CommandOrdering(executor: RoomExecutor(shared: shared, claims: claims, peer: peer, loop: loop)),
            now: Posix.monotonicMilliseconds())
        clients[key] = made
        stats.clients.store(clients.count, ordering: .relaxed)
        return made
    }

    private func changeCompleted(_ key: ClientKey) {
        guard let known = clients[key] else { return }
        known.ordering.changeCompleted(machine: &known.machine) { [self] frame in answer(edge: key.edge, client: key.client, frame: frame) }
        flush()
    }

    /// An orders request from an edge, answered as `POST /v1/orders` is.
    private func orders(edge: String, request: UInt64, token: String, body: [UInt8]) {
        let services = shared.value
        let route = OrdersAPI.handle(token: token, body: body, rooms: services.rooms, core: services.core,
                                     tokens: services.tokens, metrics: services.metrics)
        switch route {
        case .respond(let response):
            answer(edge: edge, client: request, response: response)
        case .deferred(let start):
            start(Responder { [weak self] response in
                self?.loop.execute { self?.answer(edge: edge, client: request, response: response) }
            })
        case .upgrade:
            break
        }
    }

    // MARK: - Writing answers

    private func answer(edge: String, client: UInt64, frame: SharedBytes) {
        answerNumber += 1
        answers.append(Answer(edge: edge, client: client, payload: ClusterPublisher.payload(of: frame), status: nil, number: answerNumber))
        flushSoon()
    }

    private func answer(edge: String, client: UInt64, response: HTTPResponse) {
        answerNumber += 1
        answers.append(Answer(edge: edge, client: client, payload: String(decoding: response.body, as: UTF8.self),
                              status: Int(response.status.code), number: answerNumber))
        flushSoon()
    }

    private var isFlushScheduled = false

    /// Answers made inside one loop turn go out together.
    private func flushSoon() {
        guard !isFlushScheduled else { return }
        isFlushScheduled = true
        loop.execute { [weak self] in
            self?.isFlushScheduled = false
            self?.flush()
        }
    }

    /// Sends what waits in one pipeline, one at a time. While Redis is away answers wait (up to
    /// 100,000: the oldest go first, counted; their edges have sent those clients away).
    private func flush() {
        guard writer.state == .ready, !isWriting, !answers.isEmpty || !taken.isEmpty else {
            if answers.count > 100_000 {
                let dropped = answers.count - 100_000
                answers.removeFirst(dropped)
                stats.dropped.add(dropped, ordering: .relaxed)
            }
            return
        }
        let batch = answers.prefix(4096)
        let marks = taken
        taken.removeAll(keepingCapacity: true)
        var commands: [[String]] = []
        var edges: Set<String> = []
        let answersLength = String(ClusterWire.answersLength)
        for (edge, number) in marks {
            commands.append(["XADD", ClusterWire.answers(settings.prefix, edge: edge), "MAXLEN", "~", answersLength, "*", "n", String(number)])
            edges.insert(edge)
        }
        for answer in batch {
            var command = ["XADD", ClusterWire.answers(settings.prefix, edge: answer.edge), "MAXLEN", "~", answersLength, "*",
                           "a", String(answer.number), "c", String(answer.client), "m", answer.payload]
            if let status = answer.status { command += ["s", String(status)] }
            commands.append(command)
            edges.insert(answer.edge)
        }
        for edge in edges { commands.append(["PEXPIRE", ClusterWire.answers(settings.prefix, edge: edge), "3600000"]) }
        isWriting = true
        let count = batch.count
        writer.pipeline(commands) { [weak self] result in
            guard let self else { return }
            self.isWriting = false
            if case .success = result {
                self.answers.removeFirst(count)
                self.stats.answers.add(count, ordering: .relaxed)
            } else {
                // Sent again when ready (an `n` again too: the highest is what counts).
                for (edge, number) in marks { self.taken[edge] = max(self.taken[edge] ?? 0, number) }
            }
            self.flush()
        }
    }
}
