import Foundation
import LiveGateCore

/// Some of a SKU's policy fields, by the names of the `policy` command (``SkuPolicy/fields``): a scenario's
/// `policy` object, a `policy` action, or a what-if override. Durations are seconds; the deprecated `…Sec`
/// names are read as their `…Seconds` fields.
///
/// Every value is checked against its field's range when it is read, so applying the fields to a policy only
/// fails on a rule between fields (two trend windows must fit in the alert horizon).
public struct PolicyFields: Codable, Sendable, Hashable {
    /// The values set, by ``SkuPolicy/Field/name``.
    public private(set) var values: [String: Double] = [:]

    /// No field set.
    public init() {}

    /// Sets the field called `name` (its name, a deprecated name or its short name).
    /// - Throws: ``SkuPolicyError`` for an unknown name or a value out of the field's range.
    public mutating func set(_ name: String, to value: Double) throws(SkuPolicyError) {
        guard let field = SkuPolicy.field(named: name) else {
            throw SkuPolicyError(
                field: name, reason: "unknown policy field (known: \(SkuPolicy.fields.map(\.name).joined(separator: ", ")))")
        }
        var scratch = SkuPolicy()
        try scratch.set(field, to: value)
        values[field.name] = value
    }

    /// The fields set in `other` replace these.
    public func merged(with other: PolicyFields) -> PolicyFields {
        var result = self
        result.values.merge(other.values) { _, new in new }
        return result
    }

    /// `base` with these fields applied.
    /// - Throws: ``SkuPolicyError`` if a value is out of range (it was checked when read, so only a value set
    ///   in code can be).
    public func apply(to base: SkuPolicy) throws(SkuPolicyError) -> SkuPolicy {
        var policy = base
        for field in SkuPolicy.fields {
            if let value = values[field.name] { try policy.set(field, to: value) }
        }
        return policy
    }

    /// The fields that are set, by name, in the order of ``SkuPolicy/fields``.
    public var entries: [(String, Double)] {
        SkuPolicy.fields.compactMap { field in values[field.name].map { (field.name, $0) } }
    }

    /// A key of a policy object: any string.
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Reads a policy object: numbers by field name.
    /// - Throws: `DecodingError.dataCorrupted` naming the key for an unknown field or a bad value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        for key in container.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
            let value = try container.decode(Double.self, forKey: key)
            do {
                try set(key.stringValue, to: value)
            } catch {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: error.reason)
            }
        }
    }

    /// Writes the fields set, by name.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for (name, value) in entries { try container.encode(value, forKey: Key(stringValue: name)) }
    }

    /// Parses a what-if override: `k=1.5,window=3m,safety=80`: a field's short name (`k`, `window`, `safety`,
    /// `volume`, `lead`, `factor`, `cooldown`, `emergency`, `watch`, `margin`, `timeout`) or name, and a number
    /// (a duration such as `90s`, `3m` or `1h` for the `…Seconds` fields).
    /// - Throws: ``ScenarioError`` naming the bad key or value.
    public static func parseOverride(_ text: String) throws -> PolicyFields {
        var fields = PolicyFields()
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ScenarioError(file: "--policy", field: String(pair), message: "expected key=value")
            }
            let key = parts[0]
            let raw = parts[1]
            guard let field = SkuPolicy.field(named: key) else {
                let short = SkuPolicy.fields.compactMap(\.shortName).joined(separator: ", ")
                throw ScenarioError(file: "--policy", field: key, message: "unknown key (use \(short) or a policy field name)")
            }
            let parsed: Double? = field.isDuration ? ScenarioTime.parse(raw).map(Double.init) : Double(raw)
            guard let value = parsed else {
                throw ScenarioError(
                    file: "--policy", field: key, message: "'\(raw)' is not a \(field.isDuration ? "duration" : "number")")
            }
            do {
                try fields.set(field.name, to: value)
            } catch {
                throw ScenarioError(file: "--policy", field: key, message: error.reason)
            }
        }
        guard !fields.entries.isEmpty else { throw ScenarioError(file: "--policy", field: "", message: "no setting given") }
        return fields
    }
}
