/// A log-linear latency histogram in nanoseconds: exact below 128 ns, then 64 buckets per power
/// of two (at most 1.6 % error), fixed size, no allocation per sample.
struct LatencyHistogram {
    private var counts = [Int](repeating: 0, count: 128 + 64 * 58)
    private(set) var total = 0
    private(set) var maximum: UInt64 = 0
    private var sum: Double = 0

    /// Adds one sample.
    ///
    /// - Complexity: O(1).
    @inline(__always)
    mutating func record(_ nanoseconds: UInt64) {
        counts[Self.bucket(nanoseconds)] += 1
        total += 1
        sum += Double(nanoseconds)
        if nanoseconds > maximum { maximum = nanoseconds }
    }

    /// Adds every sample of `other`.
    mutating func merge(_ other: LatencyHistogram) {
        for index in counts.indices { counts[index] += other.counts[index] }
        total += other.total
        sum += other.sum
        maximum = max(maximum, other.maximum)
    }

    /// One text line for a pipe: `total maximum sum index:count …` (non-empty buckets only).
    func serialized() -> String {
        var text = "\(total) \(maximum) \(sum)"
        for (index, count) in counts.enumerated() where count > 0 { text += " \(index):\(count)" }
        return text
    }

    /// Adds every sample of a ``serialized()`` line; false if it does not parse.
    mutating func merge(serialized line: Substring) -> Bool {
        let fields = line.split(separator: " ")
        guard fields.count >= 3, let total = Int(fields[0]), let maximum = UInt64(fields[1]), let sum = Double(fields[2])
        else { return false }
        for field in fields.dropFirst(3) {
            let parts = field.split(separator: ":")
            guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), counts.indices.contains(index)
            else { return false }
            counts[index] += count
        }
        self.total += total
        self.sum += sum
        self.maximum = max(self.maximum, maximum)
        return true
    }

    /// The mean in nanoseconds (0 when empty).
    var mean: Double { total == 0 ? 0 : sum / Double(total) }

    /// The value at quantile `q` (0…1) in nanoseconds: the middle of its bucket (0 when empty).
    ///
    /// - Complexity: O(buckets).
    func quantile(_ q: Double) -> Double {
        guard total > 0 else { return 0 }
        let rank = max(1, Int((q * Double(total)).rounded(.up)))
        var seen = 0
        for (index, count) in counts.enumerated() where count > 0 {
            seen += count
            if seen >= rank { return min(Self.middle(of: index), Double(maximum)) }
        }
        return Double(maximum)
    }

    @inline(__always)
    private static func bucket(_ value: UInt64) -> Int {
        if value < 128 { return Int(value) }
        let shift = (63 - value.leadingZeroBitCount) - 6
        return 128 + (shift - 1) * 64 + Int(value >> UInt64(shift)) - 64
    }

    private static func middle(of bucket: Int) -> Double {
        if bucket < 128 { return Double(bucket) }
        let shift = (bucket - 128) / 64 + 1
        let mantissa = (bucket - 128) % 64 + 64
        let low = Double(UInt64(mantissa) << UInt64(shift))
        return low + Double(UInt64(1) << UInt64(shift)) / 2
    }
}
