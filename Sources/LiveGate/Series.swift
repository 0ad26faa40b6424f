/// One SKU's figures over the session in fixed time buckets, bounded: the newest
/// `capacity` buckets are kept (12 hours of 10-second buckets by default).
///
/// A console that reconnects redraws its charts from this instead of replaying every
/// message of the session.
struct Series: Sendable {
    struct Point: Sendable, Equatable {
        /// The bucket's start, seconds since 1970.
        var time: Int64
        /// Sellable units at the end of the bucket (so far).
        var sellable: Int64
        /// Units sold (paid) at the end of the bucket.
        var sold: Int64
        /// Sales rate per minute at the end of the bucket, when known.
        var ratePerMin: Double?
    }

    struct Marker: Sendable, Equatable {
        var time: Int64
        var level: String
    }

    /// An operator's command that changed the SKU (restock, hold, pause, switch…), for the chart.
    struct Action: Sendable, Equatable {
        var time: Int64
        /// What was done, in words, e.g. "restock +200".
        var action: String
        /// The operator (the token's `sub`).
        var by: String
    }

    /// Seconds per bucket.
    let bucketSeconds: Int64
    /// Buckets kept.
    let capacity: Int
    private(set) var points: [Point] = []
    private var start = 0
    private(set) var markers: [Marker] = []
    private(set) var actions: [Action] = []

    init(bucketSeconds: Int64 = 10, capacity: Int = 4320) {
        self.bucketSeconds = bucketSeconds
        self.capacity = capacity
    }

    /// A series read back from the archive (oldest points first; the newest `capacity` are kept).
    init(bucketSeconds: Int64 = 10, capacity: Int = 4320, points: [Point], markers: [Marker], actions: [Action]) {
        self.init(bucketSeconds: bucketSeconds, capacity: capacity)
        self.points = Array(points.suffix(capacity))
        self.markers = Array(markers.suffix(1000))
        self.actions = Array(actions.suffix(200))
    }

    /// Every point kept, oldest first.
    var orderedPoints: [Point] {
        points.count < capacity ? points : Array(points[start...] + points[..<start])
    }

    /// Records the SKU's figures at `time` (seconds since 1970).
    ///
    /// - Complexity: O(1) amortized.
    mutating func record(time: Int64, sellable: Int64, sold: Int64, ratePerMin: Double?) {
        let bucket = time - time % bucketSeconds
        let point = Point(time: bucket, sellable: sellable, sold: sold, ratePerMin: ratePerMin)
        if let lastIndex = lastIndex, points[lastIndex].time >= bucket {
            points[lastIndex].sellable = sellable
            points[lastIndex].sold = sold
            if ratePerMin != nil { points[lastIndex].ratePerMin = ratePerMin }
            return
        }
        if points.count < capacity {
            points.append(point)
        } else {
            points[start] = point
            start = (start + 1) % capacity
        }
    }

    /// Records an alert level change at `time`; the newest 1000 are kept.
    mutating func mark(time: Int64, level: String) {
        markers.append(Marker(time: time, level: level))
        if markers.count > 1000 { markers.removeFirst(markers.count - 1000) }
    }

    /// Records an operator's action at `time`; the newest 200 are kept.
    mutating func act(time: Int64, action: String, by: String) {
        actions.append(Action(time: time, action: action, by: by))
        if actions.count > 200 { actions.removeFirst(actions.count - 200) }
    }

    private var lastIndex: Int? {
        guard !points.isEmpty else { return nil }
        return points.count < capacity ? points.count - 1 : (start + capacity - 1) % capacity
    }

    /// The points at or after `since`, oldest first.
    func points(since: Int64) -> [Point] {
        orderedPoints.filter { $0.time >= since }
    }
}
