import LiveGateCore
extension AlertEngine {
    /// Encodes the engine's state (SKUs, policies, buckets, rates, latches, cooldowns, markers) for the stock
    /// core's snapshot extension section.
    ///
    /// Version 3, written with ``ByteWriter``: all integers little-endian, strings as a `UInt32` byte length
    /// then UTF-8:
    ///
    /// ```
    /// u8  version = 3
    /// u32 bucketsPerSku when written        i64 engine time (ns)        u32 SKU count
    /// per SKU, in index order:
    ///   str id, str name
    ///   policy: SkuPolicy.encode(into:), the same versioned form the stock core journals
    ///   figures: i64 onHand, reserved, held, sold, sellable
    ///   i64 headSecond, f64 smoothedMass, i64 smoothedAt, f64 paidMass, f64 lostMass, i64 payAt
    ///   u8 raised latches, i64 × 4 raisedAt (trend, threshold, emergency, soldout)
    ///   i64 lastDanmakuAt, i64 launchAt, i64 watchCrossedAt, i64 trendBaseline
    ///   surge test: f64 baselineMass, i64 baselineAt, i64 historyStart, f64 score, i64 scoreAt, i64 minute,
    ///               f64 minuteUnits, f64 countMean, f64 countSquare, f64 countWeight
    ///   u32 n, then n × (u32 age in seconds before headSecond, u32 units): the non-empty buckets
    /// ```
    ///
    /// `f64` is the IEEE 754 bit pattern, so a restore is bit-exact. `Int64.min` means "never". Window sums are
    /// not stored: they are recomputed from the buckets. Version 2 lacks the surge test (it starts cold, as for a
    /// new SKU). Version 1 also differs in the policy, which it wrote
    /// field by field in another order (``LegacyPolicy``); it still restores.
    ///
    /// - Returns: the bytes; the stock core stores them with version ``stateVersion``.
    /// - Complexity: O(SKUs × horizon).
    public func encodeState() -> [UInt8] {
        var writer = ByteWriter(capacity: 256 * max(states.count, 1))
        writer.write(AlertEngine.stateVersion)
        writer.write(UInt32(buckets.capacity))
        writer.write(time)
        writer.write(UInt32(states.count))
        for index in states.indices {
            let state = states[index]
            writer.writeString(ids[index])
            writer.writeString(names[index])
            policies[index].encode(into: &writer)
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
            let surge = state.surge
            writer.write(surge.baselineMass)
            writer.write(surge.baselineAt)
            writer.write(surge.historyStart)
            writer.write(surge.score)
            writer.write(surge.scoreAt)
            writer.write(surge.minute)
            writer.write(surge.minuteUnits)
            writer.write(surge.countMean)
            writer.write(surge.countSquare)
            writer.write(surge.countWeight)
            let countOffset = writer.count
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

    /// Restores an engine from ``encodeState()``'s bytes (version 3, or versions 1 and 2 from earlier builds), with the
    /// settings and texts of `configuration` (which are config, not state).
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
        do {
            try bytes.withUnsafeBytes { buffer in
                var reader = ByteReader(buffer)
                try restore(from: &reader)
            }
        } catch let error as ByteDecodingError {
            throw AlertStateDecodingError.damaged(error.reason)
        }
    }

    /// Reads the state written by ``encodeState()`` into this fresh engine.
    private mutating func restore(from reader: inout ByteReader) throws {
        let version: UInt8 = try reader.read()
        guard (1...AlertEngine.stateVersion).contains(version) else {
            throw AlertStateDecodingError.unsupportedVersion(version)
        }
        _ = try reader.read(UInt32.self)
        let time: Int64 = try reader.read()
        let count = Int(try reader.read(UInt32.self))
        for _ in 0..<count {
            let id = try reader.readString()
            let name = try reader.readString()
            let policy = version == 1 ? try LegacyPolicy.decode(from: &reader) : try SkuPolicy.decode(from: &reader)
            let figures = StockFigures(
                onHand: try reader.read(), reserved: try reader.read(), held: try reader.read(), sold: try reader.read(),
                sellable: try reader.read()
            )
            guard indexById[id] == nil else { throw AlertStateDecodingError.damaged("duplicate SKU id \(id)") }
            let index = try addSku(id, name: name, policy: policy, figures: figures, at: time)
            let headSecond: Int64 = try reader.read()
            states[index].smoothedMass = try reader.readDouble()
            states[index].smoothedAt = try reader.read()
            states[index].paidMass = try reader.readDouble()
            states[index].lostMass = try reader.readDouble()
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
            if version >= 3 {
                var surge = SurgeDetector()
                surge.baselineMass = try reader.readDouble()
                surge.baselineAt = try reader.read()
                surge.historyStart = try reader.read()
                surge.score = try reader.readDouble()
                surge.scoreAt = try reader.read()
                surge.minute = try reader.read()
                surge.minuteUnits = try reader.readDouble()
                surge.countMean = try reader.readDouble()
                surge.countSquare = try reader.readDouble()
                surge.countWeight = try reader.readDouble()
                states[index].surge = surge
            }
            let nonEmpty = Int(try reader.read(UInt32.self))
            states[index].sums.headSecond = headSecond
            for _ in 0..<nonEmpty {
                let age = Int(try reader.read(UInt32.self))
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

/// The policy as alert state version 1 wrote it, field by field; read only, to restore old snapshots.
enum LegacyPolicy {
    /// Reads a version 1 policy.
    /// - Throws: ``ByteDecodingError`` if the bytes end early.
    static func decode(from reader: inout ByteReader) throws -> SkuPolicy {
        var policy = SkuPolicy()
        policy.safetyMinimum = try reader.read()
        policy.restockLeadTime = try reader.read()
        policy.safetyFactor = try reader.readDouble()
        policy.trendFactor = try reader.readDouble()
        policy.trendWindow = try reader.read()
        policy.trendMinimumVolume = try reader.read()
        policy.watchMark = try reader.read()
        policy.emergencyLine = try reader.read()
        policy.cooldown = try reader.read()
        policy.hysteresisMargin = try reader.readDouble()
        policy.reservationTimeout = try reader.read()
        let hasSubstitute: UInt8 = try reader.read()
        policy.substitute = hasSubstitute != 0 ? try reader.readString() : nil
        return policy
    }
}

/// Why ``AlertEngine/init(decoding:configuration:)`` refused its bytes.
public enum AlertStateDecodingError: Error, Hashable, CustomStringConvertible {
    /// The version byte is not one this code reads.
    case unsupportedVersion(UInt8)
    /// The bytes are inconsistent.
    case damaged(String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .unsupportedVersion(let version): "alert state version \(version) is not supported (this build reads 1 to 3)"
        case .damaged(let reason): "alert state damaged: \(reason)"
        }
    }
}
