/// The per-SKU policy: reservation timeout, and the knobs the alert engine reads.
///
/// Versioned and binary-serialisable so that the alert engine issue can add fields: the encoding is
/// a version number, a byte length, then the fields of that version in order; a decoder reads the
/// fields it knows and skips the rest, so an older binary can still load a newer snapshot's policy.
/// All durations are nanoseconds of core time.
public struct SkuPolicy: Codable, Hashable, Sendable {
    /// The encoding version this code writes.
    public static let currentVersion: UInt16 = 2

    /// The default reservation timeout: 15 minutes.
    public static let defaultReservationTimeout: Int64 = 15 * 60 * 1_000_000_000

    /// How long an unpaid reservation holds stock before it expires, in nanoseconds of core time.
    /// Must be positive and shorter than the core's key retention.
    public var reservationTimeout: Int64
    /// The safety minimum of sellable units below which the threshold alert fires (alert engine).
    public var safetyMinimum: Int64
    /// How long a restock takes to arrive, in nanoseconds (alert engine: emergency level).
    public var restockLeadTime: Int64
    /// Trend level: the recent sales rate must be at least this many times the previous window's.
    public var trendFactor: Double
    /// Trend level: the length of each velocity window, in nanoseconds.
    public var trendWindow: Int64
    /// Trend level: the minimum units sold in the recent window for the trend to count.
    public var trendMinimumVolume: Int64
    /// Safety line factor: the line is max(safetyMinimum, rate × restockLeadTime × safetyFactor). (Version 2.)
    public var safetyFactor: Double = 1.5
    /// Trend level also when the sold count crosses this mark; 0: off. (Version 2.)
    public var watchMark: Int64 = 0
    /// Emergency level at or below this many sellable units. (Version 2.)
    public var emergencyLine: Int64 = 5
    /// The least time a raised level stays up, nanoseconds. (Version 2.)
    public var cooldown: Int64 = 5 * 60 * 1_000_000_000
    /// How far a condition must clear before its level falls, as a fraction. (Version 2.)
    public var hysteresisMargin: Double = 0.2
    /// The SKU to pitch instead at emergency and sold out; empty for none. (Version 2.)
    public var substitute: String = ""

    /// Creates a policy; every parameter has the documented default.
    public init(
        reservationTimeout: Int64 = SkuPolicy.defaultReservationTimeout,
        safetyMinimum: Int64 = 0,
        restockLeadTime: Int64 = 0,
        trendFactor: Double = 2,
        trendWindow: Int64 = 5 * 60 * 1_000_000_000,
        trendMinimumVolume: Int64 = 10
    ) {
        self.reservationTimeout = reservationTimeout
        self.safetyMinimum = safetyMinimum
        self.restockLeadTime = restockLeadTime
        self.trendFactor = trendFactor
        self.trendWindow = trendWindow
        self.trendMinimumVolume = trendMinimumVolume
    }

    /// Appends the versioned binary form.
    func encode(into writer: inout ByteWriter) {
        var fields = ByteWriter(capacity: 128)
        fields.write(reservationTimeout)
        fields.write(safetyMinimum)
        fields.write(restockLeadTime)
        fields.write(trendFactor.bitPattern)
        fields.write(trendWindow)
        fields.write(trendMinimumVolume)
        // Version 2.
        fields.write(safetyFactor.bitPattern)
        fields.write(watchMark)
        fields.write(emergencyLine)
        fields.write(cooldown)
        fields.write(hysteresisMargin.bitPattern)
        fields.writeString(substitute)
        writer.write(SkuPolicy.currentVersion)
        writer.write(UInt16(fields.bytes.count))
        writer.bytes.append(contentsOf: fields.bytes)
    }

    /// Reads the versioned binary form, skipping fields from newer versions.
    /// - Throws: ``DecodingError`` if the bytes are truncated.
    static func decode(from reader: inout ByteReader) throws -> SkuPolicy {
        _ = try reader.read(UInt16.self)
        let length = Int(try reader.read(UInt16.self))
        guard reader.remaining >= length, length >= 8 * 6 else {
            throw DecodingError(reason: "policy of \(length) bytes truncated at \(reader.offset)")
        }
        let end = reader.offset + length
        var policy = SkuPolicy()
        policy.reservationTimeout = try reader.read()
        policy.safetyMinimum = try reader.read()
        policy.restockLeadTime = try reader.read()
        policy.trendFactor = Double(bitPattern: try reader.read())
        policy.trendWindow = try reader.read()
        policy.trendMinimumVolume = try reader.read()
        if length >= 8 * 11 + 4 {
            policy.safetyFactor = Double(bitPattern: try reader.read())
            policy.watchMark = try reader.read()
            policy.emergencyLine = try reader.read()
            policy.cooldown = try reader.read()
            policy.hysteresisMargin = Double(bitPattern: try reader.read())
            policy.substitute = try reader.readString()
        }
        reader.offset = end
        return policy
    }
}
