import Foundation
import LiveGateCore
import LiveGatePOSIX
import LiveGateRedis
import LiveGateTLS
import Synchronization

/// Where a node of a cluster finds Redis and what it does there (`cluster` in the config,
/// `--redis URL`). Only the core's half exists so far: it publishes its room streams.
public struct ClusterSettings: Equatable, Sendable {
    public enum Role: String, Sendable {
        /// Owns the stock core and publishes the room streams to Redis.
        case core
        /// Holds viewers and follows the core's streams in Redis (Edge.swift).
        case edge
    }

    public var redis: RedisURL
    public var role: Role = .core
    /// The first part of every key, so several gateways can share one Redis.
    public var prefix = "livegate"
    /// This node's name in the cluster: an edge's line in `{prefix}:edges` (its lag and presence
    /// on the core's `/metrics` and consoles) carries it as is, so each edge needs its own; its
    /// answers stream adds a random part (a restarted edge is a new one). `nil`: the host name
    /// and process id.
    public var node: String?

    /// A node name: 1 to 64 ASCII letters, digits, '-', '_' or '.' (it goes into Redis keys and metric labels).
    public static func isValidNode(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x5F || byte == 0x2E
        }
    }
    /// Entries kept per Redis stream (`XADD … MAXLEN ~ N`); at least the resume window.
    public var streamLength = 10_000
    /// For `rediss://`: PEM file of the CA certificates that Redis's certificate must chain to
    /// (`nil`: the system's trust store). The certificate must also name the URL's host.
    public var redisCAFile: String?
    /// For `rediss://`: PEM client certificate (chain) shown to Redis (mutual TLS, Redis's
    /// `tls-auth-clients`); with ``redisKeyFile``.
    public var redisCertFile: String?
    /// For `rediss://`: PEM private key of ``redisCertFile``.
    public var redisKeyFile: String?

    public init(redis: RedisURL) {
        self.redis = redis
    }

    /// What is wrong with the TLS files, naming the key (`nil`: nothing): they go with
    /// `rediss://` only, the certificate and key together, and each must be a readable file.
    public func tlsFilesProblem() -> String? {
        let files = [("cluster.redisCAFile", redisCAFile), ("cluster.redisCertFile", redisCertFile), ("cluster.redisKeyFile", redisKeyFile)]
        if !redis.usesTLS, let (key, _) = files.first(where: { $0.1 != nil }) {
            return "\(key): set, but cluster.redis is \(redis) (TLS needs rediss://)"
        }
        if (redisCertFile == nil) != (redisKeyFile == nil) {
            let missing = redisCertFile == nil ? "cluster.redisCertFile" : "cluster.redisKeyFile"
            return "\(missing): missing; cluster.redisCertFile and cluster.redisKeyFile go together (mutual TLS)"
        }
        for case let (key, path?) in files {
            if let why = Self.unreadable(path) { return "\(key): cannot read '\(path)': \(why)" }
        }
        return nil
    }

    /// Why the file at `path` cannot be read (`nil`: it can).
    public static func unreadable(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return "no such file" }
        guard !isDirectory.boolValue else { return "a directory, not a file" }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        close(fd)
        return nil
    }

    /// The TLS configuration every Redis client of the node shares for `rediss://` (`nil` for
    /// `redis://`), made once at start-up: the PEM files are read and checked here.
    ///
    /// - Throws: `ConfigurationError` with OpenSSL's reason when a file cannot be used.
    public func makeRedisTLS() throws -> TLSClientContext? {
        guard redis.usesTLS else { return nil }
        if let problem = tlsFilesProblem() { throw ConfigurationError(message: problem) }
        do {
            return try TLSClientContext(caFile: redisCAFile, certificateFile: redisCertFile, keyFile: redisKeyFile)
        } catch {
            throw ConfigurationError(message: "cluster (rediss://): \(error)")
        }
    }
}

/// The core's half of the cluster (issue #19, first step): every committed room stream
/// message goes to a Redis Stream per room stream, in `seq` order, once per message (never per
/// viewer), pipelined: what accumulated while a pipeline was out goes in the next one, so a busy
/// core makes one round trip per batch of messages.
///
/// - Keys: `{prefix}:epoch` holds the current epoch; each room stream is the stream
///   `{prefix}:{epoch}:{room}:{audience}`, trimmed to about ``ClusterSettings/streamLength``.
///   A restarted core has a new epoch and so new streams: a reader sees the epoch change,
///   exactly as a viewer of one process does.
/// - Entries: the id is `0-{seq}`, the fields `m` (the message's JSON, as viewers get it) and
///   `k` (the conflation key; 0 for an event that must not be dropped).
/// - Faults: while Redis is away the messages wait in a bounded queue (oldest dropped past
///   `maximumQueued`, counted, logged: a reader then sees a gap in `seq` and resets) and go out
///   when the client is ready again. A pipeline lost with its connection is sent again; entries
///   that had landed are refused as "equal or smaller" ids, which counts as done, so each
///   message is in the stream once.
final class ClusterPublisher: @unchecked Sendable {
    struct Entry {
        let stream: StreamID
        let key: String
        let seq: UInt64
        let payload: String
        let conflationKey: UInt32
        /// When it was committed (Unix ms): an edge's lag is measured against it.
        let at: Int64
    }

    /// Counters for `/metrics`.
    final class Stats: Sendable {
        let published = Atomic<Int>(0)
        let queued = Atomic<Int>(0)
        let dropped = Atomic<Int>(0)
        let reconnects = Atomic<Int>(0)
        let ready = Atomic<Int>(0)
        let lastRoundTripMicroseconds = Atomic<Int>(0)
        let snapshots = Atomic<Int>(0)
        let refusals = Atomic<Int>(0)
    }

    /// A room stream's snapshot now and the `seq` it reflects (the JSON a joining subscriber gets).
    typealias SnapshotProvider = @Sendable (_ room: String, _ audience: Audience) -> (seq: UInt64, json: [UInt8])?
    /// What an operator gets after its snapshot (open alerts, presence, policies): one JSON per line.
    typealias ConsoleProvider = @Sendable (_ room: String) -> String

    let settings: ClusterSettings
    let epoch: String
    let stats = Stats()
    /// The TLS configuration of the node's Redis clients (`rediss://`), shared with the inbox.
    let redisTLS: TLSClientContext?
    private let loop: EventLoop
    private let client: RedisClient
    private let maximumQueued: Int
    private let snapshot: SnapshotProvider?
    private let console: ConsoleProvider?
    /// Milliseconds between two snapshot writes of the same stream.
    private let snapshotInterval: UInt64
    // Loop-confined.
    private var queue: [Entry] = []
    private var queueStart = 0
    private var inFlight = 0
    /// A pipeline is out (or a retry after a refusal is waiting): one at a time, in order.
    private var isPipelineOutstanding = false
    private var isEpochWritten = false
    /// Streams whose snapshot in Redis is older than their last message.
    private var staleSnapshots: Set<StreamID> = []
    /// Every stream published so far (a Redis that comes back empty gets all their snapshots again).
    private var knownStreams: Set<StreamID> = []
    private var isSnapshotTimerSet = false

    struct StreamID: Hashable {
        let room: String
        let audience: Audience
    }

    init(settings: ClusterSettings, epoch: String, loop: EventLoop, redisTLS: TLSClientContext? = nil, rooms: [String] = [],
         maximumQueued: Int = 200_000, snapshotIntervalMilliseconds: UInt64 = 250, snapshot: SnapshotProvider? = nil,
         console: ConsoleProvider? = nil) {
        self.redisTLS = redisTLS
        self.console = console
        self.settings = settings
        self.epoch = epoch
        self.loop = loop
        self.maximumQueued = maximumQueued
        self.snapshot = snapshot
        snapshotInterval = snapshotIntervalMilliseconds
        client = RedisClient(url: settings.redis, loop: loop, tls: redisTLS)
        // Every stream of the configured rooms has a snapshot in Redis from the first connection
        // on, before its first message: an edge can serve a room that has been quiet since start.
        knownStreams = Set(rooms.flatMap { room in Audience.allCases.map { StreamID(room: room, audience: $0) } })
    }

    /// The key of a room stream's latest snapshot.
    func snapshotKey(room: String, audience: Audience) -> String {
        key(room: room, audience: audience) + ":snapshot"
    }

    /// Connects (and keeps reconnecting).
    func start() {
        loop.execute { [self] in
            client.onStateChange = { [weak self] state in
                guard let self else { return }
                self.stats.ready.store(state == .ready ? 1 : 0, ordering: .relaxed)
                self.stats.reconnects.store(self.client.reconnectCount, ordering: .relaxed)
                if state == .ready {
                    self.isEpochWritten = false
                    self.staleSnapshots = self.knownStreams
                    self.sendIfIdle()
                    self.scheduleSnapshots()
                }
            }
            client.start()
            Log.event(.info, "cluster_core", ["redis": settings.redis.description, "prefix": settings.prefix, "epoch": epoch])
        }
    }

    func stop() {
        loop.execute { [self] in client.stop() }
    }

    /// The key of a room stream.
    func key(room: String, audience: Audience) -> String {
        "\(settings.prefix):\(epoch):\(room):\(audience)"
    }

    /// Takes a committed publication (any thread; called in commit order).
    func publish(_ deliveries: [Delivery]) {
        var entries: [Entry] = []
        entries.reserveCapacity(deliveries.count)
        let at = Int64(Date().timeIntervalSince1970 * 1000)
        for delivery in deliveries where delivery.room != BenchSubscriberSession.topic {
            entries.append(Entry(
                stream: StreamID(room: delivery.room, audience: delivery.audience),
                key: key(room: delivery.room, audience: delivery.audience), seq: delivery.seq,
                payload: Self.payload(of: delivery.frame), conflationKey: delivery.key, at: at))
        }
        guard !entries.isEmpty else { return }
        loop.execute { [self] in enqueue(entries) }
    }

    /// The JSON text inside an unmasked server text frame.
    static func payload(of frame: SharedBytes) -> String {
        let bytes = frame.buffer
        guard bytes.count >= 2 else { return "" }
        let length = bytes[1] & 0x7F
        let offset = length == 126 ? 4 : length == 127 ? 10 : 2
        guard bytes.count >= offset else { return "" }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset...]), as: UTF8.self)
    }

    private var queuedCount: Int { queue.count - queueStart }

    private func enqueue(_ entries: [Entry]) {
        queue.append(contentsOf: entries)
        let excess = queuedCount - inFlight - maximumQueued
        if excess > 0 {
            // Drop the oldest entries not in flight, a tenth of the bound at a time (so a full
            // queue does not move all of itself per publication): readers see the gap and reset.
            let dropped = min(queuedCount - inFlight, max(excess, maximumQueued / 10))
            queue.removeSubrange((queueStart + inFlight)..<(queueStart + inFlight + dropped))
            stats.dropped.add(dropped, ordering: .relaxed)
            Log.event(.warning, "cluster_dropped", ["entries": String(dropped), "reason": "redis away or not keeping up"])
        }
        stats.queued.store(queuedCount, ordering: .relaxed)
        sendIfIdle()
    }

    /// Sends the next pipeline unless one is out: the epoch (after each connection), then up to
    /// 4,096 entries, each stream's expiry pushed out (a past epoch's streams go away by themselves).
    private func sendIfIdle() {
        guard client.state == .ready, !isPipelineOutstanding, queuedCount > 0 || !isEpochWritten else { return }
        var commands: [[String]] = []
        let wroteEpoch = !isEpochWritten
        if wroteEpoch { commands.append(["SET", "\(settings.prefix):epoch", epoch]) }
        let count = min(queuedCount, 4096)
        let length = String(settings.streamLength)
        var keys: Set<String> = []
        for entry in queue[queueStart..<(queueStart + count)] {
            commands.append(["XADD", entry.key, "MAXLEN", "~", length, "0-\(entry.seq)", "m", entry.payload, "k", String(entry.conflationKey),
                             "t", String(entry.at)])
            keys.insert(entry.key)
        }
        let firstEntry = commands.count - count
        let expiry = String(Self.expiryMilliseconds)
        for key in keys.sorted() {
            commands.append(["PEXPIRE", key, expiry])
            commands.append(["PEXPIRE", key + ":snapshot", expiry])
        }
        isPipelineOutstanding = true
        inFlight = count
        let sentAt = Posix.monotonicNanoseconds()
        client.pipeline(commands) { [weak self] result in
            guard let self else { return }
            self.isPipelineOutstanding = false
            self.inFlight = 0
            guard case .success(let replies) = result else {
                // Kept; sent again when the client is ready (its state change calls sendIfIdle).
                return
            }
            self.stats.lastRoundTripMicroseconds.store(Int((Posix.monotonicNanoseconds() - sentAt) / 1000), ordering: .relaxed)
            // The entries Redis took, up to the first it refused for another reason than "already
            // there" (an id at or below the stream's last: it landed before a lost connection).
            var taken = 0
            var refusal: String?
            if wroteEpoch, case .error(let message) = replies.first { refusal = message }
            if refusal == nil {
                for reply in replies[firstEntry..<(firstEntry + count)] {
                    if case .error(let message) = reply, !message.contains("equal or smaller") {
                        refusal = message
                        break
                    }
                    taken += 1
                }
                if wroteEpoch { self.isEpochWritten = true }
            }
            for entry in self.queue[self.queueStart..<(self.queueStart + taken)] {
                self.staleSnapshots.insert(entry.stream)
                self.knownStreams.insert(entry.stream)
            }
            self.scheduleSnapshots()
            self.queueStart += taken
            if self.queueStart == self.queue.count {
                self.queue.removeAll(keepingCapacity: self.queue.capacity <= 65_536)
                self.queueStart = 0
            } else if self.queueStart >= 4096 && self.queueStart * 2 >= self.queue.count {
                self.queue.removeFirst(self.queueStart)
                self.queueStart = 0
            }
            self.stats.published.add(taken, ordering: .relaxed)
            self.stats.queued.store(self.queuedCount, ordering: .relaxed)
            if let refusal {
                // LOADING, READONLY, OOM, MISCONF, NOAUTH…: kept, and tried again in a second.
                self.stats.refusals.add(1, ordering: .relaxed)
                Log.event(.error, "cluster_publish_refused", ["reason": String(refusal.prefix(200)), "retryMs": "1000"])
                self.isPipelineOutstanding = true
                self.loop.schedule(afterMilliseconds: 1_000) { [weak self] in
                    self?.isPipelineOutstanding = false
                    self?.sendIfIdle()
                }
                return
            }
            self.sendIfIdle()
        }
    }

    /// How long a stream and its snapshot stay in Redis after their last message: a day.
    static let expiryMilliseconds = 24 * 3_600_000

    // MARK: - Snapshots

    /// Writes the snapshots of the streams that changed, at most every `snapshotInterval`.
    private func scheduleSnapshots() {
        guard snapshot != nil, !isSnapshotTimerSet, !staleSnapshots.isEmpty else { return }
        isSnapshotTimerSet = true
        loop.schedule(afterMilliseconds: snapshotInterval) { [weak self] in
            guard let self else { return }
            self.isSnapshotTimerSet = false
            self.writeSnapshots()
        }
    }

    /// One `SET` per changed stream, pipelined: the snapshot and, in it, the `seq` it reflects.
    /// Written after the stream's entries up to that point were acknowledged, so a reader that
    /// takes the snapshot and then reads the stream after its `seq` misses nothing.
    private func writeSnapshots() {
        guard let snapshot, client.state == .ready, !staleSnapshots.isEmpty else { return }
        let streams = staleSnapshots
        staleSnapshots.removeAll()
        var commands: [[String]] = []
        for stream in streams {
            guard let (_, json) = snapshot(stream.room, stream.audience) else { continue }
            commands.append(["SET", snapshotKey(room: stream.room, audience: stream.audience), String(decoding: json, as: UTF8.self),
                             "PX", String(Self.expiryMilliseconds)])
            if stream.audience == .operator, let console {
                commands.append(["SET", key(room: stream.room, audience: .operator) + ":console", console(stream.room),
                                 "PX", String(Self.expiryMilliseconds)])
            }
        }
        guard !commands.isEmpty else { return }
        client.pipeline(commands) { [weak self] result in
            guard let self else { return }
            if case .failure = result {
                // Written again once the client is ready.
                self.staleSnapshots.formUnion(streams)
            } else {
                self.stats.snapshots.add(commands.count, ordering: .relaxed)
            }
        }
    }
}
