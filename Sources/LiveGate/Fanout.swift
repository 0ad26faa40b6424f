/// One loop's side of the room streams: which of its connections receive which stream, and
/// from which `seq` on. ``LoopContext`` owns one and hands each delivery to the subscribers
/// it lists.
///
/// Loop-confined (a value inside its loop's context). The subscriber lists are contiguous
/// arrays of (connection, start position) read once per delivery, so the fan-out loop
/// touches no connection it skips; joins and leaves cost O(1) (swap-remove, with each
/// connection's place kept by its id).
struct Fanout {
    /// A connection on a stream's list.
    struct Subscriber {
        let connection: Connection
        /// Messages with this `seq` or lower were in what the connection started from.
        let startSeq: UInt64
    }

    /// Where a connection is listed.
    private struct Place {
        let room: String
        let audience: Audience
        var index: Int
    }

    /// Subscribers by room, then by audience (`Audience.rawValue`).
    private var streams: [String: [[Subscriber]]] = [:]
    /// Each subscribed connection's place, by connection id.
    private var places: [UInt64: Place] = [:]

    /// The number of subscribed connections.
    var count: Int { places.count }

    /// Adds `connection` to a room stream from `startSeq` on (leaving the one it was on).
    ///
    /// - Complexity: amortized O(1).
    mutating func subscribe(_ connection: Connection, room: String, audience: Audience, startSeq: UInt64) {
        unsubscribe(connection)
        if streams[room] == nil { streams[room] = Array(repeating: [], count: Audience.allCases.count) }
        // Mutated in place: no copy of the subscriber list per join.
        let index = streams[room]![audience.rawValue].count
        streams[room]![audience.rawValue].append(Subscriber(connection: connection, startSeq: startSeq))
        places[connection.id] = Place(room: room, audience: audience, index: index)
    }

    /// Removes `connection` from its stream, if it is on one.
    ///
    /// - Complexity: O(1).
    mutating func unsubscribe(_ connection: Connection) {
        guard let place = places.removeValue(forKey: connection.id) else { return }
        let slot = place.audience.rawValue
        guard let count = streams[place.room]?[slot].count, place.index < count,
            streams[place.room]![slot][place.index].connection === connection
        else { return }
        if place.index != count - 1 {
            streams[place.room]![slot].swapAt(place.index, count - 1)
            let moved = streams[place.room]![slot][place.index].connection
            places[moved.id]?.index = place.index
        }
        streams[place.room]![slot].removeLast()
    }

    /// The stream `connection` is on, if any.
    func subscription(of connection: Connection) -> (room: String, audience: Audience)? {
        places[connection.id].map { ($0.room, $0.audience) }
    }

    /// The subscribers of one stream (empty for a stream with none here).
    func subscribers(room: String, audience: Audience) -> [Subscriber] {
        streams[room]?[audience.rawValue] ?? []
    }

    /// The subscriber lists of `audience` in `room`, or in every room.
    func lists(of audience: Audience, room: String?) -> [[Subscriber]] {
        if let room { return streams[room].map { [$0[audience.rawValue]] } ?? [] }
        return streams.values.map { $0[audience.rawValue] }
    }
}
