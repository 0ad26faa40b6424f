import LiveGateCore
import LiveGateTestSupport
import Testing

/// The one policy type: its field table, its checks and its binary form.
struct SkuPolicyTests {
    /// The alert engine's default horizon (10 minutes).
    static let horizon: Int64 = 10 * SkuPolicy.minute

    /// ``SkuPolicy/everyFieldChanged(horizon:)`` with a substitute.
    static func everyFieldChanged() throws -> SkuPolicy {
        var policy = try SkuPolicy.everyFieldChanged(horizon: horizon)
        policy.substitute = "tee"
        return policy
    }

    @Test func theTableNamesEveryFieldOnce() {
        let names = SkuPolicy.fields.flatMap { [$0.name] + $0.deprecatedNames + ($0.shortName.map { [$0] } ?? []) }
        #expect(Set(names).count == names.count)
        for field in SkuPolicy.fields {
            #expect(SkuPolicy.field(named: field.name)?.name == field.name)
            for old in field.deprecatedNames { #expect(SkuPolicy.field(named: old)?.name == field.name) }
            // Durations are named …Seconds on the wire; nothing else is.
            #expect(field.isDuration == field.name.hasSuffix("Seconds"))
        }
        #expect(SkuPolicy.field(named: "trendWindowSec")?.name == "trendWindowSeconds")
        #expect(SkuPolicy.field(named: "nonsense") == nil)
    }

    @Test func everyFieldIsSetAndReadThroughTheTable() throws {
        let changed = try Self.everyFieldChanged()
        #expect(changed.changedFields(from: SkuPolicy()).count == SkuPolicy.fields.count)
        try changed.validate(horizon: Self.horizon)
        #expect(changed.restockLeadTime == 1801 * SkuPolicy.second)
        #expect(changed.trendWindow == 299 * SkuPolicy.second)
        #expect(changed.safetyMinimum == 21)
    }

    @Test func valuesOutsideAFieldAreRefusedNamingIt() throws {
        var policy = SkuPolicy()
        let cases: [(String, Double, String)] = [
            ("trendFactor", 1, "must be greater than 1 and at most 100, got 1"),
            ("safetyMinimum", -1, "must be between 0 and 1000000000, got -1"),
            ("safetyMinimum", 2.5, "must be a whole number, got 2.5"),
            ("trendWindowSeconds", 90.5, "must be a whole number of seconds, got 90.5"),
            ("reservationTimeoutSeconds", 0, "must be greater than 0 and at most 2592000, got 0"),
            ("hysteresisMargin", .nan, "must be a finite number"),
            ("restockLeadTimeSeconds", 1e300, "must be between 0 and 7776000, got 1e+300"),
        ]
        for (name, value, reason) in cases {
            let field = try #require(SkuPolicy.field(named: name))
            let error = try #require(throws: SkuPolicyError.self) { try policy.set(field, to: value) }
            #expect(error == SkuPolicyError(field: name, reason: reason))
        }
        #expect(policy == SkuPolicy())
        policy.trendWindow = 6 * SkuPolicy.minute
        let window = try #require(throws: SkuPolicyError.self) { try policy.validate(horizon: Self.horizon) }
        #expect(window.field == "trendWindowSeconds")
        policy = SkuPolicy(substitute: "")
        #expect(throws: SkuPolicyError(field: "substitute", reason: "must not be empty (leave it out for none)")) {
            try policy.validate(horizon: Self.horizon)
        }
    }

    @Test func theBinaryFormRoundTripsEveryField() throws {
        for policy in [SkuPolicy(), try Self.everyFieldChanged()] {
            var writer = ByteWriter()
            policy.encode(into: &writer)
            writer.write(UInt8(0xEE))
            let decoded = try writer.bytes.withUnsafeBytes { buffer in
                var reader = ByteReader(buffer)
                let policy = try SkuPolicy.decode(from: &reader)
                #expect(try reader.read(UInt8.self) == 0xEE)
                return policy
            }
            #expect(decoded == policy)
        }
    }

    /// The byte order is the one the journals already hold (version 2): pinned here so that a reordering of the
    /// struct or the table cannot change it.
    @Test func theBinaryFormKeepsItsByteOrder() throws {
        var writer = ByteWriter()
        SkuPolicy(
            safetyMinimum: 2, restockLeadTime: 3, safetyFactor: 0.5, trendFactor: 4, trendWindow: 5, trendMinimumVolume: 6,
            watchMark: 7, emergencyLine: 8, cooldown: 9, hysteresisMargin: 0.25, reservationTimeout: 1, substitute: "ab"
        ).encode(into: &writer)
        func le(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
        let expected: [UInt8] = [2, 0, 94, 0] + le(1) + le(2) + le(3) + le(4.0.bitPattern) + le(5) + le(6)
            + le(0.5.bitPattern) + le(7) + le(8) + le(9) + le(0.25.bitPattern) + [2, 0, 0, 0, 97, 98]
        #expect(writer.bytes == expected)
        // A version 1 policy (six fields) reads with the defaults for the rest.
        let version1: [UInt8] = [1, 0, 48, 0] + le(1) + le(2) + le(3) + le(4.0.bitPattern) + le(5) + le(6)
        let decoded = try version1.withUnsafeBytes { buffer in
            var reader = ByteReader(buffer)
            return try SkuPolicy.decode(from: &reader)
        }
        #expect(decoded == SkuPolicy(
            safetyMinimum: 2, restockLeadTime: 3, trendFactor: 4, trendWindow: 5, trendMinimumVolume: 6, reservationTimeout: 1))
    }
}
