import Foundation
import LiveGateAlerts
import LiveGateCore

/// `livegate-bench alerts`: the alert engine's quality with the shipped default policy on seeded synthetic
/// shows (``AlertSimulation``): false trend alerts in long flat shows, early emergencies, and how often and how
/// fast ×2 and ×3 surges are caught, against the statistical bound, at several base rates.
enum AlertsBench: BenchScenario {
    static let name = "alerts"
    static let summary = "alert quality on seeded shows: false trends, early emergencies, surge detection  [--hours H] [--seeds N] [--ramp MIN] [--json]"
    static let isHidden = false

    /// One base rate's figures.
    struct Row {
        var rate: Double
        var flatHours: Double = 0
        var falseTrends = 0
        var emergencyShows = 0
        var earlyEmergencies = 0
        var detected: [Double: Int] = [:]
        var shows: [Double: Int] = [:]
        var delays: [Double: [Double]] = [:]
        var surgeFalseTrends = 0
    }

    /// The issue's special cases at 10 orders a minute: a restock mid-sale, a flash-sale burst and a slow drift.
    static func specialShows() -> [(String, AlertSimulation.Show)] {
        var restock = AlertSimulation.Show(baseRatePerMinute: 10, minutes: 240, seed: 7)
        restock.onHand = 1500
        restock.restockMinute = 120
        restock.restockUnits = 1000
        var burst = AlertSimulation.Show(baseRatePerMinute: 10, minutes: 240, seed: 7)
        burst.onHand = 3000
        burst.burstUnits = 1000
        var drift = AlertSimulation.Show(baseRatePerMinute: 10, minutes: 240, seed: 7)
        drift.onHand = 3000
        drift.driftFactor = 1.5
        return [
            ("1,500 units, restock of 1,000 at 2:00", restock), ("3,000 units, flash burst of 1,000 units in 10 s at 2:00", burst),
            ("3,000 units, slow drift +50 % over 2 h", drift),
        ]
    }

    static func run(_ options: BenchOptions) throws -> Int32 {
        let hours = Double(try options.integer("--hours", default: 300))
        let seeds = try options.integer("--seeds", default: 50)
        let ramp = Double(try options.integer("--ramp", default: 10))
        guard hours >= 1, seeds >= 1 else { throw BenchUsageError(description: "--hours ≥ 1, --seeds ≥ 1") }
        if let trace = options.string("--trace") {
            // --trace RATE,FACTOR,SEED: the trend test's figures each minute of one surge show.
            // --trace RATE,FACTOR,SEED[,RAMP]: the surge starts at 2:00 and ramps over RAMP minutes (default 10).
            let parts = trace.split(separator: ",").compactMap { Double($0) }
            guard (3...5).contains(parts.count) else { throw BenchUsageError(description: "--trace RATE,FACTOR,SEED[,RAMP[,START]]") }
            var show = AlertSimulation.Show(
                baseRatePerMinute: parts[0], surgeFactor: parts[1], minutes: 190, seed: UInt64(parts[2]))
            show.rampMinutes = parts.count >= 4 ? parts[3] : 10
            if parts.count == 5 { show.surgeStartMinute = parts[4] }
            _ = try AlertSimulation.run(show) { minute, m in
                writeStandardOutput(String(
                    format: "%5.0f  level %@  recent %.1f  baseline %.2f  score %.2f / %.2f  φ %.2f  armed %@\n", minute,
                    m.level.description, m.recentRatePerMinute, m.baselineRatePerMinute, m.trendScore, m.trendLimit,
                    m.dispersion, m.trendArmed ? "yes" : "no"))
            }
            return 0
        }
        let rates: [Double] = [0.5, 2, 10, 100, 1000]
        let factors: [Double] = [1.5, 2, 3]
        let configuration = AlertConfiguration()
        let falseAlarmMinutes = 300.0 * 60
        var rows: [Row] = []
        let started = Date()
        for rate in rates {
            var row = Row(rate: rate)
            // Flat: the hours as 6-hour shows, each from a cold start.
            var seed: UInt64 = 1
            while row.flatHours < hours {
                let minutes = min(360, (hours - row.flatHours) * 60)
                let outcome = try AlertSimulation.run(
                    AlertSimulation.Show(baseRatePerMinute: rate, minutes: minutes, seed: seed), configuration: configuration)
                row.falseTrends += outcome.falseTrends.count
                row.flatHours += minutes / 60
                seed += 1
            }
            // Emergencies: flat shows that sell out in about 5 hours, a one-hour restock lead time.
            var leadPolicy = SkuPolicy()
            leadPolicy.restockLeadTime = 60 * SkuPolicy.minute
            for index in 0..<min(seeds, 20) {
                var show = AlertSimulation.Show(baseRatePerMinute: rate, minutes: 330, seed: 10_000 + UInt64(index))
                show.onHand = Int64(rate * 300)
                let outcome = try AlertSimulation.run(show, policy: leadPolicy, configuration: configuration)
                row.emergencyShows += 1
                row.earlyEmergencies += outcome.earlyEmergencies.count
            }
            // Surges: a 10-minute ramp to ×k at a random time between 1 and 2 hours in, held for an hour.
            for factor in factors {
                for index in 0..<seeds {
                    var mix = SplitMix64(seed: 30_000 + UInt64(index))
                    var show = AlertSimulation.Show(
                        baseRatePerMinute: rate, surgeFactor: factor, minutes: 0, seed: 20_000 + UInt64(index))
                    show.rampMinutes = ramp
                    show.surgeStartMinute = 60 + 60 * mix.unit()
                    show.minutes = show.surgeStartMinute + 70
                    let outcome = try AlertSimulation.run(show, configuration: configuration)
                    row.shows[factor, default: 0] += 1
                    row.surgeFalseTrends += outcome.falseTrends.count
                    if let delay = outcome.detectionDelayMinutes {
                        row.detected[factor, default: 0] += 1
                        row.delays[factor, default: []].append(delay)
                    }
                }
            }
            rows.append(row)
        }
        let seconds = Date().timeIntervalSince(started)
        func quantile(_ values: [Double], _ q: Double) -> Double? {
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))]
        }
        /// The issue's Lorden bound for a Poisson rate change: ln(γ) / (λ₀ (ρ ln ρ − ρ + 1)), γ in minutes.
        func poissonBound(_ rate: Double, _ factor: Double) -> Double {
            log(falseAlarmMinutes) / (rate * (factor * log(factor) - factor + 1))
        }
        func f(_ value: Double?) -> String { value.map { String(format: "%.1f", $0) } ?? "–" }
        if options.flag("--json") {
            for row in rows {
                var fields = [
                    "\"ratePerMin\":\(row.rate)", "\"flatHours\":\(row.flatHours)", "\"falseTrends\":\(row.falseTrends)",
                    "\"earlyEmergencies\":\(row.earlyEmergencies)", "\"surgeShowFalseTrends\":\(row.surgeFalseTrends)",
                ]
                for factor in factors {
                    let k = String(factor)
                    let delays = row.delays[factor] ?? []
                    fields.append("\"x\(k)Detected\":\(row.detected[factor] ?? 0)")
                    fields.append("\"x\(k)Shows\":\(row.shows[factor] ?? 0)")
                    fields.append("\"x\(k)MedianDelayMin\":\(quantile(delays, 0.5).map { String($0) } ?? "null")")
                    fields.append("\"x\(k)P95DelayMin\":\(quantile(delays, 0.95).map { String($0) } ?? "null")")
                    fields.append("\"x\(k)PoissonBoundMin\":\(poissonBound(row.rate, factor))")
                    let noise = AlertSimulation.detectionBound(rate: row.rate, factor: factor, noise: 0.3, falseAlarmMinutes: falseAlarmMinutes)
                    fields.append("\"x\(k)NoiseBoundMin\":\(noise)")
                }
                writeStandardOutput("{" + fields.joined(separator: ",") + "}\n")
            }
        } else {
            var text = "alerts: default policy, ±30 % per-minute noise; flat \(f(hours)) h per rate (6-hour shows); "
                + "\(seeds) surge shows per cell, \(f(ramp))-minute ramp at a random time (\(f(seconds)) s)\n"
            text += "rate/min  false trends  early emergencies | per surge ×k: caught, median and p95 delay in min, median ÷ Poisson bound [bound with the noise]\n"
            for row in rows {
                var line = String(format: "%8.1f  %12d  %6d in %2d shows", row.rate, row.falseTrends, row.earlyEmergencies, row.emergencyShows)
                for factor in factors {
                    let delays = row.delays[factor] ?? []
                    let median = quantile(delays, 0.5)
                    let bound = poissonBound(row.rate, factor)
                    let noise = AlertSimulation.detectionBound(rate: row.rate, factor: factor, noise: 0.3, falseAlarmMinutes: falseAlarmMinutes)
                    line += " | ×\(f(factor)) \(row.detected[factor] ?? 0)/\(row.shows[factor] ?? 0) \(f(median)) \(f(quantile(delays, 0.95))) "
                        + "\(median.map { String(format: "%.1f×", $0 / bound) } ?? "–") [\(f(noise))]"
                }
                text += line + (row.surgeFalseTrends > 0 ? "  (+\(row.surgeFalseTrends) false before surges)" : "") + "\n"
            }
            text += "Poisson bound: ln(γ)/(λ₀(ρ ln ρ − ρ + 1)), γ = 300 h; [bound with the noise]: the same with λ₀/φ, φ = 1 + λ₀·0.3²/3 per minute\n"
            text += "what fires (10/min, 4 h, default policy, 30 min lead; level@h:mm, reason):\n"
            for (label, show) in specialShows() {
                let outcome = try AlertSimulation.run(show, configuration: configuration)
                let raised = outcome.raises.map { raise -> String in
                    let minutes = Int(raise.minute)
                    return "\(raise.level)@\(minutes / 60):\(String(format: "%02d", minutes % 60)) (\(raise.reason))"
                }
                text += "  \(label): " + (raised.isEmpty ? "nothing" : raised.joined(separator: ", ")) + "\n"
            }
            writeStandardOutput(text)
        }
        return 0
    }
}
