import Glibc
import LiveGateHTTP
import LiveGatePOSIX
import LiveGateWebSocket
import Testing

@testable import LiveGate

/// The connection's life as pure transitions of ``Connection/State`` (no socket involved).
struct ConnectionStateTests {
    static func exchange(deadline: UInt64 = 1000) -> Connection.HTTPExchange {
        Connection.HTTPExchange(headParser: HTTPHeadParser(maxHeadBytes: 8192, maxBodyBytes: 1024), deadline: deadline)
    }

    static func webSocket(lastReadAt: UInt64 = 0) -> Connection.State {
        .webSocket(Connection.WebSocketState(
            session: EchoSession(), reader: Connection.FrameReader(maxMessageBytes: 100), lastReadAt: lastReadAt))
    }

    @Test func httpTimesOutIdleOrMidRequestButNotWhileAnAnswerIsPending() throws {
        let idle = Self.exchange(deadline: 1000)
        let state = Connection.State.http(idle)
        #expect(state.timeout(now: 999, idlePingMs: 0) == .none)
        #expect(state.timeout(now: 1000, idlePingMs: 0) == .idleHTTP)
        // Half a request head: 408.
        let partial = Self.exchange(deadline: 1000)
        let bytes = Array("GET / HTTP/1.1\r\nHost".utf8)
        _ = try bytes.withUnsafeBytes { try partial.headParser.feed($0) }
        #expect(partial.isInProgress)
        #expect(Connection.State.http(partial).timeout(now: 2000, idlePingMs: 0) == .requestTimeout)
        // A deferred request waits for the stock core, not for the deadline.
        idle.isAwaitingResponse = true
        #expect(state.timeout(now: 5000, idlePingMs: 0) == .none)
        #expect(state.isAwaitingResponse)
    }

    @Test func anIdleWebSocketIsPingedThenClosedWhenThePingIsNotAnswered() {
        var state = Self.webSocket(lastReadAt: 100)
        #expect(state.timeout(now: 1000, idlePingMs: 0) == .none, "0: never ping")
        #expect(state.timeout(now: 1099, idlePingMs: 1000) == .none)
        #expect(state.timeout(now: 1100, idlePingMs: 1000) == .ping)
        state.notePingSent(at: 1100)
        #expect(state.timeout(now: 2099, idlePingMs: 1000) == .none)
        #expect(state.timeout(now: 2100, idlePingMs: 1000) == .unansweredPing)
        // Anything read answers the ping and restarts the idle interval.
        state.noteRead(at: 2050)
        #expect(state.timeout(now: 2100, idlePingMs: 1000) == .none)
        #expect(state.timeout(now: 3050, idlePingMs: 1000) == .ping)
    }

    @Test func closingAndDrainingEndAtTheirDeadline() {
        let closing = Connection.State.closing(Connection.FrameReader(maxMessageBytes: 10), deadline: 500)
        #expect(closing.timeout(now: 499, idlePingMs: 100) == .none)
        #expect(closing.timeout(now: 500, idlePingMs: 100) == .closeDeadline)
        let draining = Connection.State.draining(deadline: 700, isShutdownPending: true)
        #expect(draining.timeout(now: 699, idlePingMs: 100) == .none)
        #expect(draining.timeout(now: 700, idlePingMs: 100) == .closeDeadline)
        #expect(Connection.State.closed.timeout(now: .max, idlePingMs: 100) == .none)
    }

    @Test func closeSendsACloseFrameOnlyOnAnOpenWebSocket() throws {
        #expect(Self.webSocket().closeStep(hasQueuedOutput: false) == .sendCloseFrame)
        #expect(Connection.State.http(Self.exchange()).closeStep(hasQueuedOutput: false) == .terminate)
        #expect(Connection.State.http(Self.exchange()).closeStep(hasQueuedOutput: true) == .linger)
        let partial = Self.exchange()
        _ = try Array("POST /".utf8).withUnsafeBytes { try partial.headParser.feed($0) }
        #expect(Connection.State.http(partial).closeStep(hasQueuedOutput: false) == .linger)
        let closing = Connection.State.closing(Connection.FrameReader(maxMessageBytes: 10), deadline: 1)
        #expect(closing.closeStep(hasQueuedOutput: true) == .none)
        #expect(Connection.State.draining(deadline: 1, isShutdownPending: false).closeStep(hasQueuedOutput: false) == .none)
        #expect(Connection.State.closed.closeStep(hasQueuedOutput: false) == .none)
    }

    @Test func onlyOpenStatesTakeOutputAndOnlyTheWebSocketHasASession() {
        let states: [(Connection.State, acceptsOutput: Bool, hasSession: Bool, hasReader: Bool)] = [
            (.http(Self.exchange()), true, false, false),
            (Self.webSocket(), true, true, true),
            (.closing(Connection.FrameReader(maxMessageBytes: 10), deadline: 1), true, false, true),
            (.draining(deadline: 1, isShutdownPending: true), false, false, false),
            (.closed, false, false, false),
        ]
        for (state, acceptsOutput, hasSession, hasReader) in states {
            #expect(state.acceptsOutput == acceptsOutput)
            #expect((state.session != nil) == hasSession)
            #expect(state.isWebSocket == hasSession)
            #expect((state.reader != nil) == hasReader)
        }
    }

    @Test func partialFramesAreKeptOnlyWhileTheWebSocketOrItsCloseIsOpen() {
        let box = Connection.PartialFrames(WebSocketFrameParser(maxMessageBytes: 10))
        var open = Self.webSocket()
        open.keepPartialFrames(box)
        #expect(open.reader?.partial === box)
        open.keepPartialFrames(nil)
        #expect(open.reader?.partial == nil)
        var closing = Connection.State.closing(Connection.FrameReader(maxMessageBytes: 10), deadline: 9)
        closing.keepPartialFrames(box)
        #expect(closing.reader?.partial === box)
        guard case .closing(_, let deadline) = closing else { Issue.record("left closing"); return }
        #expect(deadline == 9)
        var draining = Connection.State.draining(deadline: 1, isShutdownPending: false)
        draining.keepPartialFrames(box)
        #expect(draining.reader == nil)
    }

    @Test func readingPausesOnlyWhenOpenAndAFinishedPeerStaysFinished() {
        var reading = Connection.Reading.open
        reading.pause()
        #expect(reading == .paused)
        reading.resume()
        #expect(reading == .open)
        reading = .finished
        reading.pause()
        #expect(reading == .finished)
        reading.resume()
        #expect(reading == .finished)
    }
}

/// ``Fanout``: joins, leaves (swap-remove) and the per-connection start positions.
struct FanoutTests {
    /// Connections on a loop that never runs, over /dev/null descriptors (closed at the end).
    final class Fixture {
        let loop = try! EventLoop(index: 0)
        let context: LoopContext
        var connections: [Connection] = []

        init(count: Int) {
            context = LoopContext(loop: loop, settings: ConnectionSettings(
                maxHeadBytes: 1024, maxBodyBytes: 1024, handshakeTimeoutMs: 1000, idlePingMs: 0, closeTimeoutMs: 1000,
                outboundHighWaterBytes: 1 << 20), stats: ServerStats())
            for index in 0..<count {
                let connection = Connection(fd: open("/dev/null", O_RDONLY), loop: loop, context: context, now: 0)
                connection.id = UInt64(index + 1)
                connections.append(connection)
            }
        }

        deinit {
            for connection in connections { connection.terminate(reason: nil) }
        }
    }

    static func ids(_ subscribers: [Fanout.Subscriber]) -> [UInt64] { subscribers.map(\.connection.id) }

    @Test func joinsAndLeavesKeepEveryListConsistent() {
        let fixture = Fixture(count: 5)
        let c = fixture.connections
        var fanout = Fanout()
        for (index, connection) in c.enumerated() {
            fanout.subscribe(connection, room: "r", audience: index < 4 ? .viewer : .host, startSeq: UInt64(index * 10))
        }
        #expect(fanout.count == 5)
        #expect(Self.ids(fanout.subscribers(room: "r", audience: .viewer)) == [1, 2, 3, 4])
        #expect(fanout.subscribers(room: "r", audience: .viewer).map(\.startSeq) == [0, 10, 20, 30])
        #expect(Self.ids(fanout.subscribers(room: "r", audience: .host)) == [5])
        // Leaving from the middle moves the last one into its place.
        fanout.unsubscribe(c[1])
        #expect(Self.ids(fanout.subscribers(room: "r", audience: .viewer)) == [1, 4, 3])
        // The moved one can still leave (its place was updated).
        fanout.unsubscribe(c[3])
        #expect(Self.ids(fanout.subscribers(room: "r", audience: .viewer)) == [1, 3])
        fanout.unsubscribe(c[3])
        #expect(fanout.count == 3)
        // Joining another stream leaves the first.
        fanout.subscribe(c[0], room: "s", audience: .viewer, startSeq: 7)
        #expect(Self.ids(fanout.subscribers(room: "r", audience: .viewer)) == [3])
        #expect(fanout.subscription(of: c[0])?.room == "s")
        #expect(fanout.subscription(of: c[1]) == nil)
        #expect(Self.ids(fanout.lists(of: .viewer, room: nil).flatMap { $0 }).sorted() == [1, 3])
        #expect(Self.ids(fanout.lists(of: .viewer, room: "s").flatMap { $0 }) == [1])
        #expect(fanout.lists(of: .viewer, room: "none").isEmpty)
        #expect(fanout.subscribers(room: "none", audience: .viewer).isEmpty)
    }
}
