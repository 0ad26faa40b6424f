/// Where JSON5 text first goes wrong, with the line, the column and what was expected there.
///
/// Foundation's JSON5 decoder (which `Configuration` reads the file with) says only "The given
/// data was not valid JSON." This scanner walks the same grammar (JSON5: comments, unquoted keys,
/// single-quoted strings, trailing commas, hexadecimal, `Infinity`, `NaN`, a leading or trailing
/// decimal point, escaped line breaks in strings) without building values, and reports the first
/// place it cannot accept: a missing comma, an unclosed string or comment, a stray or mismatched
/// bracket, a bad number, a missing value.
///
/// Lines and columns count from 1; a column counts characters (a multi-byte UTF-8 character is
/// one column), as editors show them. Only used on the error path, so it favours clear messages
/// over speed.
public struct JSON5Diagnosis: Error, Equatable, CustomStringConvertible {
    /// 1-based line of the offending character.
    public var line: Int
    /// 1-based column (characters) of the offending character.
    public var column: Int
    /// What is wrong and what was expected.
    public var message: String

    /// `line 3, column 5: expected ',' or '}' …`.
    public var description: String { "line \(line), column \(column): \(message)" }

    /// The first error in `bytes`, or nil when the text is valid JSON5.
    ///
    /// - Complexity: O(n).
    public static func diagnose(_ bytes: [UInt8]) -> JSON5Diagnosis? {
        var scanner = Scanner(bytes: bytes)
        do {
            try scanner.document()
            return nil
        } catch {
            return error
        }
    }

    /// The scanner: one pass over the bytes, recursion over nested values.
    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        var depth = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        // MARK: positions

        /// Line and column of byte `offset`.
        func position(of offset: Int) -> (line: Int, column: Int) {
            var line = 1
            var column = 1
            var i = 0
            let end = min(offset, bytes.count)
            while i < end {
                let byte = bytes[i]
                if byte == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else if byte == UInt8(ascii: "\r") {
                    if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n") {
                        i += 1
                    }
                    line += 1
                    column = 1
                } else if byte & 0xC0 != 0x80 {
                    column += 1
                }
                i += 1
            }
            return (line, column)
        }

        func fail(at offset: Int, _ message: String) -> JSON5Diagnosis {
            let (line, column) = position(of: offset)
            return JSON5Diagnosis(line: line, column: column, message: message)
        }

        func place(of offset: Int) -> String {
            let (line, column) = position(of: offset)
            return "line \(line), column \(column)"
        }

        /// The character at `offset` for a message: `'}'`, `'b'`, `the end of the file`.
        func found(_ offset: Int) -> String {
            guard offset < bytes.count else { return "the end of the file" }
            let byte = bytes[offset]
            switch byte {
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"): return "the end of the line"
            case 0x20...0x7E: return "'\(Character(Unicode.Scalar(byte)))'"
            default:
                if byte < 0x20 { return "a control character (0x\(String(byte, radix: 16)))" }
                var end = offset + 1
                while end < bytes.count && bytes[end] & 0xC0 == 0x80 { end += 1 }
                return "'" + String(decoding: bytes[offset..<end], as: UTF8.self) + "'"
            }
        }

        // MARK: grammar

        mutating func document() throws(JSON5Diagnosis) {
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
            try skipSpace()
            guard index < bytes.count else { throw fail(at: index, "the file is empty: expected an object '{ … }'") }
            try value(context: "the configuration")
            try skipSpace()
            if index < bytes.count {
                let extra = bytes[index] == UInt8(ascii: "}") || bytes[index] == UInt8(ascii: "]")
                    ? "a stray \(found(index)) after the end of the top-level value (one closing bracket too many?)"
                    : "unexpected \(found(index)) after the end of the top-level value"
                throw fail(at: index, extra)
            }
        }

        /// Skips whitespace and comments.
        mutating func skipSpace() throws(JSON5Diagnosis) {
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case 0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C:
                    index += 1
                case UInt8(ascii: "/"):
                    guard index + 1 < bytes.count else { throw fail(at: index, "a lone '/': expected '//' or '/*' to start a comment") }
                    if bytes[index + 1] == UInt8(ascii: "/") {
                        while index < bytes.count && bytes[index] != 0x0A && bytes[index] != 0x0D { index += 1 }
                    } else if bytes[index + 1] == UInt8(ascii: "*") {
                        let start = index
                        index += 2
                        while true {
                            guard index + 1 < bytes.count else {
                                throw fail(at: start, "unclosed comment: '/*' here has no '*/'")
                            }
                            if bytes[index] == UInt8(ascii: "*") && bytes[index + 1] == UInt8(ascii: "/") { index += 2; break }
                            index += 1
                        }
                    } else {
                        throw fail(at: index, "a lone '/': expected '//' or '/*' to start a comment")
                    }
                case 0xC2 where index + 1 < bytes.count && bytes[index + 1] == 0xA0:
                    index += 2  // U+00A0
                case 0xE2 where index + 2 < bytes.count && bytes[index + 1] == 0x80
                    && (bytes[index + 2] == 0xA8 || bytes[index + 2] == 0xA9):
                    index += 3  // U+2028, U+2029
                case 0xEF where index + 2 < bytes.count && bytes[index + 1] == 0xBB && bytes[index + 2] == 0xBF:
                    index += 3  // U+FEFF
                default:
                    return
                }
            }
        }

        mutating func value(context: String) throws(JSON5Diagnosis) {
            guard index < bytes.count else { throw fail(at: index, "expected a value for \(context), found the end of the file") }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "{"): try object()
            case UInt8(ascii: "["): try array()
            case UInt8(ascii: "\""), UInt8(ascii: "'"): try string()
            case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "0")...UInt8(ascii: "9"):
                try number()
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"),
                UInt8(ascii: "$"):
                let start = index
                let word = identifier()
                switch word {
                case "true", "false", "null", "Infinity", "NaN": return
                default:
                    throw fail(at: start, "expected a value for \(context), found the bare word '\(word)' "
                        + "(text must be quoted: \"\(word)\")")
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: ","), UInt8(ascii: ":"):
                throw fail(at: index, "expected a value for \(context), found \(found(index))")
            default:
                throw fail(at: index, "expected a value for \(context), found \(found(index))")
            }
        }

        mutating func object() throws(JSON5Diagnosis) {
            let open = index
            index += 1
            depth += 1
            defer { depth -= 1 }
            guard depth <= 512 else { throw fail(at: open, "nested deeper than 512 levels") }
            var lastValueEnd: Int? = nil
            var lastKey: String? = nil
            while true {
                try skipSpace()
                guard index < bytes.count else {
                    throw fail(at: index, "the object opened at \(place(of: open)) is not closed: expected '}' before the end of the file")
                }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return }
                if bytes[index] == UInt8(ascii: "]") {
                    throw fail(at: index, "found ']' where '}' should close the object opened at \(place(of: open))")
                }
                if let end = lastValueEnd {
                    guard bytes[index] == UInt8(ascii: ",") else {
                        throw fail(at: index, "expected ',' or '}' after the value of '\(lastKey ?? "")' "
                            + "(ending at \(place(of: end))), found \(found(index)): a missing comma?")
                    }
                    index += 1
                    try skipSpace()
                    guard index < bytes.count else {
                        throw fail(at: index, "the object opened at \(place(of: open)) is not closed: expected '}' before the end of the file")
                    }
                    if bytes[index] == UInt8(ascii: "}") { index += 1; return }
                }
                let key = try memberKey()
                try skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                    throw fail(at: index, "expected ':' after the key '\(key)', found \(found(index))")
                }
                index += 1
                try skipSpace()
                try value(context: "'\(key)'")
                lastValueEnd = index
                lastKey = key
            }
        }

        mutating func memberKey() throws(JSON5Diagnosis) -> String {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                let start = index
                try string()
                return String(decoding: bytes[(start + 1)..<(index - 1)], as: UTF8.self)
            }
            if isIdentifierStart(byte) { return identifier() }
            if byte == UInt8(ascii: ",") {
                throw fail(at: index, "expected a key, found ',': two commas in a row, or a comma after '{'")
            }
            throw fail(at: index, "expected a key (a name or a quoted string), found \(found(index))")
        }

        mutating func array() throws(JSON5Diagnosis) {
            let open = index
            index += 1
            depth += 1
            defer { depth -= 1 }
            guard depth <= 512 else { throw fail(at: open, "nested deeper than 512 levels") }
            var count = 0
            var lastValueEnd: Int? = nil
            while true {
                try skipSpace()
                guard index < bytes.count else {
                    throw fail(at: index, "the array opened at \(place(of: open)) is not closed: expected ']' before the end of the file")
                }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return }
                if bytes[index] == UInt8(ascii: "}") {
                    throw fail(at: index, "found '}' where ']' should close the array opened at \(place(of: open))")
                }
                if let end = lastValueEnd {
                    guard bytes[index] == UInt8(ascii: ",") else {
                        throw fail(at: index, "expected ',' or ']' after element \(count) of the array "
                            + "(ending at \(place(of: end))), found \(found(index)): a missing comma?")
                    }
                    index += 1
                    try skipSpace()
                    guard index < bytes.count else {
                        throw fail(at: index, "the array opened at \(place(of: open)) is not closed: expected ']' before the end of the file")
                    }
                    if bytes[index] == UInt8(ascii: "]") { index += 1; return }
                }
                count += 1
                try value(context: "element \(count) of the array")
                lastValueEnd = index
            }
        }

        mutating func string() throws(JSON5Diagnosis) {
            let quote = bytes[index]
            let start = index
            index += 1
            while true {
                guard index < bytes.count else {
                    throw fail(at: start, "unclosed string: the \(quote == 0x22 ? "\"" : "'") here has no closing quote before the end of the file")
                }
                let byte = bytes[index]
                if byte == quote { index += 1; return }
                if byte == 0x0A || byte == 0x0D {
                    throw fail(at: start, "unclosed string: the \(quote == 0x22 ? "\"" : "'") here has no closing quote on its line")
                }
                if byte == UInt8(ascii: "\\") {
                    index += 1
                    guard index < bytes.count else { continue }
                    let escaped = bytes[index]
                    switch escaped {
                    case UInt8(ascii: "x"):
                        guard index + 2 < bytes.count, isHex(bytes[index + 1]), isHex(bytes[index + 2]) else {
                            throw fail(at: index - 1, "bad escape: '\\x' needs two hexadecimal digits")
                        }
                        index += 3
                    case UInt8(ascii: "u"):
                        guard index + 4 < bytes.count, (1...4).allSatisfy({ isHex(bytes[index + $0]) }) else {
                            throw fail(at: index - 1, "bad escape: '\\u' needs four hexadecimal digits")
                        }
                        index += 5
                    case UInt8(ascii: "1")...UInt8(ascii: "9"):
                        throw fail(at: index - 1, "bad escape: '\\\(Character(Unicode.Scalar(escaped)))' (digits cannot be escaped)")
                    case 0x0D:
                        index += 1
                        if index < bytes.count && bytes[index] == 0x0A { index += 1 }
                    default:
                        index += 1
                    }
                    continue
                }
                if byte < 0x20 && byte != 0x09 {
                    throw fail(at: index, "a control character (0x\(String(byte, radix: 16))) inside a string: write it escaped")
                }
                index += 1
            }
        }

        mutating func number() throws(JSON5Diagnosis) {
            let start = index
            if bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            func badNumber(_ why: String) -> JSON5Diagnosis {
                var end = index
                while end < bytes.count && !isDelimiter(bytes[end]) { end += 1 }
                let text = String(decoding: bytes[start..<max(end, start + 1)], as: UTF8.self)
                return fail(at: start, "bad number '\(text)': \(why)")
            }
            if index < bytes.count && isIdentifierStart(bytes[index]) {
                let word = identifier()
                guard word == "Infinity" || word == "NaN" else { throw badNumber("expected digits after the sign") }
            } else if index + 1 < bytes.count && bytes[index] == UInt8(ascii: "0")
                && (bytes[index + 1] == UInt8(ascii: "x") || bytes[index + 1] == UInt8(ascii: "X")) {
                index += 2
                let digits = index
                while index < bytes.count && isHex(bytes[index]) { index += 1 }
                guard index > digits else { throw badNumber("expected hexadecimal digits after '0x'") }
            } else {
                let integer = index
                while index < bytes.count && isDigit(bytes[index]) { index += 1 }
                let integerDigits = index - integer
                if integerDigits > 1 && bytes[integer] == UInt8(ascii: "0") {
                    throw badNumber("a leading zero (write \(String(decoding: bytes[(integer + 1)..<index], as: UTF8.self)))")
                }
                var fractionDigits = 0
                if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
                    index += 1
                    let fraction = index
                    while index < bytes.count && isDigit(bytes[index]) { index += 1 }
                    fractionDigits = index - fraction
                }
                guard integerDigits + fractionDigits > 0 else { throw badNumber("expected digits") }
                if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
                    index += 1
                    if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
                    let exponent = index
                    while index < bytes.count && isDigit(bytes[index]) { index += 1 }
                    guard index > exponent else { throw badNumber("expected digits after the exponent's 'e'") }
                }
            }
            if index < bytes.count && !isDelimiter(bytes[index]) {
                throw badNumber("unexpected \(found(index)) in the number")
            }
        }

        mutating func identifier() -> String {
            let start = index
            while index < bytes.count && (isIdentifierStart(bytes[index]) || isDigit(bytes[index])) { index += 1 }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        func isIdentifierStart(_ byte: UInt8) -> Bool {
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "$") || byte >= 0x80
        }

        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

        func isHex(_ byte: UInt8) -> Bool {
            isDigit(byte) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
        }

        /// What may follow a number: space, a separator, a closing bracket, a comment, the end.
        func isDelimiter(_ byte: UInt8) -> Bool {
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C, UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"),
                UInt8(ascii: "/"):
                return true
            default:
                return false
            }
        }
    }
}
