import LiveGateCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The alert engine: per-SKU sales velocity, the three alert levels tied to restock lead time, host hints and
/// danmaku texts, all driven by **core time**.
///
/// ## Time
/// Every time in this module is an `Int64` count of **nanoseconds of core time**, the stamp the stock core puts
/// on each command (the same unit as the stock core's `SkuPolicy`). The engine never reads a clock: the same
/// calls with the same times give the same events, so a recorded session replays identically. Times passed in
/// must not decrease; an earlier time is treated as the latest one seen.
///
/// ## Driving it
/// The stock core owns one engine on its writer thread and, per applied command:
/// - calls ``addSku(_:name:policy:figures:at:)`` on `createSku` (idempotent: an existing id keeps its state);
/// - calls ``record(_:into:)`` with a ``StockObservation`` for every applied change of a SKU (order placed,
///   paid, cancelled, expired; restock, adjust, hold, release, pause, resume);
/// - calls ``tick(now:into:)`` when core time advances without a change (at least once per second of core
///   time; the core's own expiry tick is a good place), so windows slide, the smoothed rate decays and latches
///   fall even when nothing sells;
/// - calls ``setPolicy(_:forSku:at:into:)`` on `setPolicy` and ``markLaunch(sku:at:)`` on the launch marker;
/// - reads ``metrics(forSku:now:)`` for every `stock` publication;
/// - stores ``encodeState()`` in the snapshot's extension section and restores with
///   ``init(decoding:configuration:)``.
///
/// ## What it computes per SKU
/// Demand (units placed, plus units paid without a reservation) goes into a fixed ring of one-second buckets
/// over ``AlertConfiguration/horizon``. Two adjacent windows of ``SkuPolicy/trendWindow`` give the recent and
/// previous rates and the acceleration. The **smoothed rate** is a continuous-time exponentially weighted
/// moving average of demand with time constant τ = ``AlertConfiguration/smoothingTime``: at a sale of `q`
/// units, `mass ← mass · e^(−Δt/τ) + q`, and the rate is `mass · e^(−Δt/τ) / τ`.
///
/// *Why EWMA and not Holt's linear trend:* a change in the rate is already tested, with a known false-alarm
/// rate, by the trend level's surge test (``SurgeDetector``); Holt's trend term would measure it a second time from one-second
/// buckets of a few integer sales each, where it mostly amplifies noise, and it would then extrapolate a launch
/// spike into a huge forecast rate (and a spurious emergency). An EWMA has one parameter, is unbiased for a
/// steady rate, reacts within τ to a real change, handles irregular event times exactly in O(1) with no
/// per-second work, and its state is two numbers. The rate is reported as zero when the recent window holds
/// no sale, so time to stock-out is nil rather than a meaningless huge figure.
///
/// From the smoothed rate `r`: time to stock-out `sellable / r`; safety line
/// `max(safetyMinimum, ceil(r × restockLeadTime × safetyFactor))`; suggested restock
/// `ceil(r × restockLeadTime − sellable)`. Paid versus cancelled-or-expired units, decayed over
/// ``AlertConfiguration/payThroughMemory``, give the share of current reservations that will probably come back.
///
/// ## Levels
/// - **trend**: the surge test's score (``SurgeDetector``: a dispersion-adjusted Poisson CUSUM for a rise to
///   k × the baseline rate) reaches its limit, with at least the minimum volume in the recent window (never
///   within ``AlertConfiguration/launchQuietPeriod`` of a launch marker, nor before the warm-up), or the sold
///   count crossed the watch mark within the last window;
/// - **threshold**: sellable ≤ safety line;
/// - **emergency**: time to stock-out at the low end of the rate's 98 % interval < restock lead time, or
///   sellable ≤ emergency line;
/// - **soldout**: sellable = 0; it falls when sellable clears the emergency line, or on a restock.
/// Hysteresis, cooldown and restock re-arming are described in ``AlertDebouncer``: a latch is raised at once,
/// and falls only when its condition has cleared by a margin and it has been up for ``SkuPolicy/cooldown``,
/// or at once when a restock (or release, or upward count) clears it. The margins:
/// - threshold and emergency lines drawn from the rate clear by ``SkuPolicy/hysteresisMargin`` or by two
///   standard errors of the rate (±2/√N for N sales in a window), whichever is wider, and against the largest
///   of the smoothed, recent and previous rates: a line must not fall because the *estimate* dipped while stock
///   kept falling (at 7 sales a minute a five-minute window is only good to ±17 %);
/// - unit lines (safety minimum, emergency line) clear by the margin, at least one unit; soldout clears once
///   sellable exceeds the emergency line;
/// - trend holds while the recent window stays above the baseline rate *at the time trend was raised* by the
///   margin (the surge has not ended), on the minimum volume less the margin, or for one window after the
///   watch mark was crossed.
///
/// ## Cost
/// ``record(_:into:)`` is O(1) (plus O(seconds since the SKU's last sale), at most O(horizon), to slide its ring)
/// and allocates nothing unless a transition happens (then it renders the event's texts). Memory is fixed per
/// SKU: `horizon / 1 s` buckets of 4 bytes plus about 200 bytes of state; see ``storage``.
///
/// Not thread-safe, and needs no lock: owned by the stock core's writer thread.
public struct AlertEngine: Sendable {
    /// The version byte ``encodeState()`` writes first.
    public static let stateVersion: UInt8 = 3

    /// The engine-wide settings.
    public let configuration: AlertConfiguration
    /// The parsed templates.
    let templates: CompiledTemplates
    /// SKU ids by index.
    private(set) var ids: [String] = []
    /// SKU display names by index.
    private(set) var names: [String] = []
    /// SKU policies by index.
    private(set) var policies: [SkuPolicy] = []
    /// SKU indices by id.
    private(set) var indexById: [String: Int] = [:]
    /// Hot per-SKU state by index.
    var states: [SkuAlertState] = []
    /// Every SKU's bucket ring.
    var buckets: SalesBuckets
    /// The latest core time seen, in nanoseconds.
    public internal(set) var time: Int64 = .min

    /// Creates an engine with no SKUs.
    ///
    /// - Parameter configuration: the settings, default policy and templates.
    /// - Throws: ``AlertConfigurationError`` or ``AlertTemplateError`` if the configuration is invalid.
    public init(configuration: AlertConfiguration = AlertConfiguration()) throws {
        try configuration.validate()
        self.configuration = configuration
        self.templates = try configuration.templates.compile()
        self.buckets = SalesBuckets(capacity: configuration.bucketsPerSku)
    }

    /// The number of SKUs the engine tracks.
    public var skuCount: Int { ids.count }

    /// The index of SKU `id`, if the engine tracks it.
    ///
    /// - Complexity: O(1) on average (a hash lookup).
    public func index(of id: String) -> Int? { indexById[id] }

    /// The id of the SKU at `index`.
    public func id(ofSku index: Int) -> String { ids[index] }

    /// The policy of the SKU at `index`.
    public func policy(forSku index: Int) -> SkuPolicy { policies[index] }

    /// The level of the SKU at `index`.
    public func level(ofSku index: Int) -> AlertLevel { states[index].debouncer.level }

    /// Starts tracking a SKU, or returns the index of the one with this id (whose state is kept).
    ///
    /// - Parameters:
    ///   - id: the SKU id, as the stock core names it.
    ///   - name: the display name used by `{name}` (default: the id).
    ///   - policy: the SKU's policy (default: ``AlertConfiguration/defaultPolicy``).
    ///   - figures: the SKU's figures now (default: all zero).
    ///   - time: core time, nanoseconds.
    /// - Returns: the SKU's index, used by every other call. Indices are dense, in the order SKUs were added,
    ///   and survive ``encodeState()``.
    /// - Throws: ``AlertConfigurationError/invalidPolicy(field:reason:)`` for a bad policy.
    /// - Complexity: O(horizon) to allocate the SKU's ring.
    @discardableResult
    public mutating func addSku(
        _ id: String, name: String? = nil, policy: SkuPolicy? = nil, figures: StockFigures = StockFigures(onHand: 0),
        at time: Int64 = 0
    ) throws(AlertConfigurationError) -> Int {
        if let existing = indexById[id] { return existing }
        let policy = policy ?? configuration.defaultPolicy
        try configuration.check(policy)
        let index = ids.count
        ids.append(id)
        names.append(name ?? id)
        policies.append(policy)
        indexById[id] = index
        states.append(SkuAlertState(window: policy.trendWindowSeconds, figures: figures))
        buckets.appendRing()
        advanceTime(to: time)
        return index
    }

    /// Reserves storage for `skus` SKUs in all, so that adding them allocates the bucket rings exactly once.
    ///
    /// - Complexity: O(current storage).
    public mutating func reserveCapacity(skus: Int) {
        buckets.reserveRings(skus)
        states.reserveCapacity(skus)
        ids.reserveCapacity(skus)
        names.reserveCapacity(skus)
        policies.reserveCapacity(skus)
        indexById.reserveCapacity(skus)
    }

    /// Records one applied stock change and re-evaluates the SKU's level.
    ///
    /// - Parameters:
    ///   - observation: the change, its core time and the SKU's figures after it.
    ///   - events: receives the transition, if the level changed (at most one per call).
    /// - Complexity: O(1) amortised; allocates only when a transition is appended.
    public mutating func record(_ observation: StockObservation, into events: inout [AlertEvent]) {
        let index = observation.sku
        precondition(index >= 0 && index < states.count, "unknown alert SKU index \(index)")
        let now = advanceTime(to: observation.time)
        let policy = policies[index]
        let second = AlertEngine.second(of: now)
        let quantity = max(observation.quantity, 0)
        let kind = observation.kind
        let oldFigures = states[index].figures
        let newFigures = observation.figures

        buckets.advance(ring: index, sums: &states[index].sums, to: second)
        let armed = states[index].surge.isArmed(at: now, configuration: configuration) && !isQuiet(index, at: now)
        states[index].surge.record(
            units: kind.isDemand ? Double(quantity) : 0, at: now, factor: policy.trendFactor, armed: armed,
            configuration: configuration)
        if kind.isDemand && quantity > 0 {
            buckets.add(ring: index, sums: &states[index].sums, units: quantity)
            let state = states[index]
            let decay = AlertEngine.decay(from: state.smoothedAt, to: now, timeConstant: configuration.smoothingTime)
            states[index].smoothedMass = state.smoothedMass * decay + Double(quantity)
            states[index].smoothedAt = now
        }
        switch kind {
        case .paid, .paidUnreserved:
            updatePayThrough(index, now: now, paid: Double(quantity), lost: 0)
        case .cancelled, .expired:
            updatePayThrough(index, now: now, paid: 0, lost: Double(quantity))
        default:
            break
        }
        if policy.watchMark > 0 && oldFigures.sold < policy.watchMark && newFigures.sold >= policy.watchMark {
            states[index].watchCrossedAt = now
        }
        states[index].figures = newFigures
        let restocked: Bool
        switch kind {
        case .restock, .adjust, .release: restocked = newFigures.sellable > oldFigures.sellable
        default: restocked = false
        }
        evaluate(index, now: now, restocked: restocked, into: &events)
    }

    /// Records one applied stock change and returns the transition it caused, if any.
    ///
    /// A convenience over ``record(_:into:)`` that allocates an array when an event is returned.
    public mutating func record(_ observation: StockObservation) -> [AlertEvent] {
        var events: [AlertEvent] = []
        record(observation, into: &events)
        return events
    }

    /// Advances core time for every SKU: slides windows, decays rates, lets latches fall.
    ///
    /// Call it when core time moves without a change, at least once per second of core time for timely
    /// trend and recovery transitions. SKUs with no sale in the horizon and no raised latch are skipped.
    ///
    /// - Parameters:
    ///   - now: core time, nanoseconds.
    ///   - events: receives every transition, in SKU index order.
    /// - Complexity: O(SKUs), plus O(elapsed seconds) per active SKU to slide its ring.
    public mutating func tick(now: Int64, into events: inout [AlertEvent]) {
        let now = advanceTime(to: now)
        let second = AlertEngine.second(of: now)
        for index in states.indices where !states[index].isIdle {
            buckets.advance(ring: index, sums: &states[index].sums, to: second)
            let armed = states[index].surge.isArmed(at: now, configuration: configuration) && !isQuiet(index, at: now)
            states[index].surge.record(
                units: 0, at: now, factor: policies[index].trendFactor, armed: armed, configuration: configuration)
            evaluate(index, now: now, restocked: false, into: &events)
        }
    }

    /// Advances core time for every SKU and returns the transitions; see ``tick(now:into:)``.
    public mutating func tick(now: Int64) -> [AlertEvent] {
        var events: [AlertEvent] = []
        tick(now: now, into: &events)
        return events
    }

    /// Replaces a SKU's policy and re-evaluates it.
    ///
    /// A new window length regroups the SKU's buckets into the new windows (the ring keeps the horizon).
    ///
    /// - Parameters:
    ///   - policy: the new policy.
    ///   - index: the SKU's index.
    ///   - now: core time, nanoseconds.
    ///   - events: receives the transition, if the new policy changes the level.
    /// - Throws: ``AlertConfigurationError`` for a bad policy or index; nothing changes then.
    /// - Complexity: O(window).
    public mutating func setPolicy(
        _ policy: SkuPolicy, forSku index: Int, at now: Int64, into events: inout [AlertEvent]
    ) throws(AlertConfigurationError) {
        guard index >= 0 && index < states.count else { throw .unknownSku(index) }
        try configuration.check(policy)
        let now = advanceTime(to: now)
        let old = policies[index]
        policies[index] = policy
        if old.trendFactor != policy.trendFactor || old.trendWindow != policy.trendWindow {
            // A score built for another surge ratio, and a held trend's baseline counted in another window, no
            // longer mean anything: the test starts again from its baseline.
            states[index].surge.score = 0
            let baseline = states[index].surge.baselineRate(at: now, timeConstant: configuration.trendBaselineTime)
            states[index].trendBaseline = AlertEngine.units((baseline * Double(policy.trendWindowSeconds)).rounded())
        }
        buckets.advance(ring: index, sums: &states[index].sums, to: AlertEngine.second(of: now))
        buckets.recompute(ring: index, sums: &states[index].sums, window: policy.trendWindowSeconds)
        evaluate(index, now: now, restocked: false, into: &events)
    }

    /// Marks the room's "3, 2, 1" launch of a SKU: no trend is raised from the rate ratio for
    /// ``AlertConfiguration/launchQuietPeriod`` after `now`.
    ///
    /// Call it for every SKU launched. The marker is part of the snapshot.
    ///
    /// - Complexity: O(1).
    public mutating func markLaunch(sku index: Int, at now: Int64) {
        precondition(index >= 0 && index < states.count, "unknown alert SKU index \(index)")
        states[index].launchAt = advanceTime(to: now)
        // A launch changes what "normal" sales are: the trend test starts cold, with a new baseline and warm-up.
        states[index].surge = SurgeDetector()
    }

    /// Whether SKU `index` is in a launch's quiet period at `now`: the trend test neither raises nor scores.
    func isQuiet(_ index: Int, at now: Int64) -> Bool {
        let launchAt = states[index].launchAt
        return launchAt != .min && now - launchAt < configuration.launchQuietPeriod
    }

    /// Storage accounting for the memory bound: bucket counts are fixed per SKU.
    public struct Storage: Sendable, Hashable {
        /// SKUs tracked.
        public var skuCount: Int
        /// Buckets per SKU (the horizon in seconds).
        public var bucketsPerSku: Int
        /// Buckets allocated in total: always `skuCount × bucketsPerSku`.
        public var bucketCount: Int
        /// The bucket array's capacity in elements (what is really reserved).
        public var bucketCapacity: Int
        /// Bytes reserved for buckets.
        public var bucketBytes: Int { bucketCapacity * MemoryLayout<UInt32>.stride }
        /// Bytes of hot per-SKU state.
        public var stateBytes: Int
    }

    /// What the engine holds in buckets and per-SKU state.
    ///
    /// - Complexity: O(1).
    public var storage: Storage {
        Storage(
            skuCount: states.count, bucketsPerSku: buckets.capacity, bucketCount: buckets.counts.count,
            bucketCapacity: buckets.counts.capacity, stateBytes: states.capacity * MemoryLayout<SkuAlertState>.stride
        )
    }

    /// Moves the engine's clock to `time` if later, and returns the clock.
    @discardableResult
    private mutating func advanceTime(to time: Int64) -> Int64 {
        if time > self.time { self.time = time }
        return self.time
    }

    /// Adds decayed paid and lost units.
    private mutating func updatePayThrough(_ index: Int, now: Int64, paid: Double, lost: Double) {
        let state = states[index]
        let decay = AlertEngine.decay(from: state.payAt, to: now, timeConstant: configuration.payThroughMemory)
        states[index].paidMass = state.paidMass * decay + paid
        states[index].lostMass = state.lostMass * decay + lost
        states[index].payAt = now
    }

    /// The absolute second of a core time (floor division).
    @inline(__always)
    static func second(of time: Int64) -> Int64 {
        let q = time / SkuPolicy.second
        return time % SkuPolicy.second < 0 ? q - 1 : q
    }

    /// `e^(−(to − from)/τ)`, or 0 when `from` is unset.
    @inline(__always)
    static func decay(from: Int64, to: Int64, timeConstant: Int64) -> Double {
        guard from != .min else { return 0 }
        guard to > from else { return 1 }
        return exp(-Double(to - from) / Double(timeConstant))
    }
}
