import Testing

@testable import LiveGateRedis

/// The RESP codec: every reply type, split at every byte, limits and malformed input.
struct RESPTests {
    static let examples: [(String, RESPValue)] = [
        ("+OK\r\n", .simpleString("OK")),
        ("-ERR unknown command 'FOO'\r\n", .error("ERR unknown command 'FOO'")),
        (":-42\r\n", .integer(-42)),
        (":9223372036854775807\r\n", .integer(.max)),
        ("$5\r\nhe\r\no\r\n", .bulkString(Array("he\r\no".utf8))),
        ("$0\r\n\r\n", .bulkString([])),
        ("$-1\r\n", .null),
        ("*-1\r\n", .null),
        ("_\r\n", .null),
        ("*0\r\n", .array([])),
        ("*3\r\n:1\r\n$3\r\nfoo\r\n*2\r\n+a\r\n$-1\r\n", .array([.integer(1), .bulkString(Array("foo".utf8)), .array([.simpleString("a"), .null])])),
        ("#t\r\n", .boolean(true)),
        (",3.5\r\n", .double(3.5)),
        (",-inf\r\n", .double(-.infinity)),
        ("(3492890328409238509324850943850943825024385\r\n", .bigNumber("3492890328409238509324850943850943825024385")),
        ("!21\r\nSYNTAX invalid syntax\r\n", .error("SYNTAX invalid syntax")),
        ("=15\r\ntxt:Some string\r\n", .bulkString(Array("Some string".utf8))),
        ("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", .map([.simpleString("first"), .integer(1), .simpleString("second"), .integer(2)])),
        ("~2\r\n+a\r\n+b\r\n", .set([.simpleString("a"), .simpleString("b")])),
        (">2\r\n$7\r\nmessage\r\n$2\r\nhi\r\n", .push([.bulkString(Array("message".utf8)), .bulkString(Array("hi".utf8))])),
        ("|1\r\n+ttl\r\n:3600\r\n:7\r\n", .integer(7)),
        // An XREAD reply: [[stream, [[id, [field, value]]]]].
        ("*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nm\r\n$2\r\n{}\r\n",
         .array([.array([.bulkString([115]), .array([.array([.bulkString(Array("1-1".utf8)), .array([.bulkString([109]), .bulkString(Array("{}".utf8))])])])])])),
    ]

    @Test func everyExampleParsesWhole() throws {
        for (text, expected) in Self.examples {
            var parser = RESPParser()
            parser.append(Array(text.utf8))
            #expect(try parser.next() == expected, "\(text.debugDescription)")
            #expect(try parser.next() == nil)
            #expect(parser.bufferedByteCount == 0)
        }
    }

    @Test func everyExampleParsesTheSameSplitAtEveryByte() throws {
        for (text, expected) in Self.examples {
            let bytes = Array(text.utf8)
            for split in 1..<bytes.count {
                var parser = RESPParser()
                parser.append(Array(bytes[..<split]))
                #expect(try parser.next() == nil, "\(text.debugDescription) split at \(split) is incomplete")
                parser.append(Array(bytes[split...]))
                #expect(try parser.next() == expected, "\(text.debugDescription) split at \(split)")
            }
        }
    }

    @Test func allExamplesBackToBackFedOneByteAtATime() throws {
        var parser = RESPParser()
        var values: [RESPValue] = []
        for (text, _) in Self.examples {
            for byte in text.utf8 {
                parser.append([byte])
                while let value = try parser.next() { values.append(value) }
            }
        }
        #expect(values == Self.examples.map(\.1))
    }

    @Test func malformedRepliesAreErrorsThatSayWhere() {
        let cases: [(String, RESPParseError.Reason)] = [
            ("?3\r\n", .unknownType(UInt8(ascii: "?"))),
            (":12a\r\n", .badInteger),
            (":99999999999999999999\r\n", .badInteger),
            ("$x\r\n", .badLength),
            ("$-2\r\n", .badLength),
            ("$3\r\nabcd\r\n", .missingCRLF),
            ("+OK\rX", .missingCRLF),
            (",abc\r\n", .badDouble),
            ("*?\r\n", .streamedAggregate),
        ]
        for (text, reason) in cases {
            var parser = RESPParser()
            parser.append(Array(text.utf8))
            #expect(throws: RESPParseError.self, "\(text.debugDescription)") { _ = try parser.next() }
            do {
                _ = try parser.next()
            } catch {
                #expect(error.reason == reason, "\(text.debugDescription): \(error)")
            }
        }
    }

    @Test func limitsRefuseOversizedReplies() throws {
        let limits = RESPParser.Limits(maximumBulkBytes: 10, maximumElements: 3, maximumDepth: 2, maximumLineBytes: 16)
        let cases: [(String, RESPParseError.Reason)] = [
            ("$11\r\n", .bulkTooLong(10)),
            ("*4\r\n", .tooManyElements(3)),
            ("*1\r\n*1\r\n*1\r\n:1\r\n", .tooDeep(2)),
            ("+" + String(repeating: "a", count: 40), .lineTooLong(16)),
        ]
        for (text, reason) in cases {
            var parser = RESPParser(limits: limits)
            parser.append(Array(text.utf8))
            do {
                _ = try parser.next()
                Issue.record("\(text.debugDescription) was accepted")
            } catch {
                #expect(error.reason == reason, "\(text.debugDescription): \(error)")
            }
        }
        // A run of attributes counts as nesting.
        var attributes = RESPParser(limits: limits)
        attributes.append(Array((String(repeating: "|0\r\n", count: 50) + ":1\r\n").utf8))
        #expect(throws: RESPParseError.self) { _ = try attributes.next() }
        // Within the limits, the same shapes parse.
        var parser = RESPParser(limits: limits)
        parser.append(Array("$10\r\n0123456789\r\n*3\r\n:1\r\n:2\r\n*1\r\n:3\r\n".utf8))
        #expect(try parser.next() == .bulkString(Array("0123456789".utf8)))
        #expect(try parser.next() == .array([.integer(1), .integer(2), .array([.integer(3)])]))
    }

    /// A large bulk string arriving in small reads is not re-scanned from its start each time.
    @Test func aLongBulkStringArrivesInPieces() throws {
        let payload = [UInt8](repeating: 0x61, count: 200_000)
        var bytes = Array("$200000\r\n".utf8) + payload + [0x0D, 0x0A]
        bytes += Array("+next\r\n".utf8)
        var parser = RESPParser()
        var values: [RESPValue] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + 1_000, bytes.count)
            parser.append(Array(bytes[offset..<end]))
            while let value = try parser.next() { values.append(value) }
            offset = end
        }
        #expect(values == [.bulkString(payload), .simpleString("next")])
    }

    @Test func commandsAreArraysOfBulkStrings() throws {
        #expect(RESPEncoder.encode(["SET", "k", "值"]) == Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n值\r\n".utf8))
        #expect(RESPEncoder.encode([]) == Array("*0\r\n".utf8))
        var buffer: [UInt8] = []
        RESPEncoder.append([Array("XADD".utf8), [0, 0x0D, 0x0A]], to: &buffer)
        #expect(buffer == Array("*2\r\n$4\r\nXADD\r\n$3\r\n".utf8) + [0, 0x0D, 0x0A] + [0x0D, 0x0A])
        // What the encoder writes, the parser reads back as the same arguments.
        var parser = RESPParser()
        parser.append(RESPEncoder.encode(["a", "", String(repeating: "x", count: 1234)]))
        #expect(try parser.next() == .array([.bulkString([97]), .bulkString([]), .bulkString([UInt8](repeating: 120, count: 1234))]))
    }
}

struct RedisURLTests {
    @Test func urlsUsersWrite() throws {
        #expect(try RedisURL(parsing: "redis://127.0.0.1:6380") == RedisURL(host: "127.0.0.1", port: 6380))
        #expect(try RedisURL(parsing: "redis://localhost") == RedisURL(host: "localhost"))
        #expect(try RedisURL(parsing: "redis://:s%40cret@h:1/3") == RedisURL(host: "h", port: 1, password: "s@cret", database: 3))
        #expect(try RedisURL(parsing: "redis://app:pw@h/") == RedisURL(host: "h", user: "app", password: "pw"))
        #expect(try RedisURL(parsing: "redis://pw@h") == RedisURL(host: "h", password: "pw"))
        #expect(try RedisURL(parsing: "rediss://[::1]:6390/2") == RedisURL(host: "::1", port: 6390, database: 2, usesTLS: true))
        // A password with '/', '?', '#' or '@' unencoded: the login ends at the last '@'.
        #expect(try RedisURL(parsing: "redis://:a/b?c#d@h:7/1") == RedisURL(host: "h", port: 7, password: "a/b?c#d", database: 1))
    }

    @Test func badURLsSayWhatIsWrongWithoutThePassword() {
        let cases: [(String, String)] = [
            ("http://h", "expected redis://"),
            ("redis://h:0", "the port must be 1...65535"),
            ("redis://h:port", "bad port 'port'"),
            ("redis://h/x", "the database must be a number"),
            ("redis://", "the host is missing"),
            ("redis://:pw@h?x=1", "query and fragment are not supported"),
            ("redis://:top%zzsecret@h", "a bad percent escape"),
            ("redis://:se/cret@h:x", "bad port 'x'"),
        ]
        for (text, expected) in cases {
            do {
                _ = try RedisURL(parsing: text)
                Issue.record("\(text) was accepted")
            } catch {
                #expect(error.description.contains(expected), "\(text): \(error)")
                #expect(!error.description.contains("secret"), "\(error)")
            }
        }
        #expect(RedisURL(host: "h", user: "u", password: "secret").description == "redis://u:***@h:6379/0")
    }
}
