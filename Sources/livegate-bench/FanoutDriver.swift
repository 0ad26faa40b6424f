import Glibc

/// Publishes numbered stock changes and accounts for every delivery to every viewer.
///
/// Two modes:
/// - room (default): viewers join room `bench` on `/ws` with a viewer token and receive `stock`
///   messages; the sender is a connector that sends `order` messages (`paid`, quantity 1) round-
///   robin over the room's SKUs. Order `i` goes to SKU `i % skus` and is that SKU's
///   `i / skus + 1`-th sale, so the `stock` message it causes (`"sku":"sNN"`, `"sold":k`) names it:
///   `i = (k - 1) × skus + NN`. At most `skus` orders are in flight, so a durable batch never
///   holds two orders for one SKU and no `stock` message is coalesced: every order is one message.
/// - pub/sub (`--pubsub`, the neutral load generator's protocol on `--bench-pubsub`): viewers
///   on `/bench` send `{"op":"sub"}`; the publisher on `/bench/pub` sends 120-byte messages
///   carrying `"seq":i`, as `wsload` does.
///
/// At a fixed rate (`latency`, `slow`) a server that falls behind puts more than `skus` orders in
/// one durable batch, and the state rule sends one `stock` message per SKU for them: the viewer
/// sees the skipped orders through the newer `sold` figure. Those count as `coalesced`, not lost,
/// and each is reflected (and timed) by the message that first shows it.
///
/// Latency is the time from writing order (or message) `i` to the `read` that returned it.
/// Nothing on the receive path allocates or decodes JSON: it scans for `"seq":`, `"sku":"s` and
/// `"sold":`.
final class FanoutDriver {
    let generator: LoadGenerator
    let isPubSub: Bool
    /// The pub/sub payload's size in bytes (at least 120).
    var pubSubBytes = 120
    let skuCount: Int
    /// When order `i` was written (monotonic ns).
    private var sentAt: [UInt64]
    /// How many viewers have received order `i`.
    private var deliveredPerOrder: [Int32]
    private(set) var sent = 0
    /// Orders `0..<fullyDelivered` reached every active viewer.
    private(set) var fullyDelivered = 0
    var histogram = LatencyHistogram()
    /// Messages delivered (one per viewer per message).
    private(set) var deliveries = 0
    /// (viewer, change) pairs made visible: equal to `deliveries` unless changes were coalesced.
    private(set) var reflected = 0
    /// Changes a viewer saw only through a later message for the same SKU (room mode).
    private(set) var coalesced = 0
    private(set) var firstSend: UInt64 = 0
    private(set) var lastDelivery: UInt64 = 0
    /// Viewers that are counted (open readers).
    var activeViewers = 0
    private(set) var readyViewers = 0
    private(set) var closedViewers = 0
    private(set) var acks = 0
    private(set) var rejected = 0
    private(set) var errors = 0
    private(set) var otherMessages = 0
    private(set) var unmatched = 0
    /// Wire bytes (frame header and payload) of the `stock` messages viewers received.
    private(set) var stockWireBytes = 0
    /// `stock` messages that arrived compressed (permessage-deflate).
    private(set) var compressedDeliveries = 0
    var sender: LoadConnection?
    /// Viewers in child processes (`cluster` past one process's sockets): this side only sends;
    /// ``noteProgress(fullyDelivered:now:)`` brings the children's progress.
    var isCoordinator = false
    /// Called with (first order, count, send time) just before a batch of orders is written.
    var onSend: ((Int, Int, UInt64) -> Void)?
    /// Called when a delivery names an order not yet known as sent (a viewer child reads its
    /// control pipe then).
    var onUnknownOrder: (() -> Void)?
    /// Called for a viewer that closed after its snapshot; true: it is being reconnected (not counted as closed).
    var onViewerLost: ((LoadConnection) -> Bool)?
    /// The `epoch` of the first snapshot.
    private(set) var epoch = ""
    /// Resumed viewers that got a `reset` snapshot instead of their missed messages.
    private(set) var resets = 0

    init(generator: LoadGenerator, isPubSub: Bool, skuCount: Int, capacity: Int) {
        self.generator = generator
        self.isPubSub = isPubSub
        self.skuCount = skuCount
        sentAt = [UInt64](repeating: 0, count: capacity)
        deliveredPerOrder = [Int32](repeating: 0, count: capacity)
        generator.onMessage = { [unowned self] connection, payload, now in
            if connection.kind == .viewer {
                self.viewerReceived(connection, payload, now: now)
            } else {
                self.senderReceived(payload)
            }
        }
        generator.onOpen = { [unowned self] connection, _ in
            if self.isPubSub && connection.kind == .viewer {
                self.generator.send(
                    connection, LoadGenerator.frame(payload: Array(#"{"op":"sub","topic":"room1"}"#.utf8)))
            }
        }
        generator.onClose = { [unowned self] connection in
            guard connection.kind == .viewer, connection.isReady, !connection.isExcluded else { return }
            if let onViewerLost = self.onViewerLost, onViewerLost(connection) { return }
            self.closedViewers += 1
            self.activeViewers -= 1
            self.advance()
        }
    }

    // MARK: Receive path

    private func viewerReceived(_ connection: LoadConnection, _ payload: UnsafeRawBufferPointer, now: UInt64) {
        if isPubSub {
            guard let seq = PayloadScanner.integer(after: "\"seq\":", in: payload) else {
                otherMessages += 1
                return
            }
            if seq.value < 0 {
                if !connection.isReady {
                    connection.isReady = true
                    readyViewers += 1
                }
                return
            }
            check(connection, seq.value)
            record(Int(seq.value), now: now)
            return
        }
        if connection.isExcluded { return }
        if connection.isResumed && connection.firstAfterResume == 0 { connection.firstAfterResume = now }
        if PayloadScanner.hasPrefix(payload, "{\"type\":\"stock\"") {
            guard let seq = PayloadScanner.integer(after: "\"seq\":", in: payload),
                let sku = PayloadScanner.integer(after: "\"sku\":\"s", in: payload, from: seq.end),
                let sold = PayloadScanner.integer(after: "\"sold\":", in: payload, from: sku.end)
            else {
                unmatched += 1
                return
            }
            check(connection, seq.value)
            deliveries += 1
            stockWireBytes += generator.lastFrameBytes
            if generator.isLastFrameCompressed { compressedDeliveries += 1 }
            lastDelivery = now
            // One message reflects every order on its SKU up to `sold`: several when the server
            // coalesced changes made durable in one batch (the state-message rule).
            let index = Int(sku.value)
            guard index < skuCount else {
                unmatched += 1
                return
            }
            if connection.lastSold.isEmpty { connection.lastSold = [Int32](repeating: 0, count: skuCount) }
            let previous = Int(connection.lastSold[index])
            let newest = Int(sold.value)
            if newest > previous + 1 { coalesced += newest - previous - 1 }
            if newest > previous {
                for k in (previous + 1)...newest { reflect((k - 1) * skuCount + index, now: now) }
                connection.lastSold[index] = Int32(newest)
            }
        } else if PayloadScanner.hasPrefix(payload, "{\"type\":\"snapshot\"") {
            if connection.isResumed {
                // A reset instead of the missed messages: counted, and the viewer leaves the accounting.
                resets += 1
                connection.isExcluded = true
                activeViewers -= 1
                advance()
                return
            }
            if epoch.isEmpty, let range = PayloadScanner.string(after: "\"epoch\":\"", in: payload) {
                epoch = String(decoding: UnsafeRawBufferPointer(rebasing: payload[range]), as: UTF8.self)
            }
            if let seq = PayloadScanner.integer(after: "\"seq\":", in: payload) { connection.lastSeq = seq.value }
            if !connection.isReady {
                connection.isReady = true
                readyViewers += 1
            }
        } else {
            otherMessages += 1
            if let seq = PayloadScanner.integer(after: "\"seq\":", in: payload) { check(connection, seq.value) }
        }
    }

    /// Stream order: each message's `seq` is one more than the last (room), or each message index
    /// one more than the last (pub/sub).
    @inline(__always)
    private func check(_ connection: LoadConnection, _ seq: Int64) {
        if connection.lastSeq >= 0 {
            if seq > connection.lastSeq + 1 {
                connection.gaps += 1
            } else if seq <= connection.lastSeq {
                connection.outOfOrder += 1
            }
        }
        connection.lastSeq = seq
        connection.messages += 1
    }

    /// Pub/sub: one message is one delivery of one change.
    @inline(__always)
    private func record(_ order: Int, now: UInt64) {
        deliveries += 1
        lastDelivery = now
        reflect(order, now: now)
    }

    /// Change `order` has become visible to one viewer now.
    @inline(__always)
    private func reflect(_ order: Int, now: UInt64) {
        if order >= sent, let onUnknownOrder { onUnknownOrder() }
        guard order >= 0 && order < sent else {
            unmatched += 1
            return
        }
        reflected += 1
        histogram.record(now &- sentAt[order])
        deliveredPerOrder[order] += 1
        if order == fullyDelivered && Int(deliveredPerOrder[order]) >= activeViewers { advance() }
    }

    /// A viewer child: orders up to `count` were written at `at` (by the coordinator).
    func noteSent(upTo count: Int, at: UInt64) {
        while sent < min(count, sentAt.count) {
            sentAt[sent] = at
            sent += 1
        }
        if firstSend == 0 { firstSend = at }
    }

    /// The coordinator: every child has every order below `count`.
    func noteProgress(fullyDelivered count: Int, now: UInt64) {
        fullyDelivered = count
        lastDelivery = now
    }

    /// Reconnects `connection`'s viewer state onto `replacement` (the edge-kill drill).
    func carryOver(from connection: LoadConnection, to replacement: LoadConnection) {
        replacement.lastSeq = connection.lastSeq
        replacement.lastSold = connection.lastSold
        replacement.isReady = true
        replacement.isResumed = true
        replacement.resumeAttempts = connection.resumeAttempts + 1
        replacement.messages = connection.messages
    }

    private func advance() {
        while fullyDelivered < sent && Int(deliveredPerOrder[fullyDelivered]) >= activeViewers { fullyDelivered += 1 }
    }

    private func senderReceived(_ payload: UnsafeRawBufferPointer) {
        if PayloadScanner.hasPrefix(payload, "{\"type\":\"result\"") {
            acks += 1
            if !PayloadScanner.contains(payload, "\"ok\":true") { rejected += 1 }
        } else if PayloadScanner.hasPrefix(payload, "{\"type\":\"error\"") {
            errors += 1
        }
    }

    // MARK: Send path

    private func appendOrder(to buffer: inout [UInt8], now: UInt64) {
        let order = sent
        var payload: [UInt8] = []
        payload.reserveCapacity(128)
        if isPubSub {
            payload.append(contentsOf: #"{"type":"stock","sku":"HOODIE-1","left":99990,"seq":"#.utf8)
            appendDecimal(order, to: &payload)
            payload.append(contentsOf: #","ts":"#.utf8)
            appendDecimal(Int(now), to: &payload)
            payload.append(contentsOf: #","pad":""#.utf8)
            while payload.count < max(118, pubSubBytes - 2) { payload.append(UInt8(ascii: "x")) }
            payload.append(contentsOf: "\"}".utf8)
        } else {
            payload.append(contentsOf: #"{"type":"order","id":""#.utf8)
            appendDecimal(order, to: &payload)
            payload.append(contentsOf: #"","orderId":"bench-"#.utf8)
            appendDecimal(order, to: &payload)
            payload.append(contentsOf: #"","sku":""#.utf8)
            payload.append(contentsOf: BenchServer.skuName(order % skuCount).utf8)
            payload.append(contentsOf: #"","qty":1,"state":"paid"}"#.utf8)
        }
        LoadGenerator.appendFrame(payload: payload, to: &buffer)
        sentAt[order] = now
        if firstSend == 0 { firstSend = now }
        sent += 1
    }

    /// Sends pub/sub warm-up messages (`"seq":-1`) every 50 ms until every viewer has one.
    func warmUp(viewers: Int, deadline: UInt64) -> Bool {
        guard let sender else { return false }
        let warm = LoadGenerator.frame(
            payload: Array(
                #"{"type":"warm","seq":-1,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#
                    .utf8))
        var lastWarm: UInt64 = 0
        while readyViewers < viewers && monotonicNanoseconds() < deadline {
            if monotonicNanoseconds() - lastWarm > 50_000_000 {
                generator.send(sender, warm)
                lastWarm = monotonicNanoseconds()
            }
            generator.poll(timeoutMilliseconds: 10)
        }
        // Quiet time: let the last warm-up messages drain.
        let quiet = monotonicNanoseconds() + 200_000_000
        while monotonicNanoseconds() < quiet { generator.poll(timeoutMilliseconds: 10) }
        return readyViewers >= viewers
    }

    /// Sends `count` more orders, either keeping at most `window` not yet delivered to every
    /// viewer (`rate` 0; `window` 0: all at once, a burst) or at `rate` per second, then waits until every viewer has every one,
    /// `drainSeconds` pass without a delivery, or `deadline`. Returns how it ended.
    func publish(
        count: Int, window: Int, rate: Double, deadline: UInt64, drainSeconds: Double = 3, onPoll: (() -> Void)? = nil
    ) -> String {
        guard let sender else { return "no-sender" }
        let start = sent
        let target = min(sent + count, sentAt.count)
        let begin = monotonicNanoseconds()
        var lastProgress = begin
        var lastFullyDelivered = fullyDelivered
        var batch: [UInt8] = []
        var lastSent = sent
        while true {
            let now = monotonicNanoseconds()
            batch.removeAll(keepingCapacity: true)
            if rate > 0 {
                while sent < target && now >= begin + UInt64(Double(sent - start) * 1e9 / rate) {
                    appendOrder(to: &batch, now: now)
                }
            } else {
                while sent < target && (window == 0 || sent - fullyDelivered < window) {
                    appendOrder(to: &batch, now: now)
                }
            }
            if !batch.isEmpty {
                onSend?(lastSent, sent - lastSent, now)
                generator.send(sender, batch)
            }
            lastSent = sent
            // Complete once every change reached every viewer and, on the room path, every order
            // was answered (its result may still be on its way when the last viewer has it).
            if fullyDelivered >= target && (isPubSub || acks + errors >= target) { return "complete" }
            if now > deadline { return "timeout" }
            if sender.state == .closed { return "sender-closed" }
            if activeViewers == 0 && !isCoordinator { return "no-viewers" }
            if fullyDelivered != lastFullyDelivered || sent < target {
                lastFullyDelivered = fullyDelivered
                lastProgress = now
            } else if Double(now - max(lastProgress, lastDelivery)) > drainSeconds * 1e9 {
                return "idle-timeout"
            }
            var timeout: Int32 = 10
            if rate > 0 && sent < target {
                let next = begin + UInt64(Double(sent - start) * 1e9 / rate)
                timeout = next > now ? Int32(min(10, (next - now + 999_999) / 1_000_000)) : 0
            }
            generator.poll(timeoutMilliseconds: timeout)
            onPoll?()
        }
    }

    /// Gaps, out-of-order messages and viewers' message counts summed over readers.
    func streamFaults() -> (gaps: Int, outOfOrder: Int) {
        var gaps = 0
        var outOfOrder = 0
        for connection in generator.connections where connection.kind == .viewer {
            gaps += connection.gaps
            outOfOrder += connection.outOfOrder
        }
        return (gaps, outOfOrder)
    }
}
