import LiveGateCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Seeded synthetic shows run through a real ``AlertEngine``, one observation per second of core time: what
/// `livegate-bench alerts` tabulates and the alert-quality tests check at a small size.
///
/// Sales in each second are Poisson with the show's rate, and the rate itself moves by a uniform ±`noise`
/// factor drawn afresh each minute (the per-minute noise of a real show: the host's pace, viewers' waves).
/// A surge ramps the rate linearly from `1×` to `surgeFactor×` over `rampMinutes`, then holds it.
public enum AlertSimulation {
    /// One show.
    public struct Show: Sendable, Hashable {
        /// Orders (one unit each) per minute before any surge.
        public var baseRatePerMinute: Double
        /// The per-minute multiplicative noise: the rate is scaled by a uniform draw in `1 ± noise`.
        public var noise: Double = 0.3
        /// The surge's rate ratio, nil for a flat show.
        public var surgeFactor: Double?
        /// When the surge's ramp begins, minutes into the show.
        public var surgeStartMinute: Double = 120
        /// How long the ramp takes, minutes.
        public var rampMinutes: Double = 3
        /// The show's length, minutes.
        public var minutes: Double
        /// Units on hand at the start (huge: nothing but the trend level matters).
        public var onHand: Int64 = 1_000_000_000
        /// The seed of the show's random draws.
        public var seed: UInt64
        /// A slow drift: the rate grows linearly to this factor over ``driftMinutes`` from the start; nil for none.
        public var driftFactor: Double?
        /// How long the drift takes, minutes.
        public var driftMinutes: Double = 120
        /// A flash-sale burst: this many extra units sold over the 10 seconds from ``burstMinute``.
        public var burstUnits: Int64 = 0
        /// When the burst starts, minutes.
        public var burstMinute: Double = 120
        /// A restock of ``restockUnits`` at this minute; nil for none.
        public var restockMinute: Double?
        /// The restock's units.
        public var restockUnits: Int64 = 0

        /// Creates a show.
        public init(baseRatePerMinute: Double, surgeFactor: Double? = nil, minutes: Double, seed: UInt64) {
            self.baseRatePerMinute = baseRatePerMinute
            self.surgeFactor = surgeFactor
            self.minutes = minutes
            self.seed = seed
        }

        /// The rate at `minute` without the noise, per minute.
        public func trueRate(atMinute minute: Double) -> Double {
            var rate = baseRatePerMinute
            if let drift = driftFactor { rate *= 1 + (drift - 1) * min(1, minute / driftMinutes) }
            guard let factor = surgeFactor, minute >= surgeStartMinute else { return rate }
            let progress = min(1, (minute - surgeStartMinute) / max(rampMinutes, 1e-9))
            return rate * (1 + (factor - 1) * progress)
        }
    }

    /// What the engine raised during a show.
    public struct Outcome: Sendable {
        /// Minutes at which trend was raised before the surge began (all of them, in a flat show).
        public var falseTrends: [Double] = []
        /// The first trend raised at or after the surge began, minutes after the ramp's start; nil if none.
        public var detectionDelayMinutes: Double?
        /// Emergency raises (for time to stock-out) while the true time to stock-out exceeded 1.5 × lead time.
        public var earlyEmergencies: [Double] = []
        /// Every emergency raise, minutes into the show.
        public var emergencies: [Double] = []
        /// When the show sold out, minutes; nil if it did not.
        public var soldOutMinute: Double?
        /// Every level raised, with its minute and reason, in order.
        public var raises: [(minute: Double, level: AlertLevel, reason: AlertReason)] = []
    }

    /// Runs `show` through a fresh engine with `policy` and `configuration`.
    ///
    /// - Throws: ``AlertConfigurationError`` for a bad policy or configuration.
    public static func run(
        _ show: Show, policy: SkuPolicy = SkuPolicy(), configuration: AlertConfiguration = AlertConfiguration(),
        everyMinute: ((Double, SkuMetrics) -> Void)? = nil
    ) throws -> Outcome {
        var engine = try AlertEngine(configuration: configuration)
        let sku = try engine.addSku("sim", policy: policy, figures: StockFigures(onHand: show.onHand), at: 0)
        var random = SplitMix64(seed: show.seed &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        var outcome = Outcome()
        var sold: Int64 = 0
        var onHand = show.onHand
        var factor = 1.0
        var events: [AlertEvent] = []
        let seconds = Int(show.minutes * 60)
        let leadMinutes = Double(policy.restockLeadTime) / Double(SkuPolicy.minute)
        for second in 1...max(1, seconds) {
            if second % 60 == 1 { factor = 1 + show.noise * (2 * random.unit() - 1) }
            let minute = Double(second) / 60
            let rate = show.trueRate(atMinute: minute)
            var units = poisson(rate * factor / 60, &random)
            if show.burstUnits > 0, minute > show.burstMinute, minute <= show.burstMinute + 10.0 / 60 {
                units += show.burstUnits / 10
            }
            units = min(units, onHand - sold)
            let now = Int64(second) * SkuPolicy.second
            events.removeAll(keepingCapacity: true)
            if let restockAt = show.restockMinute, second == Int(restockAt * 60) {
                onHand += show.restockUnits
                engine.record(
                    StockObservation(
                        sku: sku, time: now, kind: .restock, quantity: show.restockUnits,
                        figures: StockFigures(onHand: onHand, sold: sold)),
                    into: &events)
            }
            if units > 0 {
                sold += units
                engine.record(
                    StockObservation(
                        sku: sku, time: now, kind: .paidUnreserved, quantity: units,
                        figures: StockFigures(onHand: onHand, sold: sold)),
                    into: &events)
            } else {
                engine.tick(now: now, into: &events)
            }
            for event in events where event.transition == .raised {
                outcome.raises.append((minute, event.level, event.reason))
                switch event.level {
                case .trend where event.reason == .surge:
                    if let start = show.surgeFactor.map({ _ in show.surgeStartMinute }), minute >= start {
                        if outcome.detectionDelayMinutes == nil { outcome.detectionDelayMinutes = minute - start }
                    } else {
                        outcome.falseTrends.append(minute)
                    }
                case .emergency where event.reason == .timeToStockOut:
                    outcome.emergencies.append(minute)
                    let trueTimeToStockOut = Double(onHand - sold) / rate
                    if trueTimeToStockOut > 1.5 * leadMinutes { outcome.earlyEmergencies.append(minute) }
                default:
                    break
                }
            }
            if let everyMinute, second % 60 == 0 { everyMinute(minute, engine.metrics(forSku: sku, now: now)) }
            if sold >= onHand, outcome.soldOutMinute == nil { outcome.soldOutMinute = minute }
        }
        return outcome
    }

    /// A Poisson draw with mean `mean`: by multiplication below 30, else the normal approximation.
    static func poisson(_ mean: Double, _ random: inout SplitMix64) -> Int64 {
        guard mean > 0 else { return 0 }
        if mean < 30 {
            let limit = exp(-mean)
            var product = random.unit()
            var count: Int64 = 0
            while product > limit {
                count += 1
                product *= random.unit()
            }
            return count
        }
        let u1 = max(random.unit(), 1e-300)
        let u2 = random.unit()
        let gauss = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        return max(0, Int64((mean + mean.squareRoot() * gauss).rounded()))
    }

    /// The shortest mean delay, in minutes, with which any detector can see a step from `rate` to `factor ×
    /// rate` (per minute) while raising about one false alarm in `falseAlarmMinutes`: Lorden's bound
    /// `ln(n) / KL`, with `n` the dispersion-adjusted events in the false-alarm time and `KL` the Kullback–Leibler
    /// information per minute of the surge, for the show's per-minute noise (dispersion `1 + rate × noise² / 3`).
    public static func detectionBound(rate: Double, factor: Double, noise: Double, falseAlarmMinutes: Double) -> Double {
        let dispersion = 1 + rate * noise * noise / 3
        let effective = rate / dispersion
        let information = effective * (factor * log(factor) - (factor - 1))
        return log(max(effective * falseAlarmMinutes, 2)) / information
    }
}
