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
///   `{prefix}:answers:{edge}`: `n` (every request of that edge up to `n` has been taken or is
///   listed in `r`), `r` (the numbers it did not run: `a-b,c-d`: too late, or never seen: lost
///   on the way, or sent before this core started), and for each answer `a` (its number,
///   increasing), `c` and `m` (the message), plus `s` (the HTTP status) for an orders request.
/// - A request the core has not taken by its deadline minus ``takeMargin`` is never run; the
///   edge answers it `unavailable` when the core says so (`r`), or at its deadline unless it was
///   taken. A taken request's answer comes as at the core: a `result` only once durable.
/// - A core starts reading at the stream's end: what was sent before it ran is not run (an edge
///   sends its clients away when the core's heartbeat goes, and they send again).
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
    /// when it took it (ms), where it stands in each stream it follows, and its connections per
    /// room (the console's `presence` counts every node's). As text: see ``init(_:)``.
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
        /// The edge's own connections per room (rooms with none left out).
        var presence: [String: Presence.Snapshot]

        init(at: Int64, lagMilliseconds: Int64, positions: [Position], presence: [String: Presence.Snapshot] = [:]) {
            self.at = at
            self.lagMilliseconds = lagMilliseconds
            self.positions = positions
            self.presence = presence
        }

        /// Parses the words `{at} {lag}`, then `{epoch}/{room}/{audience}/{seq}` (a position),
        /// `p/{room}/{per role, '.'-separated}/{per page}` (connections) and
        /// `f/{room}/{role index}/{at}/{page or -}/{subject, hex}/{reason, hex}` (a refusal); a word
        /// it does not know is skipped.
        init?(_ text: String) {
            let words = text.split(separator: " ")
            guard words.count >= 2, let at = Int64(words[0]), let lag = Int64(words[1]) else { return nil }
            self.at = at
            lagMilliseconds = lag
            positions = []
            presence = [:]
            for word in words.dropFirst(2) {
                let parts = word.split(separator: "/", omittingEmptySubsequences: false)
                if parts.count == 4, parts[0] == "p" {
                    let roles = parts[2].split(separator: ".").compactMap { Int($0) }
                    let pages = parts[3].split(separator: ".").compactMap { Int($0) }
                    guard roles.count == Role.allCases.count, pages.count == PageKind.allCases.count,
                          (roles + pages).allSatisfy({ (0...10_000_000).contains($0) })
                    else { continue }
                    presence[String(parts[1]), default: Presence.Snapshot()].roles = roles
                    presence[String(parts[1]), default: Presence.Snapshot()].pages = pages
                } else if parts.count == 7, parts[0] == "f" {
                    guard let role = Int(parts[2]), Role.allCases.indices.contains(role), let when = Int64(parts[3]),
                          let subject = Self.unhex(parts[5]), let reason = Self.unhex(parts[6])
                    else { continue }
                    let page = UInt8(parts[4]).flatMap(PageKind.init(rawValue:))
                    presence[String(parts[1]), default: Presence.Snapshot()].refused[role] =
                        Presence.Refusal(reason: reason, at: when, subject: subject, page: page)
                } else if parts.count == 4, let audience = Audience.allCases.first(where: { "\($0)" == parts[2] }), let seq = UInt64(parts[3]) {
                    positions.append(Position(epoch: String(parts[0]), room: String(parts[1]), audience: audience, seq: seq))
                }
            }
        }

        var text: String {
            var words = [String(at), String(lagMilliseconds)] + positions.map { "\($0.epoch)/\($0.room)/\($0.audience)/\($0.seq)" }
            for (room, snapshot) in presence.sorted(by: { $0.key < $1.key }) {
                words.append("p/\(room)/" + snapshot.roles.map(String.init).joined(separator: ".") + "/"
                             + snapshot.pages.map(String.init).joined(separator: "."))
                for (role, refusal) in snapshot.refused.enumerated() {
                    guard let refusal else { continue }
                    words.append("f/\(room)/\(role)/\(refusal.at)/\(refusal.page.map { String($0.rawValue) } ?? "-")/"
                                 + Self.hex(refusal.subject) + "/" + Self.hex(refusal.reason))
                }
            }
            return words.joined(separator: " ")
        }

        static func hex(_ text: String) -> String {
            let digits = Array("0123456789abcdef".utf8)
            var bytes: [UInt8] = []
            for byte in text.utf8.prefix(512) {
                bytes.append(digits[Int(byte >> 4)])
                bytes.append(digits[Int(byte & 0xF)])
            }
            return String(decoding: bytes, as: UTF8.self)
        }

        static func unhex(_ text: Substring) -> String? {
            let digits = Array(text.utf8)
            guard digits.count % 2 == 0 else { return nil }
            var bytes: [UInt8] = []
            var index = 0
            while index < digits.count {
                guard let high = Self.nibble(digits[index]), let low = Self.nibble(digits[index + 1]) else { return nil }
                bytes.append(high << 4 | low)
                index += 2
            }
            return String(decoding: bytes, as: UTF8.self)
        }

        private static func nibble(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            default: nil
            }
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
    /// The rooms each edge has connections in, as last applied to the presence (loop-confined).
    private var presenceRooms: [String: Set<String>] = [:]
    // Loop-confined.
    private var clients: [ClientKey: Client] = [:]
    private var answers: [Answer] = []
    /// The highest request number taken per edge, not yet written.
    private var taken: [String: Int64] = [:]
    /// The numbers not run per edge (too late, or never seen), not yet written.
    private var notRun: [String: [ClosedRange<Int64>]] = [:]
    /// The next request number expected from each edge, and when it was last heard from (monotonic ms).
    private var expected: [String: (next: Int64, seen: UInt64)] = [:]
    /// Each read's generation: a read or retry of an earlier connection does not go on.
    private var readGeneration = 0
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
                self.readGeneration += 1
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
            self.applyPresence(reports)
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
            let silentFor = min(max(0, nowMs &- report.at), 86_400_000)
            let milliseconds = behind == 0 ? 0 : Int(min(max(0, report.lagMilliseconds), 86_400_000) + silentFor)
            return (edge, behind, milliseconds)
        }
    }

    /// Adds the edges' connections to each room's presence (consoles see them within about two
    /// seconds); an edge that stopped reporting takes its own away.
    private func applyPresence(_ reports: [String: ClusterWire.EdgeReport]) {
        let rooms = shared.value.rooms
        let now = Posix.monotonicMilliseconds()
        var current: [String: Set<String>] = [:]
        for (edge, report) in reports {
            for (room, snapshot) in report.presence where rooms.registry.hasRoom(room) {
                current[edge, default: []].insert(room)
                rooms.publishPresence(room: room, rooms.presence.setRemote(room: room, node: edge, snapshot, now: now), loop: loop)
            }
        }
        for (edge, had) in presenceRooms {
            for room in had.subtracting(current[edge] ?? []) {
                rooms.publishPresence(room: room, rooms.presence.setRemote(room: room, node: edge, nil, now: now), loop: loop)
            }
        }
        presenceRooms = current
    }

    /// Every minute: clients idle for 15 minutes go (an edge that died never said they left).
    private func scheduleIdleSweep() {
        loop.schedule(afterMilliseconds: 60_000) { [weak self] in
            guard let self, !self.isStopped else { return }
            let cutoff = Posix.monotonicMilliseconds() &- 15 * 60_000
            self.clients = self.clients.filter { $0.value.lastUsed >= cutoff }
            self.expected = self.expected.filter { $0.value.seen >= cutoff }
            self.stats.clients.store(self.clients.count, ordering: .relaxed)
            self.scheduleIdleSweep()
        }
    }

    // MARK: - Reading requests

    private func read() {
        guard !isStopped, !isReading, reader.state == .ready else { return }
        isReading = true
        let stream = ClusterWire.requests(settings.prefix)
        let generation = readGeneration
        guard isGroupReady else {
            // At the stream's end: what was sent before this core ran (or while Redis was away and
            // lost it) is not run; the edges learn it from `r`, or at the deadline.
            reader.pipeline([["XGROUP", "CREATE", stream, ClusterWire.requestGroup, "$", "MKSTREAM"],
                             ["XGROUP", "SETID", stream, ClusterWire.requestGroup, "$"]]) { [weak self] result in
                guard let self, generation == self.readGeneration else { return }
                self.isReading = false
                switch result {
                case .success(let replies):
                    if case .error(let message)? = replies.first, !message.hasPrefix("BUSYGROUP") {
                        Log.event(.error, "cluster_inbox", ["reason": String(message.prefix(200)), "retryMs": "1000"])
                        self.isReading = true
                        self.loop.schedule(afterMilliseconds: 1_000) { [weak self] in
                            guard let self, generation == self.readGeneration else { return }
                            self.isReading = false
                            self.read()
                        }
                        return
                    }
                    self.isGroupReady = true
                case .failure:
                    return  // read() again when ready
                }
                self.read()
            }
            return
        }
        reader.send(["XREADGROUP", "GROUP", ClusterWire.requestGroup, "core", "COUNT", "512", "BLOCK", "1000", "NOACK",
                     "STREAMS", stream, ">"]) { [weak self] result in
            guard let self, generation == self.readGeneration else { return }
            self.isReading = false
            switch result {
            case .success(let value):
                self.take(value)
                self.read()
            case .failure(.server(let message)):
                // NOGROUP: Redis lost the stream (restarted empty): make the group again.
                self.isGroupReady = false
                Log.event(.warning, "cluster_inbox", ["reason": String(message.prefix(200))])
                self.isReading = true
                self.loop.schedule(afterMilliseconds: 100) { [weak self] in
                    guard let self, generation == self.readGeneration else { return }
                    self.isReading = false
                    self.read()
                }
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
        // Numbers come in order from an edge: one below the next expected was seen (a stream
        // read again); one above says those between were lost, or sent before this core ran.
        let next = expected[edge]?.next ?? 1
        guard number >= next else { return }
        if number > next { markNotRun(edge, next...(number - 1)) }
        expected[edge] = (number + 1, Posix.monotonicMilliseconds())
        taken[edge] = max(taken[edge] ?? 0, number)
        if kind == UInt8(ascii: "x") {
            clients[key] = nil
            stats.clients.store(clients.count, ordering: .relaxed)
            return
        }
        guard kind == UInt8(ascii: "m") || kind == UInt8(ascii: "h") else {
            Log.event(.warning, "cluster_request_malformed", ["edge": edge, "kind": String(UnicodeScalar(kind))])
            markNotRun(edge, number...number)
            return
        }
        let deadline = ClusterWire.integer(fields[UInt8(ascii: "d")]) ?? 0
        guard nowMs + ClusterWire.takeMargin <= deadline else {
            // Too late: never run; the edge answers it `unavailable` when it reads `r`.
            stats.expired.add(1, ordering: .relaxed)
            markNotRun(edge, number...number)
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

    /// The client for `key`, made on its first message (its token's signature checked here too:
    /// the core does not take the edge's word for it).
    private func client(_ key: ClientKey, token: String) -> Client? {
        if let known = clients[key], known.token == token { return known }
        let claims: TokenClaims
        do {
            // Its signature, not its expiry: the edge checked that at connect, and a connection at
            // the core is not sent away when its token expires either.
            claims = try shared.value.tokens.verify(token, now: .min)
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

    private func markNotRun(_ edge: String, _ range: ClosedRange<Int64>) {
        var ranges = notRun[edge] ?? []
        if let last = ranges.last, last.upperBound + 1 == range.lowerBound {
            ranges[ranges.count - 1] = last.lowerBound...range.upperBound
        } else {
            ranges.append(range)
        }
        notRun[edge] = ranges
        flushSoon()
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
        guard writer.state == .ready, !isWriting, !answers.isEmpty || !taken.isEmpty || !notRun.isEmpty else {
            if answers.count > 100_000, !isWriting {
                let dropped = answers.count - 100_000
                answers.removeFirst(dropped)
                stats.dropped.add(dropped, ordering: .relaxed)
            }
            return
        }
        let batch = answers.prefix(4096)
        let marks = taken, skipped = notRun
        taken.removeAll(keepingCapacity: true)
        notRun.removeAll(keepingCapacity: true)
        var commands: [[String]] = []
        var edges: Set<String> = []
        let answersLength = String(ClusterWire.answersLength)
        for (edge, number) in marks {
            var command = ["XADD", ClusterWire.answers(settings.prefix, edge: edge), "MAXLEN", "~", answersLength, "*", "n", String(number)]
            if let ranges = skipped[edge] { command += ["r", ranges.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",")] }
            commands.append(command)
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
            if case .success(let replies) = result, !replies.contains(where: { if case .error = $0 { true } else { false } }) {
                self.answers.removeFirst(count)
                self.stats.answers.add(count, ordering: .relaxed)
                self.flush()
                return
            }
            // Sent again (an `n` again too: the highest is what counts; an answer Redis had taken
            // is ignored by its edge as one it has seen): when ready, or a second after a refusal.
            for (edge, number) in marks { self.taken[edge] = max(self.taken[edge] ?? 0, number) }
            for (edge, ranges) in skipped { self.notRun[edge] = ranges + (self.notRun[edge] ?? []) }
            if case .success(let replies) = result {
                let refusal = replies.lazy.compactMap { if case .error(let message) = $0 { message } else { nil } }.first ?? ""
                Log.event(.error, "cluster_answers_refused", ["reason": String(refusal.prefix(200)), "retryMs": "1000"])
                self.isWriting = true
                self.loop.schedule(afterMilliseconds: 1_000) { [weak self] in
                    self?.isWriting = false
                    self?.flush()
                }
                return
            }
            self.flush()
        }
    }
}
