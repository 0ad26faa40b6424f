/// RESP, the Redis serialization protocol (RESP2 and the RESP3 types a reply may carry):
/// a value type for replies, an encoder for commands and an incremental parser with limits.
/// No syscalls; the client (RedisClient.swift) feeds the parser what the socket gives.

/// One reply. RESP2's null bulk string and null array and RESP3's `_` are all ``null``;
/// RESP3 maps are the flat list key, value, key, value…; a verbatim string is its text.
public enum RESPValue: Equatable, Sendable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    case bulkString([UInt8])
    case null
    case array([RESPValue])
    case double(Double)
    case boolean(Bool)
    case bigNumber(String)
    case map([RESPValue])
    case set([RESPValue])
    /// Out-of-band data (RESP3 `>`): never the answer to a command.
    case push([RESPValue])

    /// The text of a simple, bulk or verbatim string, or nil.
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let bytes): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    /// The elements of an array, set or push, or nil.
    public var elements: [RESPValue]? {
        switch self {
        case .array(let values), .set(let values), .push(let values): values
        default: nil
        }
    }
}

/// Why the parser gave up: the connection is then out of step and must be closed.
public struct RESPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        case unknownType(UInt8)
        case badLength
        case badInteger
        case badDouble
        case missingCRLF
        case bulkTooLong(Int)
        case tooManyElements(Int)
        case tooDeep(Int)
        case lineTooLong(Int)
        case streamedAggregate
    }

    public let reason: Reason
    /// The offset in the stream (bytes consumed before the value that failed, plus its own).
    public let offset: Int

    public var description: String {
        let what: String
        switch reason {
        case .unknownType(let byte): what = "unknown type byte 0x\(String(byte, radix: 16))"
        case .badLength: what = "a malformed length"
        case .badInteger: what = "a malformed integer"
        case .badDouble: what = "a malformed double"
        case .missingCRLF: what = "a missing CRLF"
        case .bulkTooLong(let limit): what = "a string longer than the limit of \(limit) bytes"
        case .tooManyElements(let limit): what = "an aggregate of more than \(limit) elements"
        case .tooDeep(let limit): what = "aggregates nested deeper than \(limit)"
        case .lineTooLong(let limit): what = "a line longer than \(limit) bytes"
        case .streamedAggregate: what = "a streamed aggregate (not supported)"
        }
        return "RESP: \(what) at byte \(offset)"
    }
}

/// Encodes commands as arrays of bulk strings (how every client speaks to Redis).
public enum RESPEncoder {
    /// Appends `*N\r\n` then each argument as `$len\r\n…\r\n`.
    public static func append(_ arguments: [String], to buffer: inout [UInt8]) {
        appendDecimal(UInt8(ascii: "*"), arguments.count, to: &buffer)
        for argument in arguments {
            var argument = argument
            argument.withUTF8 { bytes in
                appendDecimal(UInt8(ascii: "$"), bytes.count, to: &buffer)
                buffer.append(contentsOf: bytes)
                buffer.append(0x0D)
                buffer.append(0x0A)
            }
        }
    }

    /// Appends a command whose arguments are raw bytes (a stream entry's payload).
    public static func append(_ arguments: [[UInt8]], to buffer: inout [UInt8]) {
        appendDecimal(UInt8(ascii: "*"), arguments.count, to: &buffer)
        for argument in arguments {
            appendDecimal(UInt8(ascii: "$"), argument.count, to: &buffer)
            buffer.append(contentsOf: argument)
            buffer.append(0x0D)
            buffer.append(0x0A)
        }
    }

    /// The encoded command.
    public static func encode(_ arguments: [String]) -> [UInt8] {
        var buffer: [UInt8] = []
        append(arguments, to: &buffer)
        return buffer
    }

    static func appendDecimal(_ prefix: UInt8, _ value: Int, to buffer: inout [UInt8]) {
        buffer.append(prefix)
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { raw in
            repeat {
                raw[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            for index in stride(from: count - 1, through: 0, by: -1) { buffer.append(raw[index]) }
        }
        buffer.append(0x0D)
        buffer.append(0x0A)
    }
}

/// An incremental RESP parser: ``append(_:)`` what arrived, then take values with ``next()``
/// until it returns nil (a value is incomplete). A value split anywhere parses the same.
public struct RESPParser: Sendable {
    /// The limits a server's reply must stay within.
    public struct Limits: Sendable {
        public var maximumBulkBytes: Int
        public var maximumElements: Int
        public var maximumDepth: Int
        public var maximumLineBytes: Int

        public init(maximumBulkBytes: Int = 64 << 20, maximumElements: Int = 1 << 20, maximumDepth: Int = 16,
                    maximumLineBytes: Int = 64 << 10) {
            self.maximumBulkBytes = maximumBulkBytes
            self.maximumElements = maximumElements
            self.maximumDepth = maximumDepth
            self.maximumLineBytes = maximumLineBytes
        }
    }

    public let limits: Limits
    private var buffer: [UInt8] = []
    private var start = 0
    /// Bytes consumed and dropped from the front of `buffer` (for error offsets).
    private var dropped = 0
    /// The buffer length below which another attempt cannot complete the pending value.
    private var needed = 0

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Bytes held that are not a complete value yet.
    public var bufferedByteCount: Int { buffer.count - start }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if start > 0 && start == buffer.count {
            dropped += start
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 64 << 10 && start * 2 > buffer.count {
            dropped += start
            buffer.removeFirst(start)
            needed -= start
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The next complete value, or nil when more bytes are needed.
    ///
    /// - Throws: ``RESPParseError`` when the bytes are not RESP or break a limit; the stream
    ///   cannot be resynchronised after that.
    public mutating func next() throws(RESPParseError) -> RESPValue? {
        guard buffer.count > start, buffer.count >= needed else { return nil }
        var cursor = Cursor(bytes: buffer, index: start, limits: limits, base: dropped)
        do {
            let value = try cursor.value(depth: 0)
            start = cursor.index
            needed = 0
            return value
        } catch {
            switch error {
            case .incomplete(let minimum):
                needed = minimum
                return nil
            case .invalid(let error):
                throw error
            }
        }
    }

    private enum Failure: Error {
        case incomplete(needed: Int)
        case invalid(RESPParseError)
    }

    private struct Cursor {
        let bytes: [UInt8]
        var index: Int
        let limits: Limits
        let base: Int

        func fail(_ reason: RESPParseError.Reason) -> Failure {
            .invalid(RESPParseError(reason: reason, offset: base + index))
        }

        /// The line from `index` to its CRLF (exclusive); moves past the CRLF.
        mutating func line() throws(Failure) -> Range<Int> {
            let lineStart = index
            var scan = index
            while scan < bytes.count {
                if bytes[scan] == 0x0D {
                    guard scan + 1 < bytes.count else { throw .incomplete(needed: scan + 2) }
                    guard bytes[scan + 1] == 0x0A else { throw fail(.missingCRLF) }
                    index = scan + 2
                    return lineStart..<scan
                }
                scan += 1
                if scan - lineStart > limits.maximumLineBytes { throw fail(.lineTooLong(limits.maximumLineBytes)) }
            }
            throw .incomplete(needed: bytes.count + 1)
        }

        func text(_ range: Range<Int>) -> String {
            String(decoding: bytes[range], as: UTF8.self)
        }

        func integer(_ range: Range<Int>, reason: RESPParseError.Reason) throws(Failure) -> Int64 {
            var scan = range.lowerBound
            var negative = false
            if scan < range.upperBound, bytes[scan] == UInt8(ascii: "-") || bytes[scan] == UInt8(ascii: "+") {
                negative = bytes[scan] == UInt8(ascii: "-")
                scan += 1
            }
            guard scan < range.upperBound, range.upperBound - scan <= 19 else { throw fail(reason) }
            var value: Int64 = 0
            while scan < range.upperBound {
                let digit = bytes[scan] &- UInt8(ascii: "0")
                guard digit < 10 else { throw fail(reason) }
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (next, o2) = times10.addingReportingOverflow(Int64(digit))
                guard !o1, !o2 else { throw fail(reason) }
                value = next
                scan += 1
            }
            return negative ? -value : value
        }

        /// A length line: -1 (null) or 0…limit.
        mutating func length(limit: Int, tooLong: RESPParseError.Reason) throws(Failure) -> Int? {
            let range = try line()
            if range.count == 1 && bytes[range.lowerBound] == UInt8(ascii: "?") { throw fail(.streamedAggregate) }
            let value = try integer(range, reason: .badLength)
            if value == -1 { return nil }
            guard value >= 0 else { throw fail(.badLength) }
            guard value <= limit else { throw fail(tooLong) }
            return Int(value)
        }

        mutating func value(depth: Int) throws(Failure) -> RESPValue {
            guard index < bytes.count else { throw .incomplete(needed: index + 1) }
            let type = bytes[index]
            index += 1
            switch type {
            case UInt8(ascii: "+"): return .simpleString(text(try line()))
            case UInt8(ascii: "-"): return .error(text(try line()))
            case UInt8(ascii: ":"): return .integer(try integer(try line(), reason: .badInteger))
            case UInt8(ascii: "_"):
                guard try line().isEmpty else { throw fail(.missingCRLF) }
                return .null
            case UInt8(ascii: "#"):
                let range = try line()
                guard range.count == 1, bytes[range.lowerBound] == UInt8(ascii: "t") || bytes[range.lowerBound] == UInt8(ascii: "f")
                else { throw fail(.badInteger) }
                return .boolean(bytes[range.lowerBound] == UInt8(ascii: "t"))
            case UInt8(ascii: ","):
                let written = text(try line())
                let value: Double? = switch written {
                case "inf": .infinity
                case "-inf": -.infinity
                case "nan": .nan
                default: Double(written)
                }
                guard let value else { throw fail(.badDouble) }
                return .double(value)
            case UInt8(ascii: "("): return .bigNumber(text(try line()))
            case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
                guard let count = try length(limit: limits.maximumBulkBytes, tooLong: .bulkTooLong(limits.maximumBulkBytes))
                else { return .null }
                guard bytes.count >= index + count + 2 else { throw .incomplete(needed: index + count + 2) }
                guard bytes[index + count] == 0x0D, bytes[index + count + 1] == 0x0A else {
                    index += count
                    throw fail(.missingCRLF)
                }
                var payload = Array(bytes[index..<(index + count)])
                index += count + 2
                if type == UInt8(ascii: "!") { return .error(String(decoding: payload, as: UTF8.self)) }
                if type == UInt8(ascii: "="), payload.count >= 4, payload[3] == UInt8(ascii: ":") {
                    payload.removeFirst(4)  // "txt:" or "mkd:"
                }
                return .bulkString(payload)
            case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
                guard depth < limits.maximumDepth else { throw fail(.tooDeep(limits.maximumDepth)) }
                let pairs = type == UInt8(ascii: "%") || type == UInt8(ascii: "|")
                guard let count = try length(limit: limits.maximumElements, tooLong: .tooManyElements(limits.maximumElements))
                else { return .null }
                let total = pairs ? count * 2 : count
                var values: [RESPValue] = []
                values.reserveCapacity(min(total, 1024))
                for _ in 0..<total { values.append(try value(depth: depth + 1)) }
                switch type {
                case UInt8(ascii: "~"): return .set(values)
                case UInt8(ascii: ">"): return .push(values)
                case UInt8(ascii: "%"): return .map(values)
                case UInt8(ascii: "|"):
                    // An attribute describes the value that follows; the value is what counts
                    // (one level deeper, so a run of attributes meets the depth limit).
                    return try value(depth: depth + 1)
                default: return .array(values)
                }
            default:
                index -= 1
                throw fail(.unknownType(type))
            }
        }
    }
}
