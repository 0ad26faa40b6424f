import Foundation

/// A time in a scenario, in whole seconds.
public struct ScenarioTime: Decodable, Sendable, Hashable, Comparable {
    /// Seconds.
    public var seconds: Int64

    /// Creates a time of `seconds`.
    public init(seconds: Int64) { self.seconds = seconds }

    /// Earlier.
    public static func < (lhs: ScenarioTime, rhs: ScenarioTime) -> Bool { lhs.seconds < rhs.seconds }

    /// Decodes a number of seconds or a time string.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            guard number.isFinite, number >= 0, number < 1e9 else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "a time must be 0…1e9 seconds")
            }
            seconds = Int64(number.rounded())
            return
        }
        guard let text = try? container.decode(String.self), let parsed = ScenarioTime.parse(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected seconds, \"h:mm:ss\", \"h:mm\" or a number with s, m or h")
        }
        seconds = parsed
    }

    /// Parses `"3:00:00"`, `"3:05"` (h:mm), `"20m"`, `"90s"`, `"6h"`, `"1.5h"` or `"120"`.
    public static func parse(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.contains(":") {
            let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false).map { Int64($0) }
            guard parts.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
            let values = parts.map { $0! }
            switch values.count {
            case 2: return values[1] < 60 ? values[0] * 3600 + values[1] * 60 : nil
            case 3: return values[1] < 60 && values[2] < 60 ? values[0] * 3600 + values[1] * 60 + values[2] : nil
            default: return nil
            }
        }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
        var number = Substring(trimmed)
        var scale = 1.0
        if let last = trimmed.last, let unit = units[last] {
            number = trimmed.dropLast()
            scale = unit
        }
        guard let value = Double(number), value.isFinite, value >= 0, value * scale < 1e9 else { return nil }
        return Int64((value * scale).rounded())
    }

    /// `h:mm:ss`.
    public var clock: String { ScenarioTime.clock(seconds) }

    /// `h:mm:ss` of `seconds`.
    public static func clock(_ seconds: Int64) -> String {
        let sign = seconds < 0 ? "-" : ""
        let total = abs(seconds)
        let minutes = total / 60 % 60
        let rest = total % 60
        return "\(sign)\(total / 3600):\(minutes < 10 ? "0" : "")\(minutes):\(rest < 10 ? "0" : "")\(rest)"
    }
}
