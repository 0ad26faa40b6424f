/// Why strict JSON text was refused, and where: `offset` is the index of the first byte that
/// could not be accepted (the input's length when the text ended too early).
public struct JSONParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        case empty
        case unexpectedByte(UInt8)
        case unexpectedEnd
        case trailingGarbage
        case unterminatedString
        case controlCharacterInString(UInt8)
        case invalidEscape
        case invalidUnicodeEscape
        case loneSurrogate
        case invalidUTF8
        case leadingZero
        case invalidNumber
        case numberOutOfRange
        case duplicateKey(String)
        case tooDeep(limit: Int)
        case expectedKey
        case expectedColon
        case expectedCommaOrEnd
    }

    public var offset: Int
    public var reason: Reason

    public init(offset: Int, reason: Reason) {
        self.offset = offset
        self.reason = reason
    }

    /// The reason in words, e.g. `a trailing comma or a missing value (byte ']')`.
    public var reasonText: String {
        switch reason {
        case .empty: return "empty input"
        case .unexpectedByte(let byte): return "unexpected \(Self.describe(byte))"
        case .unexpectedEnd: return "unexpected end of input"
        case .trailingGarbage: return "text after the JSON value"
        case .unterminatedString: return "unterminated string"
        case .controlCharacterInString(let byte): return "unescaped control character 0x\(String(byte, radix: 16)) in a string"
        case .invalidEscape: return "invalid escape in a string"
        case .invalidUnicodeEscape: return "invalid \\u escape (expects 4 hex digits)"
        case .loneSurrogate: return "lone UTF-16 surrogate in a \\u escape"
        case .invalidUTF8: return "invalid UTF-8"
        case .leadingZero: return "number with a leading zero"
        case .invalidNumber: return "malformed number"
        case .numberOutOfRange: return "number out of range"
        case .duplicateKey(let key): return "duplicate key '\(key.prefix(64))'"
        case .tooDeep(let limit): return "nested deeper than \(limit) levels"
        case .expectedKey: return "expected a string key"
        case .expectedColon: return "expected ':' after a key"
        case .expectedCommaOrEnd: return "expected ',' or a closing bracket"
        }
    }

    /// `invalid JSON at byte 12: unexpected byte '}'`.
    public var description: String { "invalid JSON at byte \(offset): \(reasonText)" }

    private static func describe(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F { return "byte '\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x\(String(byte, radix: 16))"
    }
}

extension JSONValue {
    /// The nesting limit of `parse(bytes:)` unless the caller asks for less.
    public static let defaultMaximumDepth = 64

    /// Parses strict JSON (RFC 8259) from raw bytes, without Foundation.
    ///
    /// - Integers without a fraction or exponent that fit `Int` are `.int`; every other number
    ///   is `.double` (non-finite results are refused).
    /// - A key that appears twice in one object is an error (`duplicateKey`).
    /// - More than `maximumDepth` nested arrays and objects is an error (`tooDeep`).
    /// - Strings must be valid UTF-8 with no raw control characters; `\u` escapes must pair
    ///   surrogates.
    ///
    /// - Complexity: O(n) in the length of the text.
    public static func parse(
        bytes: UnsafeRawBufferPointer, maximumDepth: Int = defaultMaximumDepth
    ) throws(JSONParseError) -> JSONValue {
        guard let base = bytes.baseAddress, bytes.count > 0 else { throw JSONParseError(offset: 0, reason: .empty) }
        var parser = JSONParser(base: base.assumingMemoryBound(to: UInt8.self), count: bytes.count, maximumDepth: maximumDepth)
        parser.skipWhitespace()
        guard parser.index < parser.count else { throw JSONParseError(offset: parser.index, reason: .empty) }
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == parser.count else { throw JSONParseError(offset: parser.index, reason: .trailingGarbage) }
        return value
    }

    /// Parses strict JSON (RFC 8259) from a byte array; see `parse(bytes:maximumDepth:)`.
    public static func parse(
        _ bytes: [UInt8], maximumDepth: Int = defaultMaximumDepth
    ) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError> = bytes.withUnsafeBytes { raw in
            do throws(JSONParseError) {
                return .success(try parse(bytes: raw, maximumDepth: maximumDepth))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

/// A single-pass recursive-descent reader over the bytes; recursion is bounded by `maximumDepth`.
struct JSONParser {
    let base: UnsafePointer<UInt8>
    let count: Int
    let maximumDepth: Int
    var index = 0
    /// Scratch for strings with escapes, reused across strings.
    var scratch: [UInt8] = []

    init(base: UnsafePointer<UInt8>, count: Int, maximumDepth: Int) {
        self.base = base
        self.count = count
        self.maximumDepth = maximumDepth
    }

    @inline(__always)
    func fail(_ reason: JSONParseError.Reason, at offset: Int) -> JSONParseError {
        JSONParseError(offset: offset, reason: reason)
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < count {
            switch base[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// Parses the value at `index` (whitespace already skipped).
    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard index < count else { throw fail(.unexpectedEnd, at: index) }
        switch base[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try parseNumber()
        case let byte:
            throw fail(.unexpectedByte(byte), at: index)
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let length = literal.utf8CodeUnitCount
        let text = literal.utf8Start
        for offset in 0..<length {
            guard index + offset < count else { throw fail(.unexpectedEnd, at: index + offset) }
            let byte = base[index + offset]
            guard byte == text[offset] else { throw fail(.unexpectedByte(byte), at: index + offset) }
        }
        index += length
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= maximumDepth else { throw fail(.tooDeep(limit: maximumDepth), at: index) }
        index += 1  // {
        var object: [String: JSONValue] = [:]
        skipWhitespace()
        guard index < count else { throw fail(.unexpectedEnd, at: index) }
        if base[index] == UInt8(ascii: "}") {
            index += 1
            return .object(object)
        }
        object.reserveCapacity(8)
        while true {
            guard index < count else { throw fail(.unexpectedEnd, at: index) }
            guard base[index] == UInt8(ascii: "\"") else { throw fail(.expectedKey, at: index) }
            let keyOffset = index
            let key = try parseString()
            skipWhitespace()
            guard index < count else { throw fail(.unexpectedEnd, at: index) }
            guard base[index] == UInt8(ascii: ":") else { throw fail(.expectedColon, at: index) }
            index += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            guard object.updateValue(value, forKey: key) == nil else { throw fail(.duplicateKey(key), at: keyOffset) }
            skipWhitespace()
            guard index < count else { throw fail(.unexpectedEnd, at: index) }
            switch base[index] {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                index += 1
                return .object(object)
            default:
                throw fail(.expectedCommaOrEnd, at: index)
            }
        }
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= maximumDepth else { throw fail(.tooDeep(limit: maximumDepth), at: index) }
        index += 1  // [
        var array: [JSONValue] = []
        skipWhitespace()
        guard index < count else { throw fail(.unexpectedEnd, at: index) }
        if base[index] == UInt8(ascii: "]") {
            index += 1
            return .array(array)
        }
        while true {
            array.append(try parseValue(depth: depth))
            skipWhitespace()
            guard index < count else { throw fail(.unexpectedEnd, at: index) }
            switch base[index] {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                index += 1
                return .array(array)
            default:
                throw fail(.expectedCommaOrEnd, at: index)
            }
        }
    }

    // MARK: Strings

    /// Parses the string whose opening quote is at `index`; leaves `index` after the closing quote.
    mutating func parseString() throws(JSONParseError) -> String {
        index += 1  // "
        let start = index
        var isASCII = true
        // Fast path: no escapes. Scan to the closing quote, then make the String once.
        while index < count {
            let byte = base[index]
            if byte == UInt8(ascii: "\"") {
                let bytes = UnsafeBufferPointer(start: base + start, count: index - start)
                if !isASCII { try validateUTF8(from: start, to: index) }
                index += 1
                return String(decoding: bytes, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw fail(.controlCharacterInString(byte), at: index) }
            if byte >= 0x80 { isASCII = false }
            index += 1
        }
        guard index < count else { throw fail(.unterminatedString, at: index) }
        // Slow path: escapes. The bytes so far are copied once, then runs between escapes.
        if !isASCII { try validateUTF8(from: start, to: index) }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(start: base + start, count: index - start))
        while true {
            // base[index] is a backslash here.
            try appendEscape()
            let runStart = index
            var runIsASCII = true
            while index < count {
                let byte = base[index]
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { throw fail(.controlCharacterInString(byte), at: index) }
                if byte >= 0x80 { runIsASCII = false }
                index += 1
            }
            guard index < count else { throw fail(.unterminatedString, at: index) }
            if !runIsASCII { try validateUTF8(from: runStart, to: index) }
            scratch.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: index - runStart))
            if base[index] == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: scratch, as: UTF8.self)
            }
        }
    }

    /// Decodes the escape at `index` (a backslash) into `scratch`.
    mutating func appendEscape() throws(JSONParseError) {
        let escapeOffset = index
        index += 1
        guard index < count else { throw fail(.unterminatedString, at: index) }
        let byte = base[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""): scratch.append(0x22)
        case UInt8(ascii: "\\"): scratch.append(0x5C)
        case UInt8(ascii: "/"): scratch.append(0x2F)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try readHex4())
            if scalar >= 0xD800 && scalar < 0xDC00 {
                // A high surrogate must be followed by \u and a low surrogate.
                guard index + 1 < count, base[index] == UInt8(ascii: "\\"), base[index + 1] == UInt8(ascii: "u") else {
                    throw fail(.loneSurrogate, at: escapeOffset)
                }
                index += 2
                let low = UInt32(try readHex4())
                guard low >= 0xDC00 && low < 0xE000 else { throw fail(.loneSurrogate, at: escapeOffset) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if scalar >= 0xDC00 && scalar < 0xE000 {
                throw fail(.loneSurrogate, at: escapeOffset)
            }
            appendUTF8(scalar)
        default:
            throw fail(.invalidEscape, at: escapeOffset)
        }
    }

    /// Reads four hex digits at `index`.
    mutating func readHex4() throws(JSONParseError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard index < count else { throw fail(.unterminatedString, at: index) }
            let byte = base[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte &- UInt8(ascii: "a") &+ 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte &- UInt8(ascii: "A") &+ 10
            default: throw fail(.invalidUnicodeEscape, at: index)
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case ..<0x80:
            scratch.append(UInt8(scalar))
        case ..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case ..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Checks that `base[start..<end]` is well-formed UTF-8 (RFC 3629: no overlongs, no
    /// surrogates, nothing above U+10FFFF); the error names the first byte of the bad sequence.
    func validateUTF8(from start: Int, to end: Int) throws(JSONParseError) {
        var i = start
        while i < end {
            let lead = base[i]
            if lead < 0x80 {
                i += 1
                continue
            }
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: throw fail(.invalidUTF8, at: i)
            }
            guard i + length <= end else { throw fail(.invalidUTF8, at: i) }
            let second = base[i + 1]
            guard second >= low && second <= high else { throw fail(.invalidUTF8, at: i) }
            if length > 2 {
                for k in 2..<length where base[i + k] & 0xC0 != 0x80 { throw fail(.invalidUTF8, at: i) }
            }
            i += length
        }
    }

    // MARK: Numbers

    /// Parses `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` at `index`.
    mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        let isNegative = base[index] == UInt8(ascii: "-")
        if isNegative { index += 1 }
        guard index < count else { throw fail(.invalidNumber, at: index) }
        var integer = 0
        var overflowed = false
        let first = base[index]
        if first == UInt8(ascii: "0") {
            index += 1
            if index < count, base[index] >= UInt8(ascii: "0"), base[index] <= UInt8(ascii: "9") {
                throw fail(.leadingZero, at: start)
            }
        } else if first >= UInt8(ascii: "1") && first <= UInt8(ascii: "9") {
            // Accumulated negatively so that Int.min fits.
            while index < count {
                let byte = base[index]
                guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { break }
                if !overflowed {
                    let (times10, o1) = integer.multipliedReportingOverflow(by: 10)
                    let (next, o2) = times10.subtractingReportingOverflow(Int(byte &- UInt8(ascii: "0")))
                    if o1 || o2 { overflowed = true } else { integer = next }
                }
                index += 1
            }
        } else {
            throw fail(.invalidNumber, at: index)
        }
        var isInteger = true
        if index < count && base[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            try skipDigits()
        }
        if index < count && (base[index] == UInt8(ascii: "e") || base[index] == UInt8(ascii: "E")) {
            isInteger = false
            index += 1
            if index < count && (base[index] == UInt8(ascii: "+") || base[index] == UInt8(ascii: "-")) { index += 1 }
            try skipDigits()
        }
        if isInteger && !overflowed {
            if isNegative { return .int(integer) }
            if integer != Int.min { return .int(-integer) }
        }
        let text = String(decoding: UnsafeBufferPointer(start: base + start, count: index - start), as: UTF8.self)
        guard let double = Double(text), double.isFinite else { throw fail(.numberOutOfRange, at: start) }
        return .double(double)
    }

    /// At least one digit at `index`.
    mutating func skipDigits() throws(JSONParseError) {
        let start = index
        while index < count && base[index] >= UInt8(ascii: "0") && base[index] <= UInt8(ascii: "9") { index += 1 }
        guard index > start else { throw fail(.invalidNumber, at: index) }
    }
}
