import LiveGateAlerts
import LiveGateCore
import LiveGateStock

/// What the alert engine adds to a durable batch: the level transitions, and the live
/// figures (rate, time to stock-out, level, host hint, stock reply) of every SKU it touched.
struct AlertBatch: Sendable {
    /// One SKU's figures after the batch.
    struct Figures: Sendable, Equatable {
        var metrics: SkuMetrics
        var hostHint: String
        /// The reply to a viewer asking whether it is in stock, rendered with these figures.
        var stockReply: String?
    }

    /// A banner re-rendered with the SKU's newer figures while its level stands (its `{left}` follows the stock).
    struct BannerRefresh: Sendable, Equatable {
        var sku: String
        var level: AlertLevel
        var text: String
        var left: Int64
    }

    var events: [AlertEvent] = []
    var figures: [String: Figures] = [:]
    var banners: [BannerRefresh] = []
}

/// The alert engine beside the stock core: it runs on the core's writer thread on core time,
/// sees every change (live and replayed at start-up), keeps its state in the core's snapshot
/// (extension version 1), and attaches an ``AlertBatch`` to each durable batch.
final class AlertObserver: StockObserver {
    private let configuration: AlertConfiguration
    private let names: [String: String]
    private var engine: AlertEngine
    /// Ledger SKU index → engine SKU index.
    private var engineIndex: [Int] = []
    private var touched: [Int] = []
    /// Whether the next live batch reports every SKU's figures (the first after start-up).
    private var needsAllFigures = true
    private var isTouched: [Bool] = []

    // What was last published per ledger SKU (live batches only; not in the snapshot: after a restart the
    // first live batch publishes every SKU and every standing banner again).

    /// The rate (units/min) the last `stock` message of each SKU showed.
    private var publishedRate: [Double] = []
    /// The banner text each SKU's viewers last got (nil: none standing), and when (core time).
    private var bannerText: [String?] = []
    private var bannerAt: [Int64] = []
    /// Whether a SKU's banner changed within its interval and waits to go out.
    private var bannerPending: [Bool] = []
    /// The core second of the last refresh scan (figures are looked at once per second of core time).
    private var scannedSecond: Int64 = .min
    /// The least core time between two banners of one SKU: at most two a second.
    static let bannerInterval: Int64 = 500_000_000
    /// Core time at which a throttled banner falls due (`Int64.max`: none); the writer wakes for it.
    private(set) var nextTickAt: Int64 = .max

    /// - Parameters:
    ///   - configuration: engine settings and templates (validated already).
    ///   - names: display names by SKU id.
    init(configuration: AlertConfiguration, names: [String: String]) throws {
        self.configuration = configuration
        self.names = names
        engine = try AlertEngine(configuration: configuration)
    }

    private static func figures(_ publication: StockPublication) -> StockFigures {
        StockFigures(
            onHand: publication.onHand, reserved: publication.reserved, held: publication.held, sold: publication.sold,
            sellable: publication.sellable)
    }

    func restore(from snapshotExtension: SnapshotExtension, ledger: StockLedger) {
        if snapshotExtension.version == 1 {
            do {
                engine = try AlertEngine(decoding: snapshotExtension.bytes, configuration: configuration)
            } catch {
                Log.warning("alert state in the snapshot not restored (\(error)); levels start again from the stock figures")
            }
        } else if snapshotExtension.version != 0 || !snapshotExtension.bytes.isEmpty {
            Log.warning("alert state section version \(snapshotExtension.version) not known to this build; levels start again")
        }
        engineIndex = []
        for index in 0..<ledger.skuCount { _ = ensure(index, ledger: ledger) }
    }

    /// The engine index of ledger SKU `index`, adding the SKU to the engine when new.
    private func ensure(_ index: Int, ledger: StockLedger) -> Int {
        while engineIndex.count <= index {
            let id = ledger.skuID(ofIndex: engineIndex.count)
            let publication = ledger.publication(ofIndex: engineIndex.count)
            let policy = ledger.policy(of: id) ?? configuration.defaultPolicy
            let figures = Self.figures(publication)
            let name = names[id] ?? id
            // A policy the engine refuses (it was checked at config load and by the policy
            // command, so only an old journal can hold one) falls back to the default policy.
            let engineSku =
                (try? engine.addSku(id, name: name, policy: policy, figures: figures, at: ledger.time))
                ?? (try? engine.addSku(id, name: name, policy: configuration.defaultPolicy, figures: figures, at: ledger.time))
                ?? 0
            engineIndex.append(engineSku)
            isTouched.append(false)
            publishedRate.append(0)
            bannerText.append(nil)
            bannerAt.append(.min)
            bannerPending.append(false)
        }
        return engineIndex[index]
    }

    func observe(_ changes: [StockChange], ledger: StockLedger, time: Int64, isReplay: Bool) -> AlertBatch? {
        var batch = AlertBatch()
        for change in changes {
            let sku = ensure(change.sku, ledger: ledger)
            if !isTouched[change.sku] {
                isTouched[change.sku] = true
                touched.append(change.sku)
            }
            let kind: StockChangeKind
            switch change.kind {
            case .created: continue
            case .placed: kind = .placed
            case .paid: kind = .paid
            case .paidUnreserved: kind = .paidUnreserved
            case .cancelled: kind = .cancelled
            case .expired: kind = .expired
            case .restock: kind = .restock
            case .adjust: kind = .adjust
            case .hold: kind = .hold
            case .release: kind = .release
            case .pause: kind = .other
            case .resume:
                // Resuming a paused SKU is how a launch opens sales: the engine expects the spike.
                engine.markLaunch(sku: sku, at: change.time)
                kind = .other
            case .policy:
                let id = ledger.skuID(ofIndex: change.sku)
                if let policy = ledger.policy(of: id) {
                    try? engine.setPolicy(policy, forSku: sku, at: change.time, into: &batch.events)
                }
                continue
            }
            let figures = Self.figures(ledger.publication(ofIndex: change.sku))
            engine.record(
                StockObservation(sku: sku, time: change.time, kind: kind, quantity: abs(change.quantity), figures: figures),
                into: &batch.events)
        }
        engine.tick(now: time, into: &batch.events)
        for event in batch.events {
            if let ledgerIndex = engineIndex.firstIndex(of: event.skuIndex), !isTouched[ledgerIndex] {
                isTouched[ledgerIndex] = true
                touched.append(ledgerIndex)
            }
        }
        defer {
            for index in touched { isTouched[index] = false }
            touched.removeAll(keepingCapacity: true)
        }
        if isReplay { return nil }
        let isFirstLive = needsAllFigures
        if needsAllFigures {
            needsAllFigures = false
            for index in 0..<ledger.skuCount where !isTouched[index] {
                isTouched[index] = true
                touched.append(index)
            }
        }
        // Once per second of core time: figures that moved with time alone (a rate decaying with no sale,
        // time to stock-out growing with it) are published again when the shown figure moved meaningfully.
        let second = time / 1_000_000_000
        if second != scannedSecond {
            scannedSecond = second
            for index in 0..<min(ledger.skuCount, engineIndex.count) where !isTouched[index] {
                let metrics = engine.metrics(forSku: engineIndex[index], now: time)
                if Self.hasMoved(shown: publishedRate[index], now: Self.shownRate(metrics)) {
                    isTouched[index] = true
                    touched.append(index)
                }
            }
        }
        // The answer a viewer's stock question gets, rendered once per change (with the hint, from one
        // computation of the figures) so that answering costs the chat nothing.
        let answersStock = engine.isStockQuestion(configuration.templates.stockQuestionKeywords.first ?? "")
        for index in touched {
            let sku = engineIndex[index]
            let metrics = engine.metrics(forSku: sku, now: time)
            publishedRate[index] = Self.shownRate(metrics)
            let rendered = engine.renderFigures(forSku: sku, metrics: metrics, answersStock: answersStock)
            batch.figures[engine.id(ofSku: sku)] = AlertBatch.Figures(
                metrics: metrics, hostHint: rendered.hostHint, stockReply: rendered.stockReply)
        }
        refreshBanners(&batch, ledger: ledger, time: time, all: isFirstLive)
        return batch
    }

    /// The rate a `stock` message shows: none when nothing is sellable (a sold-out SKU sells nothing).
    static func shownRate(_ metrics: SkuMetrics) -> Double {
        metrics.sellable > 0 ? metrics.ratePerMinute : 0
    }

    /// Whether a shown rate moved enough to publish again: to or from zero, or by 5 % (with τ = 5 min a rate
    /// decaying without sales moves 5 % in about 15 s, so a quiet SKU costs one message every 15 s or so until its
    /// recent window empties and the rate reads 0).
    static func hasMoved(shown: Double, now: Double) -> Bool {
        if (shown > 0) != (now > 0) { return true }
        return shown > 0 && abs(now - shown) >= 0.05 * shown
    }

    /// Keeps every standing banner's text true to the SKU's figures: a transition's banner is what viewers got;
    /// after it, a SKU whose rendered banner differs (its `{left}` fell or rose) gets the new text, at most one per
    /// ``bannerInterval`` of core time, the last change at most one interval late (``nextTickAt`` wakes the
    /// writer for it).
    private func refreshBanners(_ batch: inout AlertBatch, ledger: StockLedger, time: Int64, all: Bool) {
        for event in batch.events {
            guard let index = engineIndex.firstIndex(of: event.skuIndex) else { continue }
            switch event.banner {
            case .show(let text):
                bannerText[index] = text
                bannerAt[index] = event.time
            case .withdraw:
                bannerText[index] = nil
            case .unchanged:
                break
            }
        }
        nextTickAt = .max
        for index in 0..<min(ledger.skuCount, engineIndex.count) {
            let sku = engineIndex[index]
            // Only a SKU whose figures moved in this batch, or whose banner waits for its interval, can differ.
            guard all || (bannerText[index] != nil && (isTouched[index] || bannerPending[index])) else { continue }
            bannerPending[index] = false
            guard let text = engine.bannerText(forSku: sku, now: time) else {
                bannerText[index] = nil
                continue
            }
            guard all || text != bannerText[index] else { continue }
            if !all && bannerAt[index] != .min && time - bannerAt[index] < Self.bannerInterval {
                nextTickAt = min(nextTickAt, bannerAt[index] + Self.bannerInterval)
                bannerPending[index] = true
                continue
            }
            bannerText[index] = text
            bannerAt[index] = time
            batch.banners.append(AlertBatch.BannerRefresh(
                sku: engine.id(ofSku: sku), level: engine.level(ofSku: sku), text: text,
                left: ledger.publication(ofIndex: index).sellable))
        }
    }

    func snapshotExtension() -> SnapshotExtension {
        SnapshotExtension(version: 1, bytes: engine.encodeState())
    }
}
