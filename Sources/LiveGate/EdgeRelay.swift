import Foundation
import LiveGateCore
import LiveGateHTTP
import LiveGatePOSIX
import LiveGateRedis
import LiveGateTLS
import LiveGateWebSocket
import Synchronization

/// An edge's link to the core for what its clients send: each message, and each
/// `POST /v1/orders`, goes to `{prefix}:requests` (``ClusterWire``); the answers come back on
/// this edge's answers stream to the connection, or the request, that waits. A message the core
/// did not take by its deadline is answered `unavailable`; while Redis or the core is away,
/// messages are refused at once, never queued out of sight. All on one loop.
final class EdgeRelay: @unchecked Sendable {
    /// Counters for `/metrics`.
    final class Stats: Sendable {
        let forwarded = Atomic<Int>(0)
        let refused = Atomic<Int>(0)
        let timedOut = Atomic<Int>(0)
        let answered = Atomic<Int>(0)
    }

    private struct Pending {
        let number: Int64
        let client: UInt64
        /// Unix ms: not taken by then, it is answered `unavailable`.
        let deadline: Int64
        /// A message's bytes (its `id` is read from them only if it times out).
        let message: [UInt8]?
        /// An orders request's responder.
        let responder: Responder?
    }

    /// This edge's id in the cluster: the node id, or host and pid, and a random part (a restarted
    /// edge is a new one: answers meant for the one before never reach it).
    let edge: String
    let stats = Stats()
    private let settings: ClusterSettings
    private let loop: EventLoop
    private let sender: RedisClient
    private let reader: RedisClient
    // Loop-confined.
    private var nextNumber: Int64 = 0
    private var nextRequest: UInt64 = 0
    private var outgoing: [[String]] = []
    private var pending: [Pending] = []
    private var pendingStart = 0
    /// Messages not yet taken by the core, per connection (at most ``maximumPendingPerClient``).
    private var pendingPerClient: [UInt64: Int] = [:]
    /// The clients that sent a message, by connection id.
    private var connections: [UInt64: ConnectionHandle] = [:]
    /// Orders requests the core took, waiting for their answer (until the deadline).
    private var waitingHTTP: [UInt64: (responder: Responder, deadline: Int64)] = [:]
    private var isSending = false
    private var isReading = false
    private var lastAnswerID = "0-0"
    private var lastAnswer: Int64 = 0
    private var coreEpoch: String?
    private var wasReaderReady = false
    private var isStopped = false

    /// How long a taken orders request may wait for its answer (ms): the core answers once the
    /// orders are durable, which takes milliseconds unless its disk stalls.
    static let answerTimeoutMilliseconds: Int64 = 30_000
    /// Messages one connection may have on their way to the core; one more gets `busy`, as a
    /// core's own connection does with that many commands held.
    static let maximumPendingPerClient = 256

    init(settings: ClusterSettings, loop: EventLoop, redisTLS: TLSClientContext? = nil) {
        self.settings = settings
        self.loop = loop
        let base = settings.node ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        edge = base + "-" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
        sender = RedisClient(url: settings.redis, loop: loop, tls: redisTLS)
        reader = RedisClient(url: settings.redis, loop: loop, tls: redisTLS)
    }

    private var answersKey: String { ClusterWire.answers(settings.prefix, edge: edge) }

    func start() {
        loop.execute { [self] in
            sender.onStateChange = { [weak self] state in
                guard let self else { return }
                if state == .ready {
                    self.checkCore()
                    self.sendIfIdle()
                } else {
                    self.coreEpoch = nil
                }
            }
            reader.onStateChange = { [weak self] state in
                guard let self else { return }
                self.isReading = false
                if state == .ready {
                    self.wasReaderReady = true
                    self.read()
                } else if self.wasReaderReady, !self.isStopped {
                    self.wasReaderReady = false
                    self.interrupted("this edge lost its link to Redis")
                }
            }
            sender.start()
            reader.start()
            tick()
        }
    }

    func stop() {
        loop.execute { [self] in
            isStopped = true
            let why = "this edge is shutting down; send the orders to another node with the same orderIds (each applies once)"
            for request in pending[pendingStart...] where request.responder != nil { unavailable(request, why) }
            pending.removeAll()
            pendingStart = 0
            failWaitingHTTP(why)
            sender.stop()
            reader.stop()
        }
    }

    // MARK: - From clients (any loop)

    /// A client's message, for the core.
    func forward(message: [UInt8], token: String, from connection: ConnectionHandle) {
        loop.execute { [self] in
            if let refusal {
                stats.refused.add(1, ordering: .relaxed)
                answer(connection, errorFrame(id: Self.id(of: message), ProtocolError(.unavailable, refusal)))
                return
            }
            guard pendingPerClient[connection.id, default: 0] < Self.maximumPendingPerClient else {
                answer(connection, CommandOrdering.busyFrame())
                return
            }
            connections[connection.id] = connection
            pendingPerClient[connection.id, default: 0] += 1
            enqueue(kind: "m", client: connection.id, token: token, payload: message, responder: nil)
        }
    }

    /// A client that sent messages left: the core forgets it.
    func left(_ connection: ConnectionHandle) {
        loop.execute { [self] in
            guard connections.removeValue(forKey: connection.id) != nil, sender.state == .ready else { return }
            nextNumber += 1
            outgoing.append(command(kind: "x", number: nextNumber, client: connection.id, token: "", payload: []))
            sendIfIdle()
        }
    }

    /// `POST /v1/orders` at an edge: the token is checked here (a refusal costs no round trip),
    /// the orders go to the core, the answer is the core's.
    static func orders(_ head: HTTPRequestHead, body: [UInt8], tokens: TokenAuthority, relay: EdgeRelay) -> Route {
        guard head.method == "POST" else {
            var headers = HTTPHeaders()
            headers.add(name: "Allow", value: "POST")
            return .respond(.text(.methodNotAllowed, "use POST with a JSON order or array of orders", headers: headers))
        }
        guard let token = bearerToken(head) ?? head.queryParameter("token") else {
            return .respond(OrdersAPI.errorResponse(.unauthorized, ProtocolError(.unauthorized, TokenError.missing.description)))
        }
        do {
            let claims = try tokens.verify(token, now: Int64(Date().timeIntervalSince1970))
            guard claims.role == .connector || claims.role == .service else {
                return .respond(OrdersAPI.errorResponse(.forbidden, ProtocolError(.forbidden, "role \(claims.role.rawValue) may not post orders")))
            }
        } catch {
            return .respond(OrdersAPI.errorResponse(.unauthorized, ProtocolError(.unauthorized, error.description)))
        }
        // The body goes to Redis as text: bytes that are not UTF-8 are refused here, as the core
        // refuses them, not changed on the way.
        guard String(validating: body, as: UTF8.self) != nil else {
            return .respond(OrdersAPI.errorResponse(.badRequest, ProtocolError(.badMessage, "the body is not valid UTF-8")))
        }
        return .deferred { responder in
            relay.loop.execute {
                if let refusal = relay.refusal {
                    relay.stats.refused.add(1, ordering: .relaxed)
                    responder.respond(OrdersAPI.errorResponse(.serviceUnavailable, ProtocolError(.unavailable, refusal)))
                    return
                }
                relay.nextRequest += 1
                relay.enqueue(kind: "h", client: relay.nextRequest, token: token, payload: body, responder: responder)
            }
        }
    }

    /// Why a message cannot go to the core now, or nil.
    private var refusal: String? {
        if sender.state != .ready || reader.state != .ready { return "this edge has no link to Redis; retry" }
        if coreEpoch == nil { return "the core is not running; retry" }
        return nil
    }

    private func enqueue(kind: String, client: UInt64, token: String, payload: [UInt8], responder: Responder?) {
        nextNumber += 1
        let deadline = Int64(Date().timeIntervalSince1970 * 1000) + ClusterWire.requestTimeoutMilliseconds
        outgoing.append(command(kind: kind, number: nextNumber, client: client, token: token, payload: payload, deadline: deadline))
        pending.append(Pending(number: nextNumber, client: client, deadline: deadline, message: responder == nil ? payload : nil,
                               responder: responder))
        stats.forwarded.add(1, ordering: .relaxed)
        sendIfIdle()
    }

    private func command(kind: String, number: Int64, client: UInt64, token: String, payload: [UInt8], deadline: Int64 = 0) -> [String] {
        ["XADD", ClusterWire.requests(settings.prefix), "MAXLEN", "~", String(ClusterWire.requestsLength), "*",
         "e", edge, "n", String(number), "c", String(client), "k", kind, "d", String(deadline), "t", token,
         "m", String(decoding: payload, as: UTF8.self)]
    }

    /// Writes what waits in one pipeline, one at a time. A pipeline lost with its connection is
    /// not sent again (it may have landed): its requests are answered at their deadline unless
    /// the core says it took them.
    private func sendIfIdle() {
        guard !isSending, !outgoing.isEmpty else { return }
        guard sender.state == .ready else {
            outgoing.removeAll()
            return
        }
        let batch = outgoing
        outgoing.removeAll(keepingCapacity: true)
        isSending = true
        sender.pipeline(batch) { [weak self] _ in
            guard let self else { return }
            self.isSending = false
            self.sendIfIdle()
        }
    }

    // MARK: - Answers (reader connection)

    private func read() {
        guard !isStopped, !isReading, reader.state == .ready else { return }
        isReading = true
        reader.send(["XREAD", "COUNT", "1024", "BLOCK", "1000", "STREAMS", answersKey, lastAnswerID]) { [weak self] result in
            guard let self else { return }
            self.isReading = false
            guard case .success(let value) = result else { return }  // read() again when ready
            self.take(value)
            self.read()
        }
    }

    private func take(_ reply: RESPValue) {
        guard let streams = reply.elements else { return }  // BLOCK timed out
        for stream in streams {
            guard let parts = stream.elements, parts.count == 2, let entries = parts[1].elements else { continue }
            for entry in entries {
                guard let pair = entry.elements, pair.count == 2, let id = pair[0].string, let pairs = pair[1].elements else { continue }
                lastAnswerID = id
                let fields = ClusterWire.fields(pairs)
                if let number = ClusterWire.integer(fields[UInt8(ascii: "n")]) {
                    taken(upTo: number, notRun: fields[UInt8(ascii: "r")].map(Self.ranges) ?? [])
                }
                guard let number = ClusterWire.integer(fields[UInt8(ascii: "a")]), number > lastAnswer,
                      let client = ClusterWire.integer(fields[UInt8(ascii: "c")]).map({ UInt64(truncatingIfNeeded: $0) }),
                      let message = fields[UInt8(ascii: "m")]
                else { continue }
                lastAnswer = number
                if let status = ClusterWire.integer(fields[UInt8(ascii: "s")]) {
                    guard let waiting = waitingHTTP.removeValue(forKey: client) else { continue }
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: "application/json")
                    waiting.responder.respond(HTTPResponse(status: Self.status(Int(status)),
                                                           headers: headers, body: message))
                    stats.answered.add(1, ordering: .relaxed)
                } else if let connection = connections[client] {
                    answer(connection, message.withUnsafeBytes { WebSocketFrameEncoder.makeSharedFrame(opcode: .text, payload: $0) })
                    stats.answered.add(1, ordering: .relaxed)
                }
            }
        }
    }

    /// The core took every request up to `number` but those in `notRun`, which it did not run
    /// (too late, or lost on the way): those are answered `unavailable` now.
    private func taken(upTo number: Int64, notRun: [ClosedRange<Int64>]) {
        let waitUntil = Int64(Date().timeIntervalSince1970 * 1000) + Self.answerTimeoutMilliseconds
        while pendingStart < pending.count, pending[pendingStart].number <= number {
            let request = pending[pendingStart]
            pendingStart += 1
            release(request)
            if notRun.contains(where: { $0.contains(request.number) }) {
                stats.timedOut.add(1, ordering: .relaxed)
                unavailable(request, "the core did not run this (it came too late, or was lost on the way): "
                            + "send it again (an order with the same orderId applies once)")
            } else if let responder = request.responder {
                waitingHTTP[request.client] = (responder, waitUntil)
            }
        }
        compactPending()
    }

    /// A request leaves the pending list: its connection may send one more.
    private func release(_ request: Pending) {
        guard request.responder == nil, let count = pendingPerClient[request.client] else { return }
        pendingPerClient[request.client] = count > 1 ? count - 1 : nil
    }

    private func unavailable(_ request: Pending, _ why: String) {
        let error = ProtocolError(.unavailable, why)
        if let responder = request.responder {
            responder.respond(OrdersAPI.errorResponse(.serviceUnavailable, error))
        } else if let connection = connections[request.client] {
            answer(connection, errorFrame(id: request.message.flatMap(Self.id(of:)), error))
        }
    }

    /// `a-b,c-d` (the core's `r`).
    static func ranges(_ text: [UInt8]) -> [ClosedRange<Int64>] {
        String(decoding: text, as: UTF8.self).split(separator: ",").compactMap { part in
            let bounds = part.split(separator: "-")
            guard bounds.count == 2, let low = Int64(bounds[0]), let high = Int64(bounds[1]), low <= high else { return nil }
            return low...high
        }
    }

    private func compactPending() {
        if pendingStart == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingStart = 0
        } else if pendingStart >= 1024 && pendingStart * 2 >= pending.count {
            pending.removeFirst(pendingStart)
            pendingStart = 0
        }
    }

    // MARK: - Deadlines and the core's heartbeat

    /// Every 200 ms: requests past their deadline are answered; every fifth time, the core's
    /// heartbeat is read.
    private func tick(_ count: Int = 0) {
        loop.schedule(afterMilliseconds: 200) { [weak self] in
            guard let self, !self.isStopped else { return }
            self.expire()
            if count % 5 == 0 { self.checkCore() }
            self.tick(count + 1)
        }
    }

    private func expire() {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        while pendingStart < pending.count, pending[pendingStart].deadline <= now {
            let request = pending[pendingStart]
            pendingStart += 1
            release(request)
            stats.timedOut.add(1, ordering: .relaxed)
            unavailable(request, "the core did not take this within \(ClusterWire.requestTimeoutMilliseconds / 1000) s; its effect is unknown: "
                        + "send an order again with the same orderId (it applies once), check the figures before repeating a command")
        }
        compactPending()
        for (client, waiting) in waitingHTTP where waiting.deadline <= now {
            waitingHTTP[client] = nil
            waiting.responder.respond(OrdersAPI.errorResponse(
                .gatewayTimeout, ProtocolError(.unavailable, "the core took these orders but did not answer in time; send them again with the same orderIds (each applies once)")))
        }
    }

    private func checkCore() {
        guard sender.state == .ready else { return }
        sender.send(["GET", ClusterWire.heartbeat(settings.prefix)]) { [weak self] result in
            guard let self else { return }
            guard case .success(let value) = result else { return }  // the link's loss is handled on its own
            let epoch = value.string
            if let previous = self.coreEpoch, previous != epoch {
                // The core stopped, or a new one runs: what it took and did not answer is lost
                // with it. The clients that sent are sent away, waiting orders get 503.
                self.interrupted(epoch == nil ? "the core stopped" : "the core restarted")
            }
            self.coreEpoch = epoch
        }
    }

    /// Answers may have been lost: every client that sent messages is sent away (1012; it
    /// reconnects and sends again what got no answer), every waiting orders request gets 503.
    private func interrupted(_ why: String) {
        Log.event(.warning, "edge_relay_interrupted", ["reason": why, "clients": String(connections.count),
                                                       "orders": String(waitingHTTP.count)])
        for connection in connections.values {
            connection.execute { _, connection in
                connection.close(.serviceRestart, reason: "\(why); reconnect, resend unanswered orders (same orderId), check figures before repeating commands")
            }
        }
        connections.removeAll()
        failWaitingHTTP("\(why); send the orders again with the same orderIds (each applies once)")
    }

    private func failWaitingHTTP(_ why: String) {
        for waiting in waitingHTTP.values {
            waiting.responder.respond(OrdersAPI.errorResponse(.serviceUnavailable, ProtocolError(.unavailable, why)))
        }
        waitingHTTP.removeAll()
    }

    private func answer(_ connection: ConnectionHandle, _ frame: SharedBytes) {
        connection.execute { context, connection in context.sendAtEndOfTurn(frame, to: connection) }
    }

    /// A message's `id`, when it has a good one (for an error about it).
    static func id(of message: [UInt8]) -> String? {
        guard case .object(let object)? = try? JSONValue.parse(message, maximumDepth: 32) else { return nil }
        return (try? MessageFields(object).id()) ?? nil
    }

    private static func status(_ code: Int) -> HTTPStatus {
        let known: [HTTPStatus] = [.ok, .badRequest, .unauthorized, .forbidden, .contentTooLarge, .serviceUnavailable]
        return known.first { $0.code == code } ?? HTTPStatus(code: code, phrase: "Status \(code)")
    }

    func metrics() -> String {
        var text = ""
        func metric(_ name: String, _ type: String, _ help: String, _ value: Int) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        metric("livegate_edge_requests_total", "counter", "Messages and orders requests sent to the core.", stats.forwarded.load(ordering: .relaxed))
        metric("livegate_edge_requests_refused_total", "counter", "Messages refused at once (Redis or the core away).",
               stats.refused.load(ordering: .relaxed))
        metric("livegate_edge_requests_timed_out_total", "counter", "Messages the core did not run (too late for their deadline, or lost on the way): answered unavailable.",
               stats.timedOut.load(ordering: .relaxed))
        metric("livegate_edge_answers_total", "counter", "Answers from the core delivered (to a client or request still there).", stats.answered.load(ordering: .relaxed))
        return text
    }
}
