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

    var events: [AlertEvent] = []
    var figures: [String: Figures] = [:]
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
        if needsAllFigures {
            needsAllFigures = false
            for index in 0..<ledger.skuCount where !isTouched[index] {
                isTouched[index] = true
                touched.append(index)
            }
        }
        let keyword = configuration.templates.stockQuestionKeywords.first ?? ""
        for index in touched {
            let sku = engineIndex[index]
            batch.figures[engine.id(ofSku: sku)] = AlertBatch.Figures(
                metrics: engine.metrics(forSku: sku, now: time), hostHint: engine.hostHint(forSku: sku, now: time),
                stockReply: engine.stockReply(to: keyword, sku: sku, now: time))
        }
        return batch
    }

    func snapshotExtension() -> SnapshotExtension {
        SnapshotExtension(version: 1, bytes: engine.encodeState())
    }
}
