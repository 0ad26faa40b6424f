import Foundation

/// The figures of one run, in print order: one JSON object with `--json`, a table otherwise.
struct RunFigures {
    enum Value {
        case integer(Int)
        case number(Double)
        case text(String)
        case flag(Bool)
    }

    private(set) var entries: [(key: String, value: Value)] = []

    mutating func set(_ key: String, _ value: Int) { put(key, .integer(value)) }
    mutating func set(_ key: String, _ value: Double) { put(key, .number(value.isFinite ? value : 0)) }
    mutating func set(_ key: String, _ value: String) { put(key, .text(value)) }
    mutating func set(_ key: String, _ value: Bool) { put(key, .flag(value)) }

    private mutating func put(_ key: String, _ value: Value) {
        if let index = entries.firstIndex(where: { $0.key == key }) {
            entries[index].value = value
        } else {
            entries.append((key, value))
        }
    }

    /// A numeric figure, if present.
    func number(_ key: String) -> Double? {
        switch entries.first(where: { $0.key == key })?.value {
        case .integer(let value): Double(value)
        case .number(let value): value
        case .flag(let value): value ? 1 : 0
        default: nil
        }
    }

    /// A text figure, if present.
    func text(_ key: String) -> String? {
        if case .text(let value) = entries.first(where: { $0.key == key })?.value { return value }
        return nil
    }

    /// One line of JSON.
    var json: String {
        var parts: [String] = []
        for (key, value) in entries {
            let rendered: String
            switch value {
            case .integer(let number): rendered = String(number)
            case .number(let number): rendered = String(format: "%.6g", number)
            case .flag(let flag): rendered = flag ? "true" : "false"
            case .text(let text):
                let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
                    of: "\"", with: "\\\"")
                rendered = "\"\(escaped)\""
            }
            parts.append("\"\(key)\":\(rendered)")
        }
        return "{" + parts.joined(separator: ",") + "}"
    }
}

/// How a column of the human table is shown.
enum FigureFormat {
    /// 2.81 M, 950 k, 812.
    case count
    /// Nanoseconds shown as ms or µs.
    case nanoseconds
    /// A percentage of one core.
    case percent
    /// Bytes.
    case bytes
    /// A plain number with two decimals.
    case ratio
    /// An integer as is.
    case plain

    func render(_ value: Double) -> String {
        switch self {
        case .count:
            if value >= 1e6 { return String(format: "%.2f M", value / 1e6) }
            if value >= 1e4 { return String(format: "%.0f k", value / 1e3) }
            if value >= 1e3 { return String(format: "%.1f k", value / 1e3) }
            return String(format: "%.0f", value)
        case .nanoseconds:
            if value >= 1e9 { return String(format: "%.2f s", value / 1e9) }
            if value >= 1e6 { return String(format: "%.2f ms", value / 1e6) }
            return String(format: "%.0f µs", value / 1e3)
        case .percent: return String(format: "%.0f %%", value)
        case .bytes: return String(format: "%.0f B", value)
        case .ratio: return String(format: "%.2f", value)
        case .plain: return String(format: "%.0f", value)
        }
    }
}

/// Prints each run's JSON (with `--json`) or, after all runs, a table of median [min–max].
struct RunReporter {
    let isJSON: Bool
    /// (key, label, format) of the table's rows.
    let rows: [(key: String, label: String, format: FigureFormat)]

    /// Called after each run.
    func runFinished(_ figures: RunFigures, run: Int, of runs: Int) {
        if isJSON {
            writeStandardOutput(figures.json + "\n")
        } else {
            let summary = rows.prefix(3).compactMap { row in
                figures.number(row.key).map { "\(row.label) \(row.format.render($0))" }
            }
            FileHandle.standardError.write(Data("run \(run + 1)/\(runs): \(summary.joined(separator: ", "))\n".utf8))
        }
    }

    /// Called after the last run.
    func finish(_ all: [RunFigures], title: String) {
        guard !isJSON, !all.isEmpty else { return }
        var text = "\n\(title)\(all.count > 1 ? " — median [min–max] of \(all.count) runs" : "")\n"
        let width = max(24, (rows.map(\.label.count).max() ?? 0) + 2)
        for row in rows {
            let values = all.compactMap { $0.number(row.key) }.sorted()
            guard !values.isEmpty else { continue }
            let median = values[values.count / 2]
            var line = row.label.padding(toLength: width, withPad: " ", startingAt: 0) + row.format.render(median)
            if values.count > 1 {
                line += "  [\(row.format.render(values.first!))–\(row.format.render(values.last!))]"
            }
            text += line + "\n"
        }
        if let end = all.last?.text("end") {
            text += "end".padding(toLength: width, withPad: " ", startingAt: 0) + end + "\n"
        }
        writeStandardOutput(text)
    }
}

/// Options every network scenario takes.
struct NetworkOptions {
    var runs: Int
    var isJSON: Bool
    var serverCPU: Int
    var generatorCPU: Int
    var timeoutSeconds: Double

    init(_ options: BenchOptions) throws {
        runs = try options.integer("--runs", default: 1)
        isJSON = options.flag("--json")
        let pin = !options.flag("--no-pin") && Int(livegateCPUCount()) >= 2
        serverCPU = pin ? try options.integer("--server-cpu", default: 0) : -1
        generatorCPU = pin ? try options.integer("--loadgen-cpu", default: 1) : -1
        timeoutSeconds = Double(try options.integer("--timeout", default: 60))
        guard runs >= 1 && runs <= 20 else { throw BenchUsageError(description: "--runs 1…20") }
    }
}
