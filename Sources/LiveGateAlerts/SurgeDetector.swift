import LiveGateCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The trend level's statistics for one SKU: a slowly adapting baseline rate, the over-dispersion of sales
/// against a Poisson process, and a one-sided CUSUM of the log-likelihood ratio "sales run at `k ×` baseline"
/// against "sales run at the baseline".
///
/// Why this test: a CUSUM is the fastest detector of a step change for a given false-alarm rate (Lorden's
/// optimality), costs O(1) per sale and two doubles of memory, and its score has a meaning an operator can
/// read (the log-odds that a surge began, against a limit). Sales are not Poisson: orders of several units,
/// viewers who buy in waves and a host who pushes in bursts make the variance of the per-minute count larger
/// than its mean. Dividing each log-likelihood increment by that ratio (the dispersion φ, a quasi-Poisson
/// model) keeps bursty but steady sales from looking like a surge. The limit grows with the logarithm of the
/// expected number of (dispersion-adjusted) sales in ``AlertConfiguration/trendFalseAlarmTime``, so that the
/// false-alarm rate in time stays about the same at 1 and at 1,000 orders a minute.
///
/// Cold start: nothing is scored until the SKU has sold for ``AlertConfiguration/trendWarmUp`` (20 minutes by
/// default, which also gives the dispersion estimate 20 minutes) and the baseline holds
/// ``SurgeDetector/minimumBaselineUnits`` units: with the defaults, 20 minutes of sales at 0.5 units a minute
/// or more.
///
/// All times are nanoseconds of core time. Plain values only, so updating it never allocates.
struct SurgeDetector: Sendable, Hashable {
    /// The least number of units the baseline must hold before the score counts.
    static let minimumBaselineUnits = 10.0
    /// The weight of a new minute in the dispersion estimate (about the last 60 minutes).
    static let dispersionWeight = 1.0 / 60

    /// Decayed units sold, with time constant ``AlertConfiguration/trendBaselineTime``; the baseline rate is
    /// `mass / τ`, corrected for a history shorter than τ.
    var baselineMass: Double = 0
    /// Core time ``baselineMass`` was last brought up to date.
    var baselineAt: Int64 = .min
    /// Core time of the SKU's first sale, `Int64.min` before it.
    var historyStart: Int64 = .min
    /// The CUSUM score: the log-likelihood ratio of a surge since the most likely start, dispersion-adjusted.
    var score: Double = 0
    /// Core time the score was last brought up to date.
    var scoreAt: Int64 = .min
    /// The minute (core seconds / 60) being counted, `Int64.min` before the first sale.
    var minute: Int64 = .min
    /// Units sold in ``minute``.
    var minuteUnits: Double = 0
    /// Exponentially weighted mean of the per-minute unit count, over closed minutes.
    var countMean: Double = 0
    /// Exponentially weighted mean of its square.
    var countSquare: Double = 0
    /// The total weight of the closed minutes (1 − (1 − w)^minutes), to correct the means for a short history.
    var countWeight: Double = 0

    /// The baseline rate at `now` in units per second, 0 before any sale.
    func baselineRate(at now: Int64, timeConstant: Int64) -> Double {
        guard historyStart != .min else { return 0 }
        let tau = Double(timeConstant) / 1e9
        let mass = baselineMass * AlertEngine.decay(from: baselineAt, to: now, timeConstant: timeConstant)
        // An EWMA over a history of h seconds holds rate × τ × (1 − e^(−h/τ)); divide it out. At least a
        // minute of history counts, so that the first sale does not read as an infinite rate.
        let history = max(60, Double(now - historyStart) / 1e9)
        return mass / (tau * (1 - exp(-history / tau)))
    }

    /// The units the baseline holds at `now` (its information: a rate estimated from n units is good to
    /// about ±1/√n).
    func baselineUnits(at now: Int64, timeConstant: Int64) -> Double {
        let tau = Double(timeConstant) / 1e9
        let history = max(60, Double(now - historyStart) / 1e9)
        return baselineRate(at: now, timeConstant: timeConstant) * min(tau, history)
    }

    /// The dispersion φ ≥ 1: the variance of the per-minute count over its mean (1 for a Poisson process),
    /// widened by `1 + 1/√m` for an estimate from about m minutes, so that a short history does not understate it.
    var dispersion: Double {
        guard countWeight > 0.05, countMean > 0 else { return 1 }
        let mean = countMean / countWeight
        let variance = max(0, countSquare / countWeight - mean * mean)
        // The effective number of minutes behind an EWMA of weight w and total weight W: W(2 − w) / (w(2 − W)).
        let w = SurgeDetector.dispersionWeight
        let minutes = countWeight * (2 - w) / (w * (2 - min(countWeight, 1.999)))
        return max(1, variance / mean * (1 + 1 / minutes.squareRoot()))
    }

    /// Closes the minutes before `second`'s minute into the dispersion estimate.
    ///
    /// A minute is counted at most at `mean + 5 √(φ·mean) + 5` units, so that one burst (a flash sale, a bulk
    /// order) does not inflate φ for hours; minutes closed while a surge is suspected (`counting` false) are
    /// left out, so a surge does not blunt its own detection.
    mutating func advanceMinute(toSecond second: Int64, counting: Bool = true) {
        let now = second >= 0 ? second / 60 : (second - 59) / 60
        guard minute != .min, now > minute else {
            if minute == .min { minute = now }
            return
        }
        let w = SurgeDetector.dispersionWeight
        if counting {
            let mean = countWeight > 0.05 ? countMean / countWeight : minuteUnits
            let counted = min(minuteUnits, mean + 5 * (dispersion * mean).squareRoot() + 5)
            countMean = countMean * (1 - w) + w * counted
            countSquare = countSquare * (1 - w) + w * counted * counted
            countWeight = countWeight * (1 - w) + w
        }
        // The minutes between without a sale count as zeros, in closed form.
        let empty = Double(min(now - minute - 1, 100_000))
        if empty > 0 {
            let keep = pow(1 - w, empty)
            countMean *= keep
            countSquare *= keep
            countWeight = countWeight * keep + (1 - keep)
        }
        minute = now
        minuteUnits = 0
    }

    /// The score's limit at `now`: `ln(expected dispersion-adjusted sales in the false-alarm time)`, at least 6.
    func limit(at now: Int64, configuration: AlertConfiguration) -> Double {
        let rate = baselineRate(at: now, timeConstant: configuration.trendBaselineTime) / dispersion
        let events = rate * Double(configuration.trendFalseAlarmTime) / 1e9
        return max(6, log(max(events, 1)))
    }

    /// Whether the baseline is good enough to score against.
    func isArmed(at now: Int64, configuration: AlertConfiguration) -> Bool {
        historyStart != .min && now - historyStart >= configuration.trendWarmUp
            && baselineUnits(at: now, timeConstant: configuration.trendBaselineTime) >= SurgeDetector.minimumBaselineUnits
    }

    /// Brings the score to `now` and adds `units` sold at `now`, then the baseline and the dispersion count.
    ///
    /// - Parameters:
    ///   - units: units sold at `now` (0 to only let time pass).
    ///   - factor: the surge ratio k the test is tuned to (``SkuPolicy/trendFactor``).
    ///   - armed: whether to score (else the score stays 0): the baseline is ready and no launch is quiet.
    mutating func record(units: Double, at now: Int64, factor: Double, armed: Bool, configuration: AlertConfiguration) {
        let timeConstant = configuration.trendBaselineTime
        // A SKU that has not sold for at least the baseline's time constant, so long that its baseline holds
        // less than a unit, starts cold again:
        // scoring a reopened SKU against a near-zero baseline would call its first sales a surge.
        if units > 0, historyStart != .min, now - baselineAt >= timeConstant,
            baselineMass * AlertEngine.decay(from: baselineAt, to: now, timeConstant: timeConstant) < 1
        {
            self = SurgeDetector()
        }
        // While the score is past a third of its limit, a surge may be under way: over that time the baseline
        // stands still (no decay, no new sales, and its history does not lengthen), so that a surge does not
        // become its own baseline before it is caught. Steady sales pass a third of the limit rarely and briefly.
        let wasSuspect = armed && score > 0 && score >= max(limit(at: now, configuration: configuration) / 4, 2.5)
        if wasSuspect, baselineAt != .min, now > baselineAt {
            let frozen = now - baselineAt
            historyStart = min(now, historyStart &+ frozen)
            baselineAt = now
        }
        if armed {
            let rate = baselineRate(at: now, timeConstant: timeConstant)
            let phi = dispersion
            if scoreAt != .min && now > scoreAt {
                let elapsed = Double(now - scoreAt) / 1e9
                score = max(0, score - (factor - 1) * rate * elapsed / phi)
            }
            score += units * log(factor) / phi
        } else {
            score = 0
        }
        scoreAt = now
        guard units > 0 else { return }
        if historyStart == .min { historyStart = now }
        if !wasSuspect {
            baselineMass = baselineMass * AlertEngine.decay(from: baselineAt, to: now, timeConstant: timeConstant) + units
            baselineAt = now
        }
        advanceMinute(toSecond: AlertEngine.second(of: now), counting: !wasSuspect)
        minuteUnits += units
    }
}
