import Foundation
import LiveGateCore
import LiveGateTestSupport
import Testing

@testable import LiveGate
@testable import LiveGateStock
import LiveGateWebSocket

/// The room protocol as event → action tables: a ``RoomSession/StateMachine`` fed messages
/// against a fixed ``RoomView``, no sockets, no stock core.
struct RoomStateMachineTests {
    /// A room `r` with SKUs `a` (substitute `b`, paused) and `b`; `a` featured; room `other` with `c`.
    struct FakeRooms: RoomView {
        var featured: String? = "a"
        var beforeSwitch: String? = nil
        var skus: [String: SkuState] = [
            "a": SkuState(id: "a", name: "A", substitute: "b", stock: Self.stock("a", paused: true)),
            "b": SkuState(id: "b", name: "B", substitute: nil, stock: Self.stock("b", paused: false)),
            "c": SkuState(id: "c", name: "C", substitute: nil, stock: Self.stock("c", paused: false)),
        ]
        var policies: [String: SkuPolicy] = ["a": SkuPolicy(), "b": SkuPolicy(), "c": SkuPolicy()]
        let membership = ["r": ["a", "b"], "other": ["c"]]

        static func stock(_ sku: String, paused: Bool) -> StockPublication {
            StockPublication(sku: sku, onHand: 10, reserved: 0, held: 0, sold: 0, sellable: 10, isPaused: paused, rev: 1)
        }

        func hasRoom(_ room: String) -> Bool { membership[room] != nil }
        func room(_ room: String, contains sku: String) -> Bool { membership[room]?.contains(sku) == true }
        func sku(_ id: String) -> SkuState? { skus[id] }
        func policy(of sku: String) -> SkuPolicy? { policies[sku] }
        func featured(in room: String) -> (featured: String?, beforeSwitch: String?)? {
            room == "r" ? (featured, beforeSwitch) : membership[room].map { ($0.first, nil) }
        }
        func skus(in room: String) -> [String]? { membership[room] }
    }

    static func machine(_ role: Role, channel: String? = nil) -> RoomSession.StateMachine {
        RoomSession.StateMachine(claims: TokenClaims(subject: "sam", room: "r", role: role, expiresAt: .max, channel: channel))
    }

    static let rules = RoomRules(stockQuestionKeywords: ["还有货吗"], danmakuMaxCharacters: 20, danmakuPer10Seconds: 2)

    /// Feeds one JSON message as a text frame.
    static func run(
        _ machine: inout RoomSession.StateMachine, _ json: String, rooms: FakeRooms = FakeRooms(), rules: RoomRules = rules,
        now: UInt64 = 1_000
    ) -> [RoomAction] {
        Array(json.utf8).withUnsafeBytes { machine.received(.text, payload: $0, rooms: rooms, rules: rules, now: now) }
    }

    static func run(_ role: Role, _ json: String, rooms: FakeRooms = FakeRooms(), rules: RoomRules = rules, channel: String? = nil)
        -> [RoomAction]
    {
        var machine = machine(role, channel: channel)
        return run(&machine, json, rooms: rooms, rules: rules)
    }

    /// The error a single reply carries, or nil.
    static func error(_ actions: [RoomAction]) -> ProtocolError? {
        guard actions.count == 1, case .reply(.error(_, let error)) = actions[0] else { return nil }
        return error
    }

    // MARK: Which role may send what

    /// Every message type against every role: allowed (some action other than `forbidden`) or refused with `forbidden`.
    @Test(arguments: [
        (#"{"type":"ping"}"#, Set(Role.allCases)),
        (#"{"type":"order","orderId":"o1","sku":"a","qty":1,"state":"placed","channel":"taobao"}"#, [.connector, .service]),
        (#"{"type":"restock","sku":"a","qty":5}"#, [.operator]),
        (#"{"type":"adjust","sku":"a","onHand":5}"#, [.operator]),
        (#"{"type":"hold","sku":"a","qty":1}"#, [.operator]),
        (#"{"type":"release","sku":"a","qty":1}"#, [.operator]),
        (#"{"type":"pause","sku":"a"}"#, [.operator]),
        (#"{"type":"resume","sku":"a"}"#, [.operator]),
        (#"{"type":"feature","sku":"b"}"#, [.operator]),
        (#"{"type":"switch","sku":"a"}"#, [.operator]),
        (#"{"type":"launch","sku":"a"}"#, [.operator]),
        (#"{"type":"ack","alert":"x"}"#, [.operator]),
        (#"{"type":"policy","sku":"a","safetyMinimum":3}"#, [.operator]),
        (#"{"type":"drain"}"#, [.operator]),
        (#"{"type":"announce","text":"hi"}"#, [.operator]),
        (#"{"type":"danmaku","text":"hi"}"#, [.viewer, .host, .operator]),
        (#"{"type":"createRoom","room":"new","skus":["a"]}"#, [.operator, .service]),
        (#"{"type":"addSku","sku":"z","onHand":3}"#, [.operator]),
    ] as [(String, Set<Role>)])
    func rolesMayOnlySendWhatTheProtocolAllows(json: String, allowed: Set<Role>) {
        for role in Role.allCases {
            let actions = Self.run(role, json, channel: role == .connector ? "taobao" : nil)
            let error = Self.error(actions)
            if allowed.contains(role) {
                #expect(error == nil, "\(role) \(json): \(String(describing: error))")
                #expect(!actions.isEmpty)
            } else {
                #expect(error?.code == .forbidden, "\(role) \(json)")
            }
        }
    }

    // MARK: Event → action

    @Test func pingIsAnsweredWithItsId() {
        #expect(Self.run(.viewer, #"{"type":"ping","id":"p1"}"#) == [.reply(.pong(id: "p1"))])
    }

    @Test func anOrderGoesToTheCoreWithTheConnectorsChannel() {
        let actions = Self.run(.connector, #"{"type":"order","id":"7","orderId":"TB-1","sku":"a","qty":2,"state":"paid"}"#,
                               channel: "taobao")
        let expected = StockCommand.order(OrderEvent(.paid, sku: "a", channel: "taobao", orderId: "TB-1", quantity: 2))
        #expect(actions == [.submit(expected, Submission(kind: .order, sku: "a", id: "7", followUp: nil))])
    }

    @Test func aConnectorMayNotSendAnotherChannelsOrders() {
        let error = Self.error(Self.run(
            .connector, #"{"type":"order","orderId":"TB-1","sku":"a","qty":2,"state":"paid","channel":"douyin"}"#, channel: "taobao"))
        #expect(error?.code == .badField)
        #expect(error?.field == "channel")
    }

    @Test func aSkuOfAnotherRoomIsRefusedByName() {
        let error = Self.error(Self.run(.operator, #"{"type":"restock","id":"r","sku":"c","qty":5}"#))
        #expect(error == ProtocolError.badField("sku", "room r has no SKU 'c'"))
    }

    @Test func restockNamesItsSenderAsTheSource() {
        #expect(Self.run(.operator, #"{"type":"restock","id":"r","sku":"a","qty":5}"#) == [
            .submit(.restock(sku: "a", quantity: 5, source: "sam"), Submission(kind: .restock, sku: "a", id: "r", followUp: nil))
        ])
    }

    @Test func switchJournalsTheChangeAndCommitsItAfterwards() {
        let change = FeaturedChange(kind: .switchover, room: "r", featured: "b", beforeSwitch: "a")
        #expect(Self.run(.operator, #"{"type":"switch","id":"s","sku":"a"}"#) == [
            .submit(.setNote(key: "room.r.featured", value: "b\ta"),
                    Submission(kind: .switchToSubstitute, sku: "b", id: "s", followUp: .commitFeatured(change)))
        ])
    }

    @Test func switchWithoutASubstituteAndUndoWithoutASwitchAreRefused() {
        #expect(Self.error(Self.run(.operator, #"{"type":"switch","sku":"b"}"#))?.field == "sku")
        #expect(Self.error(Self.run(.operator, #"{"type":"undo"}"#))?.message == "nothing to undo: no switch in this room")
        var switched = FakeRooms()
        switched.featured = "b"
        switched.beforeSwitch = "a"
        let change = FeaturedChange(kind: .undo, room: "r", featured: "a", beforeSwitch: nil)
        #expect(Self.run(.operator, #"{"type":"undo","id":"u"}"#, rooms: switched) == [
            .submit(.setNote(key: "room.r.featured", value: "a"),
                    Submission(kind: .undoSwitch, sku: "a", id: "u", followUp: .commitFeatured(change)))
        ])
    }

    /// Whether the SKU is paused is not decided here from the rooms' copy (it may trail a `pause`
    /// this connection just sent): the executor reads it through the core.
    @Test func launchCountsDownFromThreeByDefault() {
        #expect(Self.run(.operator, #"{"type":"launch","id":"l","sku":"a","countdown":5}"#) == [.launch(sku: "a", seconds: 5, id: "l")])
        #expect(Self.run(.operator, #"{"type":"launch","id":"l","sku":"b"}"#) == [.launch(sku: "b", seconds: 3, id: "l")])
        #expect(Self.error(Self.run(.operator, #"{"type":"launch","sku":"c"}"#))?.field == "sku")
        #expect(Self.error(Self.run(.operator, #"{"type":"launch","sku":"a","countdown":61}"#))?.field == "countdown")
    }

    @Test func ackIsPublishedToOperatorsThenAnswered() {
        #expect(Self.run(.operator, #"{"type":"ack","id":"k","alert":"a-1"}"#) == [
            .publish(room: "r", audiences: [.operator], .ack(alert: "a-1", by: "sam")),
            .reply(.done(id: "k", .ack)),
        ])
    }

    @Test func drainHasDefaults() {
        #expect(Self.run(.operator, #"{"type":"drain","id":"d"}"#) == [
            .drain(room: "r", waves: 5, seconds: 10), .reply(.done(id: "d", .drain)),
        ])
        #expect(Self.run(.operator, #"{"type":"drain","waves":2,"seconds":0}"#).first == .drain(room: "r", waves: 2, seconds: 0))
    }

    @Test func policyChangesTheCurrentPolicyAndRecordsItAfterwards() throws {
        var expected = SkuPolicy()
        expected.safetyMinimum = 9
        expected.substitute = "b"
        let actions = Self.run(.operator, #"{"type":"policy","id":"p","sku":"a","safetyMinimum":9,"substitute":"b"}"#)
        #expect(actions == [
            .submit(.setPolicy(sku: "a", policy: expected),
                    Submission(kind: .policy, sku: "a", id: "p", followUp: .setPolicy(expected, sku: "a")))
        ])
        #expect(Self.error(Self.run(.operator, #"{"type":"policy","sku":"a","substitute":"nope"}"#))?.field == "substitute")
        #expect(Self.error(Self.run(.operator, #"{"type":"policy","sku":"a","safetyMinimum":-1}"#))?.field == "safetyMinimum")
    }

    /// The command covers every field of the policy table, by its name or its deprecated name, and names the
    /// field it refuses.
    @Test func policyCommandCoversEveryFieldOfTheTable() throws {
        let expected = try SkuPolicy.everyFieldChanged()
        for deprecated in [false, true] {
            let json = #"{"type":"policy","id":"p","sku":"a", "# + expected.jsonMembers(deprecatedNames: deprecated) + "}"
            let actions = Self.run(.operator, json)
            #expect(actions == [
                .submit(.setPolicy(sku: "a", policy: expected),
                        Submission(kind: .policy, sku: "a", id: "p", followUp: .setPolicy(expected, sku: "a")))
            ], "\(json)")
        }
        let tooLong = Self.error(Self.run(.operator, #"{"type":"policy","sku":"a","trendWindowSeconds":2000}"#))
        #expect(tooLong?.field == "trendWindowSeconds")
        #expect(tooLong?.message.contains("exceed the alert horizon") == true)
        let fraction = Self.error(Self.run(.operator, #"{"type":"policy","sku":"a","emergencyLine":2.5}"#))
        #expect(fraction?.field == "emergencyLine")
        #expect(Self.error(Self.run(.operator, #"{"type":"policy","sku":"a","trendFactor":1}"#))?.field == "trendFactor")
    }

    @Test func tickNeedsAnExternalClock() {
        #expect(Self.error(Self.run(.operator, #"{"type":"tick","to":5}"#))?.field == "to")
        var external = Self.rules
        external.isExternalClock = true
        #expect(Self.run(.operator, #"{"type":"tick","id":"t","to":5}"#, rules: external) == [
            .submit(.tick(to: 5_000_000), Submission(kind: .tick, sku: nil, id: "t", followUp: nil))
        ])
    }

    @Test func aViewersStockQuestionIsAnsweredByTheRoom() {
        let danmaku = StreamMessage.danmaku(from: "sam", role: "viewer", text: "还有货吗?", isSystem: false)
        #expect(Self.run(.viewer, #"{"type":"danmaku","text":"  还有货吗? "}"#) == [
            .publish(room: "r", audiences: [.viewer, .host, .operator], danmaku), .answerStockQuestion(room: "r"),
        ])
        // The host asking is not a viewer's question.
        #expect(Self.run(.host, #"{"type":"danmaku","text":"还有货吗"}"#).count == 1)
    }

    @Test func danmakuIsLimitedPerConnectionPerTenSeconds() {
        var machine = Self.machine(.viewer)
        let line = #"{"type":"danmaku","text":"hi"}"#
        #expect(Self.error(Self.run(&machine, line, now: 1_000)) == nil)
        #expect(Self.error(Self.run(&machine, line, now: 2_000)) == nil)
        #expect(Self.error(Self.run(&machine, line, now: 3_000))?.code == .rateLimited)
        #expect(Self.error(Self.run(&machine, line, now: 11_000)) == nil)
        // Another connection has its own window.
        var other = Self.machine(.viewer)
        #expect(Self.error(Self.run(&other, line, now: 3_000)) == nil)
    }

    @Test func danmakuTextIsChecked() {
        #expect(Self.error(Self.run(.viewer, #"{"type":"danmaku","text":"   "}"#)) == .badField("text", "text is empty"))
        #expect(Self.error(Self.run(.viewer, #"{"type":"danmaku","text":"123456789012345678901"}"#))?.field == "text")
    }

    @Test func createRoomAndAddSkuAreChecked() {
        #expect(Self.run(.service, #"{"type":"createRoom","id":"c","room":"new","title":"New","skus":["a","c"]}"#) == [
            .createRoom(RoomStore.StoredRoom(id: "new", title: "New", skus: ["a", "c"], featured: "a"), id: "c")
        ])
        #expect(Self.error(Self.run(.operator, #"{"type":"createRoom","room":"other","skus":[]}"#))?.field == "room")
        #expect(Self.error(Self.run(.operator, #"{"type":"createRoom","room":"a b","skus":[]}"#))?.field == "room")
        #expect(Self.error(Self.run(.operator, #"{"type":"createRoom","room":"new","skus":["zz"]}"#))?.field == "room")
        #expect(Self.error(Self.run(.operator, #"{"type":"addSku","sku":"z z","onHand":3}"#))?.field == "sku")
        #expect(Self.error(Self.run(.operator, #"{"type":"addSku","sku":"z","onHand":3,"substitute":"nope"}"#))?.field == "substitute")
    }

    // MARK: Bad input

    @Test(arguments: [
        ("not json", ProtocolError.Code.badMessage, nil as String?),
        ("[1,2]", .badMessage, nil),
        (#"{"type":"fly"}"#, .badField, "type"),
        (#"{"id":"x"}"#, .badField, "type"),
        (#"{"type":"restock","sku":"a","qty":0}"#, .badField, "qty"),
        (#"{"type":"restock","sku":"a","qty":"5"}"#, .badField, "qty"),
        (#"{"type":"order","orderId":"o","sku":"a","qty":1,"state":"shipped"}"#, .badField, "state"),
    ])
    func badInputIsAnsweredWithAnErrorNamingTheField(json: String, code: ProtocolError.Code, field: String?) {
        let error = Self.error(Self.run(.operator, json))
        #expect(error?.code == code, "\(json)")
        #expect(error?.field == field, "\(json)")
    }

    /// A bad `id` is refused the same way for every message, naming `id` (a ping used to get a
    /// pong without one).
    @Test(arguments: [#"1.5"#, #"1e2"#, #"9223372036854775808"#, #""""#, #"true"#, #"{"a":1}"#,
                      "\"" + String(repeating: "x", count: 129) + "\""])
    func aBadIdIsRefusedNamingIt(id: String) {
        for body in [#""type":"ping""#, #""type":"restock","sku":"a","qty":1"#, #""type":"danmaku","text":"hi""#] {
            let error = Self.error(Self.run(.operator, "{\(body),\"id\":\(id)}"))
            #expect(error?.code == .badField, "\(id) \(body)")
            #expect(error?.field == "id", "\(id) \(body)")
        }
    }

    @Test func integerAndStringIdsAreEchoed() {
        #expect(Self.run(.viewer, #"{"type":"ping","id":-42}"#) == [.reply(.pong(id: "-42"))])
        #expect(Self.run(.viewer, #"{"type":"ping","id":9223372036854775807}"#) == [.reply(.pong(id: "9223372036854775807"))])
        #expect(Self.run(.viewer, #"{"type":"ping","id":null}"#) == [.reply(.pong(id: nil))])
    }

    @Test func aBinaryFrameIsRefusedAndTheIdIsKeptOnErrors() {
        var machine = Self.machine(.operator)
        let actions = Array("{}".utf8).withUnsafeBytes {
            machine.received(.binary, payload: $0, rooms: FakeRooms(), rules: Self.rules, now: 0)
        }
        #expect(Self.error(actions)?.code == .badMessage)
        guard case .reply(.error(let id, _))? = Self.run(.operator, #"{"type":"restock","id":"r9","sku":"zz","qty":1}"#).first else {
            Issue.record("no error reply")
            return
        }
        #expect(id == "r9")
    }
}
