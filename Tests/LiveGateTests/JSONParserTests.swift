import Foundation
import Testing

@testable import LiveGate
import LiveGateTestSupport

/// The strict hand-written JSON parser (`JSONValue.parse(bytes:)`): what it accepts, what it
/// refuses and where, and that it agrees with Foundation.
struct JSONParserTests {
    static func parse(_ text: String, maximumDepth: Int = JSONValue.defaultMaximumDepth) throws(JSONParseError) -> JSONValue {
        try JSONValue.parse(Array(text.utf8), maximumDepth: maximumDepth)
    }

    static func parseError(_ bytes: [UInt8], maximumDepth: Int = JSONValue.defaultMaximumDepth) -> JSONParseError? {
        do throws(JSONParseError) {
            _ = try JSONValue.parse(bytes, maximumDepth: maximumDepth)
            return nil
        } catch {
            return error
        }
    }

    // MARK: Valid documents

    static let valid: [(String, JSONValue)] = [
        ("null", .null),
        ("true", .bool(true)),
        ("false", .bool(false)),
        ("0", .int(0)),
        ("-0", .int(0)),
        ("42", .int(42)),
        ("-17", .int(-17)),
        ("9223372036854775807", .int(Int.max)),
        ("-9223372036854775808", .int(Int.min)),
        ("9223372036854775808", .double(9223372036854775808.0)),
        ("-9223372036854775809", .double(-9223372036854775809.0)),
        ("123456789012345678901234567890", .double(123456789012345678901234567890.0)),
        ("1.5", .double(1.5)),
        ("-0.25", .double(-0.25)),
        ("1.0", .double(1.0)),
        ("1e3", .double(1000)),
        ("1E+3", .double(1000)),
        ("2.5e-3", .double(0.0025)),
        ("-1.25E2", .double(-125)),
        ("0e0", .double(0)),
        ("1.7976931348623157e308", .double(1.7976931348623157e308)),
        ("5e-324", .double(Double.leastNonzeroMagnitude)),
        (#""""#, .string("")),
        (#""plain ascii""#, .string("plain ascii")),
        (#""a\"b\\c\/d\be\ff\ng\rh\ti""#, .string("a\"b\\c/d\u{8}e\u{C}f\ng\rh\ti")),
        (#""\u0041\u00e9\u4E2D""#, .string("Aé中")),
        (#""\u0000""#, .string("\u{0}")),
        (#""\ud83d\ude00 grin""#, .string("😀 grin")),
        (#""\uD834\uDD1E""#, .string("𝄞")),
        ("\"直播 é 😀\"", .string("直播 é 😀")),
        ("\"mix \\n é\\u00e9 中\"", .string("mix \n éé 中")),
        ("[]", .array([])),
        ("{}", .object([:])),
        (" \t\r\n[ 1 , \"two\" , null ]\n ", .array([.int(1), .string("two"), .null])),
        (#"{"a":{"b":[1,{"c":[true,false,null]}]},"d":-2.5}"#,
         .object(["a": .object(["b": .array([.int(1), .object(["c": .array([.bool(true), .bool(false), .null])])])]), "d": .double(-2.5)])),
        (#"{"type":"order","id":"o-1","orderId":"X1","sku":"hoodie","qty":2,"state":"placed","ts":1732550000123}"#,
         .object(["type": .string("order"), "id": .string("o-1"), "orderId": .string("X1"), "sku": .string("hoodie"),
                  "qty": .int(2), "state": .string("placed"), "ts": .int(1732550000123)])),
        (#"{"key with \"quote\"":1,"é":2,"":3}"#, .object(["key with \"quote\"": .int(1), "é": .int(2), "": .int(3)])),
        (#"[[[[[[[[[[]]]]]]]]]]"#, .array([.array([.array([.array([.array([.array([.array([.array([.array([.array([])])])])])])])])])])),
    ]

    @Test(arguments: 0..<valid.count)
    func parsesValidDocument(index: Int) throws {
        let (text, expected) = Self.valid[index]
        #expect(try Self.parse(text) == expected, "\(text)")
    }

    @Test func depthLimitCountsArraysAndObjects() throws {
        let deep64 = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try Self.parse(deep64) }
        let mixed64 = String(repeating: #"{"a":["#, count: 32) + String(repeating: "]}", count: 32)
        #expect(throws: Never.self) { try Self.parse(mixed64) }
        #expect(Self.parseError(Array((String(repeating: "[", count: 33) + String(repeating: "]", count: 33)).utf8), maximumDepth: 32)
            == JSONParseError(offset: 32, reason: .tooDeep(limit: 32)))
    }

    // MARK: Invalid documents

    static let invalid: [(bytes: [UInt8], offset: Int, reason: JSONParseError.Reason)] = [
        (Array("".utf8), 0, .empty),
        (Array("   \n".utf8), 4, .empty),
        (Array("[1,2,]".utf8), 5, .unexpectedByte(UInt8(ascii: "]"))),
        (Array(#"{"a":1,}"#.utf8), 7, .expectedKey),
        (Array("['a']".utf8), 1, .unexpectedByte(UInt8(ascii: "'"))),
        (Array("{'a':1}".utf8), 1, .expectedKey),
        (Array("{a:1}".utf8), 1, .expectedKey),
        (Array("// c\n1".utf8), 0, .unexpectedByte(UInt8(ascii: "/"))),
        (Array("[1 /* c */]".utf8), 3, .expectedCommaOrEnd),
        (Array("01".utf8), 0, .leadingZero),
        (Array("-012".utf8), 0, .leadingZero),
        (Array("+1".utf8), 0, .unexpectedByte(UInt8(ascii: "+"))),
        (Array(".5".utf8), 0, .unexpectedByte(UInt8(ascii: "."))),
        (Array("1.".utf8), 2, .invalidNumber),
        (Array("1.e3".utf8), 2, .invalidNumber),
        (Array("1e".utf8), 2, .invalidNumber),
        (Array("1e+".utf8), 3, .invalidNumber),
        (Array("-".utf8), 1, .invalidNumber),
        (Array("-a".utf8), 1, .invalidNumber),
        (Array("NaN".utf8), 0, .unexpectedByte(UInt8(ascii: "N"))),
        (Array("Infinity".utf8), 0, .unexpectedByte(UInt8(ascii: "I"))),
        (Array("-Infinity".utf8), 1, .invalidNumber),
        (Array("1e400".utf8), 0, .numberOutOfRange),
        (Array("0x10".utf8), 1, .trailingGarbage),
        (Array(#""\ud83d""#.utf8), 1, .loneSurrogate),
        (Array(#""\ude00x""#.utf8), 1, .loneSurrogate),
        (Array(#""\ud83d\u0041""#.utf8), 1, .loneSurrogate),
        (Array(#""\u12G4""#.utf8), 5, .invalidUnicodeEscape),
        (Array(#""\x41""#.utf8), 1, .invalidEscape),
        (Array("\"a\u{1}b\"".utf8), 2, .controlCharacterInString(0x01)),
        (Array("\"tab\there\"".utf8), 4, .controlCharacterInString(0x09)),
        (Array("\"line\nbreak\"".utf8), 5, .controlCharacterInString(0x0A)),
        ([0x22, 0x61, 0xFF, 0x22], 2, .invalidUTF8),
        ([0x22, 0xC3, 0x22], 1, .invalidUTF8),  // truncated 2-byte sequence
        ([0x22, 0xC0, 0xAF, 0x22], 1, .invalidUTF8),  // overlong '/'
        ([0x22, 0xED, 0xA0, 0x80, 0x22], 1, .invalidUTF8),  // UTF-8-encoded surrogate
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1, .invalidUTF8),  // above U+10FFFF
        ([0x22, 0x5C, 0x6E, 0x80, 0x22], 3, .invalidUTF8),  // stray continuation after an escape
        ([0xEF, 0xBB, 0xBF, 0x31], 0, .unexpectedByte(0xEF)),  // byte-order mark
        (Array((String(repeating: "[", count: 65) + String(repeating: "]", count: 65)).utf8), 64, .tooDeep(limit: 64)),
        (Array((String(repeating: #"{"k":"#, count: 65) + "1" + String(repeating: "}", count: 65)).utf8), 320, .tooDeep(limit: 64)),
        (Array("1 2".utf8), 2, .trailingGarbage),
        (Array("{} x".utf8), 3, .trailingGarbage),
        (Array("truex".utf8), 4, .trailingGarbage),
        (Array("nul".utf8), 3, .unexpectedEnd),
        (Array("tru e".utf8), 3, .unexpectedByte(UInt8(ascii: " "))),
        (Array(#""abc"#.utf8), 4, .unterminatedString),
        (Array(#""abc\"#.utf8), 5, .unterminatedString),
        (Array("[1, 2".utf8), 5, .unexpectedEnd),
        (Array("[".utf8), 1, .unexpectedEnd),
        (Array(#"{"a":1"#.utf8), 6, .unexpectedEnd),
        (Array(#"{"a""#.utf8), 4, .unexpectedEnd),
        (Array(#"{"a" 1}"#.utf8), 5, .expectedColon),
        (Array(#"{"a":}"#.utf8), 5, .unexpectedByte(UInt8(ascii: "}"))),
        (Array("[1 2]".utf8), 3, .expectedCommaOrEnd),
        (Array(#"{"a":1 "b":2}"#.utf8), 7, .expectedCommaOrEnd),
        (Array(#"{"a":1,"b":2,"a":3}"#.utf8), 13, .duplicateKey("a")),
        (Array(#"{"\u0061":1,"a":2}"#.utf8), 12, .duplicateKey("a")),
    ]

    @Test(arguments: 0..<invalid.count)
    func refusesInvalidDocument(index: Int) {
        let (bytes, offset, reason) = Self.invalid[index]
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(Self.parseError(bytes) == JSONParseError(offset: offset, reason: reason), "\(text)")
    }

    @Test func errorDescriptionNamesOffsetAndReason() {
        #expect(Self.parseError(Array("[1,2,]".utf8))?.description == "invalid JSON at byte 5: unexpected byte ']'")
        #expect(Self.parseError(Array(#"{"a":1,"a":2}"#.utf8))?.description == "invalid JSON at byte 7: duplicate key 'a'")
        #expect(Self.parseError([])?.description == "invalid JSON at byte 0: empty input")
    }

    // MARK: Agreement with Foundation

    static let alphabet: [Unicode.Scalar] = [
        "a", "b", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{1}", "\u{1F}", "\u{7F}", "é", "ß", "中", "直", "😀", "𝄞",
        // No U+FEFF: Foundation on Linux drops it from strings.
        "\u{2028}", "\u{FFFD}", "{", "]", ",", ":",
    ]

    static func randomString(_ rng: inout SplitMix64) -> String {
        var scalars = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0...12, using: &rng) { scalars.append(alphabet.randomElement(using: &rng)!) }
        return String(scalars)
    }

    static func randomValue(_ rng: inout SplitMix64, depth: Int) -> JSONValue {
        let pick = Int.random(in: 0..<(depth >= 5 ? 6 : 8), using: &rng)
        switch pick {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2:
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: return .int(Int.random(in: -100...100, using: &rng))
            case 1: return .int(Int.random(in: Int.min...Int.max, using: &rng))
            case 2: return .int([Int.max, Int.min, 0, -1][Int.random(in: 0..<4, using: &rng)])
            default: return .int(Int.random(in: -1_000_000_000_000...1_000_000_000_000, using: &rng))
            }
        case 3:
            // Non-integral finite doubles, so that every writer prints a fraction or exponent.
            var double: Double
            repeat {
                double = Double.random(in: -1e6...1e6, using: &rng) * pow(10, Double(Int.random(in: -20...20, using: &rng)))
            } while double.rounded() == double
            return .double(double)
        case 4, 5: return .string(randomString(&rng))
        case 6:
            return .array((0..<Int.random(in: 0...5, using: &rng)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            var object: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...5, using: &rng) { object[randomString(&rng)] = randomValue(&rng, depth: depth + 1) }
            return .object(object)
        }
    }

    /// Our own writer, with random whitespace and random `\u` escapes (surrogate pairs included).
    static func write(_ value: JSONValue, _ rng: inout SplitMix64, into out: inout String) {
        func space() { if Int.random(in: 0..<4, using: &rng) == 0 { out += [" ", "\n", "\t", "\r\n ", "  "][Int.random(in: 0..<5, using: &rng)] } }
        func string(_ s: String) {
            out += "\""
            for scalar in s.unicodeScalars {
                let escape = Int.random(in: 0..<4, using: &rng) == 0
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += escape ? "\\u000A" : "\\n"
                case "\t": out += "\\t"
                case "/" where escape: out += "\\/"
                case _ where scalar.value < 0x20 || escape:
                    for unit in String(scalar).utf16 { out += "\\u" + String(format: "%04x", unit) }
                default: out.unicodeScalars.append(scalar)
                }
            }
            out += "\""
        }
        space()
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += "\(d)"
        case .string(let s): string(s)
        case .array(let a):
            out += "["
            for (i, element) in a.enumerated() {
                if i > 0 { out += "," }
                write(element, &rng, into: &out)
            }
            space()
            out += "]"
        case .object(let o):
            out += "{"
            for (i, (key, element)) in o.enumerated() {
                if i > 0 { out += "," }
                space()
                string(key)
                space()
                out += ":"
                write(element, &rng, into: &out)
            }
            space()
            out += "}"
        }
        space()
    }

    /// Foundation's `JSONSerialization` value as a `JSONValue`; every NSNumber (Bool included) as `.double`.
    static func fromFoundation(_ any: Any) -> JSONValue? {
        switch any {
        case is NSNull: return .null
        case let string as String: return .string(string)
        case let array as [Any]:
            var out: [JSONValue] = []
            for element in array {
                guard let value = fromFoundation(element) else { return nil }
                out.append(value)
            }
            return .array(out)
        case let object as [String: Any]:
            var out: [String: JSONValue] = [:]
            for (key, element) in object {
                guard let value = fromFoundation(element) else { return nil }
                out[key] = value
            }
            return .object(out)
        case let number as NSNumber:
            return .double(number.doubleValue)
        default: return nil
        }
    }

    /// Equality that compares every number as a Double (Foundation's view of numbers) and
    /// tells Bool from number only where Foundation does. Doubles may differ in the last digits
    /// (relative 1e-14): Foundation's reader on Linux is off by a few ulp on long mantissas
    /// (ours must be exact, which `parsed == value` checks).
    static func agree(_ ours: JSONValue, _ foundation: JSONValue) -> Bool {
        func close(_ a: Double, _ b: Double) -> Bool { a == b || abs(a - b) <= 1e-14 * max(abs(a), abs(b)) }
        switch (ours, foundation) {
        case (.int(let a), .double(let b)): return close(Double(a), b)
        case (.double(let a), .double(let b)): return close(a, b)
        case (.bool(let a), .bool(let b)): return a == b
        case (.bool(let a), .double(let b)): return (a ? 1 : 0) == b
        case (.array(let a), .array(let b)): return a.count == b.count && zip(a, b).allSatisfy { agree($0, $1) }
        case (.object(let a), .object(let b)):
            return a.count == b.count && a.allSatisfy { key, value in b[key].map { agree(value, $0) } ?? false }
        default: return ours == foundation
        }
    }

    @Test func agreesWithFoundationOnRandomDocuments() throws {
        var rng = SplitMix64(seed: 0x6C69_7665_6761_7465)
        for index in 0..<400 {
            let value = Self.randomValue(&rng, depth: 0)
            var text = ""
            Self.write(value, &rng, into: &text)
            // Our writer's text parses back to exactly the generated value.
            let parsed = try Self.parse(text)
            #expect(parsed == value, "document \(index): \(text)")
            // Foundation reads the same text to the same value.
            let foundation = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
            let converted = try #require(Self.fromFoundation(foundation), "document \(index)")
            #expect(Self.agree(parsed, converted), "document \(index): \(text)")
            // And Foundation's own text for the value parses to what Foundation read.
            if case .array = value, let data = try? JSONSerialization.data(withJSONObject: foundation) {
                let reparsed = try JSONValue.parse(data)
                #expect(Self.agree(reparsed, converted), "document \(index) as Foundation writes it")
            }
        }
    }

    @Test func refusesWhatFoundationRefusesOnMutatedDocuments() throws {
        // Random single-byte corruptions of valid documents: whenever Foundation refuses one,
        // so do we (we may refuse more: duplicate keys, lone surrogates).
        var rng = SplitMix64(seed: 42)
        var refusedByBoth = 0
        for _ in 0..<300 {
            var text = ""
            Self.write(Self.randomValue(&rng, depth: 0), &rng, into: &text)
            var bytes = Array(text.utf8)
            guard !bytes.isEmpty else { continue }
            bytes[Int.random(in: 0..<bytes.count, using: &rng)] = Array("{}[]\":,\\ x0-.eE\u{1}".utf8).randomElement(using: &rng)!
            let foundationRefuses = (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) == nil
            if foundationRefuses {
                #expect(Self.parseError(bytes) != nil, "\(String(decoding: bytes, as: UTF8.self))")
                refusedByBoth += 1
            }
        }
        #expect(refusedByBoth > 50)
    }

    // MARK: Protocol examples

    @Test(arguments: ProtocolExampleTests.examples(""))
    func protocolExampleParsesAsFoundationDid(name: String) throws {
        let data = try Data(contentsOf: ProtocolExampleTests.directory.appendingPathComponent(name))
        let before = try JSONDecoder().decode(JSONValue.self, from: data)
        let after = try JSONValue.parse(data)
        #expect(after == before, "\(name)")
    }
}
