extension AlertEngine {
    /// Encodes the engine's state (SKUs, policies, buckets, rates, latches, cooldowns, markers) for the stock
    /// core's snapshot extension section.
    ///
    /// Version 1, all integers little-endian, strings as a `UInt32` byte length then UTF-8:
    ///
    /// ```
    /// u8  version = 1
    /// u32 bucketsPerSku when written        i64 engine time (ns)        u32 SKU count
    /// per SKU, in index order:
    ///   str id, str name
    ///   policy: i64 safetyMinimum, i64 restockLeadTime, f64 safetyFactor, f64 trendFactor, i64 trendWindow,
    ///           i64 trendMinimumVolume, i64 watchMark, i64 emergencyLine, i64 cooldown, f64 hysteresisMargin,
    ///           i64 reservationTimeout, u8 hasSubstitute, [str substitute]
    ///   figures: i64 onHand, reserved, held, sold, sellable
    ///   i64 headSecond, f64 smoothedMass, i64 smoothedAt, f64 paidMass, f64 lostMass, i64 payAt
    ///   u8 raised latches, i64 × 4 raisedAt (trend, threshold, emergency, soldout)
    ///   i64 lastDanmakuAt, i64 launchAt, i64 watchCrossedAt, i64 trendBaseline
    ///   u32 n, then n × (u32 age in seconds before headSecond, u32 units): the non-empty buckets
    /// ```
    ///
    /// `f64` is the IEEE 754 bit pattern, so a restore is bit-exact. `Int64.min` means "never". Window sums are
    /// not stored: they are recomputed from the buckets.
    ///
    /// - Returns: the bytes; the stock core stores them with version ``stateVersion``.
    /// - Complexity: O(SKUs × horizon).
    public func encodeState() -> [UInt8] {
        var writer = StateWriter()
        writer.write(AlertEngine.stateVersion)
        writer.write(UInt32(buckets.capacity))
        writer.write(time)
        writer.write(UInt32(states.count))
        for index in states.indices {
            let state = states[index]
            let policy = policies[index]
            writer.write(ids[index])
            writer.write(names[index])
            writer.write(policy.safetyMinimum)
            writer.write(policy.restockLeadTime)
            writer.write(policy.safetyFactor)
            writer.write(policy.trendFactor)
            writer.write(policy.trendWindow)
            writer.write(policy.trendMinimumVolume)
            writer.write(policy.watchMark)
            writer.write(policy.emergencyLine)
            writer.write(policy.cooldown)
            writer.write(policy.hysteresisMargin)
            writer.write(policy.reservationTimeout)
            if let substitute = policy.substitute {
                writer.write(UInt8(1))
                writer.write(substitute)
            } else {
                writer.write(UInt8(0))
            }
            let figures = state.figures
            writer.write(figures.onHand)
            writer.write(figures.reserved)
            writer.write(figures.held)
            writer.write(figures.sold)
            writer.write(figures.sellable)
            writer.write(state.sums.headSecond)
            writer.write(state.smoothedMass)
            writer.write(state.smoothedAt)
            writer.write(state.paidMass)
            writer.write(state.lostMass)
            writer.write(state.payAt)
            writer.write(state.debouncer.raised)
            writer.write(state.debouncer.trendRaisedAt)
            writer.write(state.debouncer.thresholdRaisedAt)
            writer.write(state.debouncer.emergencyRaisedAt)
            writer.write(state.debouncer.soldoutRaisedAt)
            writer.write(state.lastDanmakuAt)
            writer.write(state.launchAt)
            writer.write(state.watchCrossedAt)
            writer.write(state.trendBaseline)
            let countOffset = writer.bytes.count
            writer.write(UInt32(0))
            var nonEmpty: UInt32 = 0
            if state.sums.headSecond != .min {
                for age in 0..<buckets.capacity {
                    let units = buckets.count(ring: index, second: state.sums.headSecond - Int64(age))
                    guard units != 0 else { continue }
                    writer.write(UInt32(age))
                    writer.write(units)
                    nonEmpty += 1
                }
            }
            writer.patch(nonEmpty, at: countOffset)
        }
        return writer.bytes
    }

    /// Restores an engine from ``encodeState()``'s bytes, with the settings and texts of `configuration` (which
    /// are config, not state).
    ///
    /// After a restore, the same further calls give the same events as the engine that was encoded: nothing
    /// re-fires and nothing is forgotten. If the configuration's horizon is shorter than the encoded one, the
    /// oldest buckets are dropped.
    ///
    /// - Parameters:
    ///   - bytes: the snapshot section.
    ///   - configuration: the settings, default policy and templates.
    /// - Throws: ``AlertStateDecodingError`` for an unknown version or damaged bytes; ``AlertConfigurationError``
    ///   or ``AlertTemplateError`` for an invalid configuration, or a stored policy the new horizon cannot hold.
    /// - Complexity: O(size of the bytes + SKUs × horizon).
    public init(decoding bytes: [UInt8], configuration: AlertConfiguration = AlertConfiguration()) throws {
        try self.init(configuration: configuration)
        var reader = StateReader(bytes: bytes)
        let version: UInt8 = try reader.read()
        guard version == AlertEngine.stateVersion else { throw AlertStateDecodingError.unsupportedVersion(version) }
        _ = try reader.read() as UInt32
        let time: Int64 = try reader.read()
        let count = Int(try reader.read() as UInt32)
        for _ in 0..<count {
            let id = try reader.readString()
            let name = try reader.readString()
            var policy = AlertPolicy()
            policy.safetyMinimum = try reader.read()
            policy.restockLeadTime = try reader.read()
            policy.safetyFactor = try reader.read()
            policy.trendFactor = try reader.read()
            policy.trendWindow = try reader.read()
            policy.trendMinimumVolume = try reader.read()
            policy.watchMark = try reader.read()
            policy.emergencyLine = try reader.read()
            policy.cooldown = try reader.read()
            policy.hysteresisMargin = try reader.read()
            policy.reservationTimeout = try reader.read()
            let hasSubstitute: UInt8 = try reader.read()
            policy.substitute = hasSubstitute != 0 ? try reader.readString() : nil
            let figures = StockFigures(
                onHand: try reader.read(), reserved: try reader.read(), held: try reader.read(), sold: try reader.read(),
                sellable: try reader.read()
            )
            guard indexById[id] == nil else { throw AlertStateDecodingError.damaged("duplicate SKU id \(id)") }
            let index = try addSku(id, name: name, policy: policy, figures: figures, at: time)
            let headSecond: Int64 = try reader.read()
            states[index].smoothedMass = try reader.read()
            states[index].smoothedAt = try reader.read()
            states[index].paidMass = try reader.read()
            states[index].lostMass = try reader.read()
            states[index].payAt = try reader.read()
            let raised: UInt8 = try reader.read()
            states[index].debouncer = AlertDebouncer(
                raised: raised, trendRaisedAt: try reader.read(), thresholdRaisedAt: try reader.read(),
                emergencyRaisedAt: try reader.read(), soldoutRaisedAt: try reader.read()
            )
            states[index].lastDanmakuAt = try reader.read()
            states[index].launchAt = try reader.read()
            states[index].watchCrossedAt = try reader.read()
            states[index].trendBaseline = try reader.read()
            let nonEmpty = Int(try reader.read() as UInt32)
            states[index].sums.headSecond = headSecond
            for _ in 0..<nonEmpty {
                let age = Int(try reader.read() as UInt32)
                let units: UInt32 = try reader.read()
                guard headSecond != .min else { throw AlertStateDecodingError.damaged("buckets without a head") }
                if age < buckets.capacity {
                    buckets.set(ring: index, second: headSecond - Int64(age), count: units)
                }
            }
            buckets.recompute(ring: index, sums: &states[index].sums, window: policy.trendWindowSeconds)
        }
        guard reader.remaining == 0 else { throw AlertStateDecodingError.damaged("\(reader.remaining) trailing bytes") }
        self.time = time
    }
}

/// Why ``AlertEngine/init(decoding:configuration:)`` refused its bytes.
public enum AlertStateDecodingError: Error, Hashable, CustomStringConvertible {
    /// The version byte is not one this code reads.
    case unsupportedVersion(UInt8)
    /// The bytes end early.
    case truncated(at: Int)
    /// The bytes are inconsistent.
    case damaged(String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .unsupportedVersion(let version): "alert state version \(version) is not supported (this build reads 1)"
        case .truncated(let offset): "alert state truncated at byte \(offset)"
        case .damaged(let reason): "alert state damaged: \(reason)"
        }
    }
}

/// An append-only little-endian encoder for the engine's state.
struct StateWriter {
    /// The bytes written so far.
    var bytes: [UInt8] = []

    /// Appends a fixed-width integer.
    mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends a Double's bit pattern.
    mutating func write(_ value: Double) { write(value.bitPattern) }

    /// Appends a string as a `UInt32` length and UTF-8.
    mutating func write(_ value: String) {
        write(UInt32(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    /// Overwrites a `UInt32` at `offset`.
    mutating func patch(_ value: UInt32, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for i in 0..<4 { bytes[offset + i] = raw[i] }
        }
    }
}

/// A little-endian decoder over the engine's state bytes.
struct StateReader {
    /// The bytes.
    let bytes: [UInt8]
    /// The next byte to read.
    var offset = 0

    /// The bytes left.
    var remaining: Int { bytes.count - offset }

    /// Reads a fixed-width integer.
    ///
    /// - Throws: ``AlertStateDecodingError/truncated(at:)``.
    mutating func read<T: FixedWidthInteger>() throws(AlertStateDecodingError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw .truncated(at: offset) }
        var value: T = 0
        for i in 0..<size { value |= T(truncatingIfNeeded: bytes[offset + i]) << (8 * i) }
        offset += size
        return value
    }

    /// Reads a Double's bit pattern.
    ///
    /// - Throws: ``AlertStateDecodingError/truncated(at:)``.
    mutating func read() throws(AlertStateDecodingError) -> Double {
        Double(bitPattern: try read() as UInt64)
    }

    /// Reads a length-prefixed UTF-8 string.
    ///
    /// - Throws: ``AlertStateDecodingError`` if truncated or not UTF-8.
    mutating func readString() throws(AlertStateDecodingError) -> String {
        let length = Int(try read() as UInt32)
        guard remaining >= length else { throw .truncated(at: offset) }
        let slice = bytes[offset..<(offset + length)]
        offset += length
        guard let string = String(validating: slice, as: UTF8.self) else { throw .damaged("a string is not UTF-8") }
        return string
    }
}
