import LiveGateCore

/// The last messages of one room stream, for resume: seq `oldest...newest` are kept.
struct HistoryRing: Sendable {
    private var frames: [SharedBytes?]
    /// The newest seq recorded.
    private(set) var newest: UInt64 = 0
    /// The oldest seq still held (newest + 1 when empty).
    private(set) var oldest: UInt64 = 1

    init(capacity: Int) {
        frames = Array(repeating: nil, count: max(1, capacity))
    }

    mutating func record(seq: UInt64, frame: SharedBytes) {
        frames[Int(seq % UInt64(frames.count))] = frame
        newest = seq
        if newest - oldest + 1 > UInt64(frames.count) { oldest = newest - UInt64(frames.count) + 1 }
    }

    /// Forgets every frame: the next one recorded is `seq + 1` (an edge starting a stream
    /// from a snapshot at `seq`, or after a gap).
    mutating func restart(after seq: UInt64) {
        for index in frames.indices { frames[index] = nil }
        newest = seq
        oldest = seq + 1
    }

    /// The frames after `since`, or `nil` when some of them are no longer held.
    func frames(after since: UInt64) -> [SharedBytes]? {
        guard since <= newest, since + 1 >= oldest else { return nil }
        guard since < newest else { return [] }
        return (since + 1...newest).map { frames[Int($0 % UInt64(frames.count))]! }
    }
}
