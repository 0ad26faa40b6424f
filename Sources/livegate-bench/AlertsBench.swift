import Foundation
import LiveGateAlerts
import LiveGateCore

/// `livegate-bench alerts`: the alert engine's quality with the shipped default policy on seeded synthetic
/// shows (``AlertSimulation``): false trend alerts in long flat shows, early emergencies, and how often and how
/// fast ×2 and ×3 surges are caught, against the statistical bound, at several base rates.
enum AlertsBench: BenchScenario {
    static let name = "alerts"
    static let summary = "alert quality on seeded shows: false trends, early emergencies, surge detection  [--hours H] [--seeds N] [--json]"
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

    static func run(_ options: BenchOptions) throws -> Int32 {
        let hours = Double(try options.integer("--hours", default: 300))
        let seeds = try options.integer("--seeds", default: 40)
        guard hours >= 1, seeds >= 1 else { throw BenchUsageError(description: "--hours ≥ 1, --seeds ≥ 1") }
        if let trace = options.string("--trace") {
            // --trace RATE,FACTOR,SEED: the trend test's figures each minute of one surge show.
            let parts = trace.split(separator: ",").compactMap { Double($0) }
            guard parts.count == 3 else { throw BenchUsageError(description: "--trace RATE,FACTOR,SEED") }
            let show = AlertSimulation.Show(
                baseRatePerMinute: parts[0], surgeFactor: parts[1], minutes: 180, seed: UInt64(parts[2]))
            _ = try AlertSimulation.run(show) { minute, m in
                writeStandardOutput(String(
                    format: "%5.0f  level %@  recent %.1f  baseline %.2f  score %.2f / %.2f  φ %.2f  armed %@\n", minute,
                    m.level.description, m.recentRatePerMinute, m.baselineRatePerMinute, m.trendScore, m.trendLimit,
                    m.dispersion, m.trendArmed ? "yes" : "no"))
            }
            return 0
        }
        let rates: [Double] = [0.5, 2, 10, 100, 1000]
        let factors: [Double] = [2, 3]
        let configuration = AlertConfiguration()
        let falseAlarmMinutes = 300.0 * 60
        var rows: [Row] = []
        let started = Date()
        for rate in rates {
            var row = Row(rate: rate)
            // Flat: the hours as 30-hour shows, each from a cold start.
            let showMinutes = 30.0 * 60
            var seed: UInt64 = 1
            while row.flatHours < hours {
                let minutes = min(showMinutes, (hours - row.flatHours) * 60)
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
            // Surges: two hours flat, then a 3-minute ramp to ×k, held for an hour.
            for factor in factors {
                for index in 0..<seeds {
                    let show = AlertSimulation.Show(
                        baseRatePerMinute: rate, surgeFactor: factor, minutes: 180, seed: 20_000 + UInt64(index))
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
        func median(_ values: [Double]) -> Double? {
            guard !values.isEmpty else { return nil }
            let sorted = values.sorted()
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        func f(_ value: Double?) -> String { value.map { String(format: "%.1f", $0) } ?? "–" }
        if options.flag("--json") {
            for row in rows {
                var fields = [
                    "\"ratePerMin\":\(row.rate)", "\"flatHours\":\(row.flatHours)", "\"falseTrends\":\(row.falseTrends)",
                    "\"earlyEmergencies\":\(row.earlyEmergencies)", "\"surgeShowFalseTrends\":\(row.surgeFalseTrends)",
                ]
                for factor in factors {
                    let k = Int(factor)
                    fields.append("\"x\(k)Detected\":\(row.detected[factor] ?? 0)")
                    fields.append("\"x\(k)Shows\":\(row.shows[factor] ?? 0)")
                    fields.append("\"x\(k)MedianDelayMin\":\(median(row.delays[factor] ?? []).map { String($0) } ?? "null")")
                    let bound = AlertSimulation.detectionBound(rate: row.rate, factor: factor, noise: 0.3, falseAlarmMinutes: falseAlarmMinutes)
                    fields.append("\"x\(k)BoundMin\":\(bound)")
                }
                writeStandardOutput("{" + fields.joined(separator: ",") + "}\n")
            }
        } else {
            var text = "alerts: default policy, ±30 % per-minute noise; flat \(f(hours)) h per rate; \(seeds) surge shows per cell (\(f(seconds)) s)\n"
            text += "rate/min  flat false trends  early emergencies  ×2 caught  ×2 median delay (bound)  ×3 caught  ×3 median delay (bound)\n"
            for row in rows {
                var line = String(format: "%8.1f  %17d  %8d in %2d shows", row.rate, row.falseTrends, row.earlyEmergencies, row.emergencyShows)
                for factor in factors {
                    let shows = row.shows[factor] ?? 0
                    let caught = row.detected[factor] ?? 0
                    let bound = AlertSimulation.detectionBound(rate: row.rate, factor: factor, noise: 0.3, falseAlarmMinutes: falseAlarmMinutes)
                    line += String(format: "  %4d/%-4d", caught, shows)
                    line += "  " + "\(f(median(row.delays[factor] ?? []))) min (\(f(bound)))".padding(toLength: 22, withPad: " ", startingAt: 0)
                }
                text += line + (row.surgeFalseTrends > 0 ? "  (+\(row.surgeFalseTrends) false before surges)" : "") + "\n"
            }
            text += "bound: Lorden's ln(n)/KL for one false alarm in 300 h, with the noise as dispersion 1 + rate·0.3²/3\n"
            writeStandardOutput(text)
        }
        return 0
    }
}
