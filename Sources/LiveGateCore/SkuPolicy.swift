/// A SKU's policy: the reservation timeout the stock core applies, and the knobs the alert engine reads.
///
/// This is the one policy type. The stock core journals it (`createSku`, `setPolicy`) and stores it in its
/// snapshot; the alert engine keeps a copy per SKU in its own snapshot; both encode it with
/// ``encode(into:)``. Outside the process a policy is a set of named fields, and ``fields`` is the one table of
/// them: the config's `policy` objects, the `policy` command, the replay's what-if settings and the docs all go
/// through it, so a field is added in one place.
///
/// All durations are nanoseconds of core time (`Int64`); on the wire and in the config they are seconds and
/// the field's name ends in `Seconds`.
public struct SkuPolicy: Hashable, Sendable {
    /// One second in nanoseconds of core time.
    public static let second: Int64 = 1_000_000_000
    /// One minute in nanoseconds of core time.
    public static let minute: Int64 = 60 * second

    /// The smallest safety line in sellable units: the threshold level fires at or below
    /// `max(safetyMinimum, ceil(rate × restockLeadTime × safetyFactor))`. Default 20.
    public var safetyMinimum: Int64
    /// How long a restock takes to arrive, in nanoseconds: drives the safety line and the emergency level.
    /// Default 30 minutes.
    public var restockLeadTime: Int64
    /// How much of the lead time's sales the safety line covers. Default 1.5.
    public var safetyFactor: Double
    /// Trend level: the smallest surge worth an alert, as a ratio to the baseline rate; the surge test is tuned
    /// to detect a rise to this many times the baseline (see `SurgeDetector`). Default 2.
    public var trendFactor: Double
    /// The length of each of the two velocity windows, in nanoseconds, a whole number of seconds; two must fit
    /// in the alert engine's horizon. Default 5 minutes.
    public var trendWindow: Int64
    /// Trend level: the least units sold in the recent window for an acceleration to count. Default 10.
    public var trendMinimumVolume: Int64
    /// Trend level also when the sold count crosses this mark; 0 turns the mark off. Default 0.
    public var watchMark: Int64
    /// Emergency level also at or below this many sellable units. Default 5.
    public var emergencyLine: Int64
    /// The least time a raised level stays up, in nanoseconds, unless a restock lifts it. Default 5 minutes.
    public var cooldown: Int64
    /// How far past its line a condition must clear before the level falls, as a fraction of the line
    /// (0.2 = 20 %; unit lines clear by at least one unit). Default 0.2.
    public var hysteresisMargin: Double
    /// How long an unpaid reservation holds stock before the stock core expires it, in nanoseconds. Must be
    /// positive and shorter than the core's key retention. Default 15 minutes.
    public var reservationTimeout: Int64
    /// The SKU the host should pitch instead at emergency and sold out; nil for none.
    public var substitute: String?

    /// Creates a policy; every parameter has the documented default.
    public init(
        safetyMinimum: Int64 = 20,
        restockLeadTime: Int64 = 30 * SkuPolicy.minute,
        safetyFactor: Double = 1.5,
        trendFactor: Double = 2,
        trendWindow: Int64 = 5 * SkuPolicy.minute,
        trendMinimumVolume: Int64 = 10,
        watchMark: Int64 = 0,
        emergencyLine: Int64 = 5,
        cooldown: Int64 = 5 * SkuPolicy.minute,
        hysteresisMargin: Double = 0.2,
        reservationTimeout: Int64 = 15 * SkuPolicy.minute,
        substitute: String? = nil
    ) {
        self.safetyMinimum = safetyMinimum
        self.restockLeadTime = restockLeadTime
        self.safetyFactor = safetyFactor
        self.trendFactor = trendFactor
        self.trendWindow = trendWindow
        self.trendMinimumVolume = trendMinimumVolume
        self.watchMark = watchMark
        self.emergencyLine = emergencyLine
        self.cooldown = cooldown
        self.hysteresisMargin = hysteresisMargin
        self.reservationTimeout = reservationTimeout
        self.substitute = substitute
    }

    /// The trend window in whole seconds.
    public var trendWindowSeconds: Int { Int(trendWindow / SkuPolicy.second) }
}

// MARK: - The field table

extension SkuPolicy {
    /// One named policy field as the config, the `policy` command and the replay see it.
    public struct Field: Sendable, CustomStringConvertible {
        /// How a field's wire value maps to the stored one.
        public enum Kind: Sendable {
            /// A whole number of units, stored as is.
            case count(any WritableKeyPath<SkuPolicy, Int64> & Sendable)
            /// Seconds on the wire, nanoseconds stored; `wholeSeconds` refuses fractions.
            case seconds(any WritableKeyPath<SkuPolicy, Int64> & Sendable, wholeSeconds: Bool)
            /// A real number, stored as is.
            case number(any WritableKeyPath<SkuPolicy, Double> & Sendable)
        }

        /// The name on the wire and in the config, e.g. `restockLeadTimeSeconds`.
        public let name: String
        /// Older names still accepted (documented as deprecated), e.g. `restockLeadTimeSec`.
        public let deprecatedNames: [String]
        /// A short name for the replay's `--policy k=v` list, if any.
        public let shortName: String?
        /// What the value is and where it is stored.
        public let kind: Kind
        /// The smallest wire value accepted.
        public let minimum: Double
        /// Whether ``minimum`` itself is refused (the value must be greater).
        public let minimumExclusive: Bool
        /// The largest wire value accepted.
        public let maximum: Double
        /// One line for docs and errors.
        public let summary: String

        /// The accepted range in words, e.g. "between 0 and 100" or "greater than 1 and at most 100".
        public var rangeText: String {
            let low = SkuPolicy.Field.format(minimum)
            let high = SkuPolicy.Field.format(maximum)
            return minimumExclusive ? "greater than \(low) and at most \(high)" : "between \(low) and \(high)"
        }

        /// The name.
        public var description: String { name }

        /// Whether the field is a duration (its wire value is seconds).
        public var isDuration: Bool {
            if case .seconds = kind { return true }
            return false
        }

        /// `value` without a needless `.0`.
        public static func format(_ value: Double) -> String {
            value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        }
    }

    /// Every policy field, in the order the docs list them. The substitute is not here: it is a SKU id, set by
    /// the `substitute` key next to the numbers.
    public static let fields: [Field] = [
        Field(
            name: "safetyMinimum", deprecatedNames: [], shortName: "safety", kind: .count(\.safetyMinimum),
            minimum: 0, minimumExclusive: false, maximum: 1e9,
            summary: "threshold alert at or below max(this, rate × lead time × safetyFactor), units"),
        Field(
            name: "restockLeadTimeSeconds", deprecatedNames: ["restockLeadTimeSec"], shortName: "lead",
            kind: .seconds(\.restockLeadTime, wholeSeconds: false), minimum: 0, minimumExclusive: false, maximum: 90 * 86_400,
            summary: "how long a restock takes to arrive (emergency: runs out sooner)"),
        Field(
            name: "safetyFactor", deprecatedNames: [], shortName: "factor", kind: .number(\.safetyFactor),
            minimum: 0, minimumExclusive: false, maximum: 100,
            summary: "how much of the lead time's sales the safety line covers"),
        Field(
            name: "trendFactor", deprecatedNames: [], shortName: "k", kind: .number(\.trendFactor),
            minimum: 1, minimumExclusive: true, maximum: 100,
            summary: "the smallest surge worth a trend alert: the trend test looks for a rise to this many times the baseline rate"),
        Field(
            name: "trendWindowSeconds", deprecatedNames: ["trendWindowSec"], shortName: "window",
            kind: .seconds(\.trendWindow, wholeSeconds: true), minimum: 1, minimumExclusive: false, maximum: 43_200,
            summary: "length of the recent window (the rate shown and the trend's minimum volume and hold), whole seconds; two must fit in alerts.horizonSeconds"),
        Field(
            name: "trendMinimumVolume", deprecatedNames: [], shortName: "volume", kind: .count(\.trendMinimumVolume),
            minimum: 0, minimumExclusive: false, maximum: 1e9,
            summary: "units in the recent window before a trend counts"),
        Field(
            name: "watchMark", deprecatedNames: [], shortName: "watch", kind: .count(\.watchMark),
            minimum: 0, minimumExclusive: false, maximum: 1e9,
            summary: "also a trend alert when this many are sold (0: off)"),
        Field(
            name: "emergencyLine", deprecatedNames: [], shortName: "emergency", kind: .count(\.emergencyLine),
            minimum: 0, minimumExclusive: false, maximum: 1e9,
            summary: "emergency at or below this many sellable units"),
        Field(
            name: "cooldownSeconds", deprecatedNames: ["cooldownSec"], shortName: "cooldown",
            kind: .seconds(\.cooldown, wholeSeconds: false), minimum: 0, minimumExclusive: false, maximum: 86_400,
            summary: "a raised level stays up at least this long"),
        Field(
            name: "hysteresisMargin", deprecatedNames: [], shortName: "margin", kind: .number(\.hysteresisMargin),
            minimum: 0, minimumExclusive: false, maximum: 10,
            summary: "a level falls only once its condition clears by this fraction"),
        Field(
            name: "reservationTimeoutSeconds", deprecatedNames: ["reservationTimeoutSec"], shortName: "timeout",
            kind: .seconds(\.reservationTimeout, wholeSeconds: false), minimum: 0, minimumExclusive: true,
            maximum: 30 * 86_400,
            summary: "an unpaid order releases its units after this; shorter than stock.orderRetentionSeconds"),
    ]

    /// The field called `name`, by its name, a deprecated name or its short name.
    public static func field(named name: String) -> Field? {
        fields.first { $0.name == name || $0.deprecatedNames.contains(name) || $0.shortName == name }
    }

    /// The value of `field` in wire units (seconds for durations).
    public func value(of field: Field) -> Double {
        switch field.kind {
        case .count(let path): Double(self[keyPath: path])
        case .seconds(let path, _): Double(self[keyPath: path]) / Double(SkuPolicy.second)
        case .number(let path): self[keyPath: path]
        }
    }

    /// Sets `field` from a wire value, after checking it against the field's range and kind.
    ///
    /// - Throws: ``SkuPolicyError`` naming the field: out of range, not finite, a fraction of a count.
    public mutating func set(_ field: Field, to value: Double) throws(SkuPolicyError) {
        guard value.isFinite else { throw SkuPolicyError(field: field.name, reason: "must be a finite number") }
        let tooLow = field.minimumExclusive ? value <= field.minimum : value < field.minimum
        guard !tooLow, value <= field.maximum else {
            throw SkuPolicyError(field: field.name, reason: "must be \(field.rangeText), got \(Field.format(value))")
        }
        switch field.kind {
        case .count(let path):
            guard value == value.rounded() else {
                throw SkuPolicyError(field: field.name, reason: "must be a whole number, got \(value)")
            }
            self[keyPath: path] = Int64(value)
        case .seconds(let path, let whole):
            guard !whole || value == value.rounded() else {
                throw SkuPolicyError(field: field.name, reason: "must be a whole number of seconds, got \(value)")
            }
            self[keyPath: path] = Int64((value * Double(SkuPolicy.second)).rounded())
        case .number(let path):
            self[keyPath: path] = value
        }
    }

    /// The fields whose value differs from `other`'s, in table order.
    public func changedFields(from other: SkuPolicy) -> [Field] {
        SkuPolicy.fields.filter { value(of: $0) != other.value(of: $0) }
    }

    /// Checks every field's range and the rules between fields.
    ///
    /// - Parameter horizon: the alert engine's bucket horizon in nanoseconds; two trend windows must fit in it.
    /// - Throws: ``SkuPolicyError`` naming the first bad field.
    public func validate(horizon: Int64) throws(SkuPolicyError) {
        for field in SkuPolicy.fields {
            var copy = self
            try copy.set(field, to: value(of: field))
        }
        // Durations set in code may be below a second's resolution; the wire only speaks seconds.
        guard trendWindow % SkuPolicy.second == 0 else {
            throw SkuPolicyError(field: "trendWindowSeconds", reason: "must be a whole number of seconds")
        }
        guard 2 * trendWindow <= horizon else {
            throw SkuPolicyError(
                field: "trendWindowSeconds",
                reason: "two windows (\(2 * trendWindow / SkuPolicy.second) s) exceed the alert horizon (\(horizon / SkuPolicy.second) s)")
        }
        if let substitute, substitute.isEmpty {
            throw SkuPolicyError(field: "substitute", reason: "must not be empty (leave it out for none)")
        }
    }
}

/// A policy field refused, with the field's wire name.
public struct SkuPolicyError: Error, Hashable, CustomStringConvertible {
    /// The field's name on the wire, e.g. `trendFactor`.
    public var field: String
    /// Why, e.g. "must be greater than 1 and at most 100, got 1".
    public var reason: String

    /// Creates an error.
    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    /// "field: reason".
    public var description: String { "\(field): \(reason)" }
}

// MARK: - Binary form

extension SkuPolicy {
    /// The encoding version this code writes.
    public static let currentVersion: UInt16 = 2

    /// Appends the versioned binary form: a version, a byte length, then the fields of that version in order.
    ///
    /// A decoder reads the fields it knows and skips the rest, so an older binary can still load a newer policy.
    /// Version 1 holds the first six fields, version 2 adds the rest; the byte order is fixed by the journals
    /// already written:
    ///
    /// ```
    /// u16 version, u16 length,
    /// i64 reservationTimeout, i64 safetyMinimum, i64 restockLeadTime, f64 trendFactor, i64 trendWindow,
    /// i64 trendMinimumVolume,
    /// (v2) f64 safetyFactor, i64 watchMark, i64 emergencyLine, i64 cooldown, f64 hysteresisMargin,
    ///      str substitute ("" for none)
    /// ```
    public func encode(into writer: inout ByteWriter) {
        let start = writer.count
        writer.write(SkuPolicy.currentVersion)
        writer.write(UInt16(0))
        writer.write(reservationTimeout)
        writer.write(safetyMinimum)
        writer.write(restockLeadTime)
        writer.write(trendFactor)
        writer.write(trendWindow)
        writer.write(trendMinimumVolume)
        writer.write(safetyFactor)
        writer.write(watchMark)
        writer.write(emergencyLine)
        writer.write(cooldown)
        writer.write(hysteresisMargin)
        writer.writeString(substitute ?? "")
        let length = writer.count - start - 4
        writer.bytes[start + 2] = UInt8(truncatingIfNeeded: length)
        writer.bytes[start + 3] = UInt8(truncatingIfNeeded: length >> 8)
    }

    /// Reads the versioned binary form, skipping fields from newer versions. A version 1 policy takes the
    /// defaults for the fields it lacks.
    ///
    /// - Throws: ``ByteDecodingError`` if the bytes are truncated.
    public static func decode(from reader: inout ByteReader) throws -> SkuPolicy {
        _ = try reader.read(UInt16.self)
        let length = Int(try reader.read(UInt16.self))
        guard reader.remaining >= length, length >= 8 * 6 else {
            throw ByteDecodingError(reason: "policy of \(length) bytes truncated at \(reader.offset)")
        }
        let end = reader.offset + length
        var policy = SkuPolicy()
        policy.reservationTimeout = try reader.read()
        policy.safetyMinimum = try reader.read()
        policy.restockLeadTime = try reader.read()
        policy.trendFactor = try reader.readDouble()
        policy.trendWindow = try reader.read()
        policy.trendMinimumVolume = try reader.read()
        if length >= 8 * 11 + 4 {
            policy.safetyFactor = try reader.readDouble()
            policy.watchMark = try reader.read()
            policy.emergencyLine = try reader.read()
            policy.cooldown = try reader.read()
            policy.hysteresisMargin = try reader.readDouble()
            let substitute = try reader.readString()
            policy.substitute = substitute.isEmpty ? nil : substitute
        }
        guard reader.offset <= end else {
            throw ByteDecodingError(reason: "policy fields run past its length of \(length) bytes")
        }
        reader.offset = end
        return policy
    }
}
