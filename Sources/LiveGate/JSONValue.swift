import Foundation
import LiveGateWebSocket

/// A parsed JSON (or JSON5) value: messages, order bodies and token claims are read with the
/// strict hand-written parser (`parse(bytes:)`, JSONParser.swift); the configuration file with
/// Foundation's JSON5 decoder through `Decodable` (`parseJSON5`).
public enum JSONValue: Decodable, Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: Key.self) {
            var object: [String: JSONValue] = [:]
            for key in container.allKeys {
                object[key.stringValue] = try container.decode(JSONValue.self, forKey: key)
            }
            self = .object(object)
            return
        }
        if var container = try? decoder.unkeyedContainer() {
            var array: [JSONValue] = []
            while !container.isAtEnd { array.append(try container.decode(JSONValue.self)) }
            self = .array(array)
            return
        }
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    /// Parses JSON5 text (comments, unquoted keys, trailing commas allowed).
    /// - Throws: ``InvalidUTF8Error`` first if the text is not UTF-8 (Foundation's JSON5 scanner
    ///   traps on some invalid sequences instead of throwing), then the decoder's error.
    public static func parseJSON5(_ data: Data) throws -> JSONValue {
        try checkUTF8(data)
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true
        return try decoder.decode(JSONValue.self, from: data)
    }

    /// A short name of the value's type, for error messages.
    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int: return "an integer"
        case .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

extension JSONValue {
    /// Parses strict JSON (RFC 8259) with the hand-written parser (`parse(bytes:)`), not Foundation.
    public static func parse(_ data: Data, maximumDepth: Int = defaultMaximumDepth) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError> = data.withUnsafeBytes { raw in
            do throws(JSONParseError) {
                return .success(try parse(bytes: raw, maximumDepth: maximumDepth))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

/// A text file that is not UTF-8, with the offset of the first byte that cannot be.
public struct InvalidUTF8Error: Error, CustomStringConvertible, Equatable {
    /// The offset of the first byte that breaks the encoding.
    public var offset: Int
    public init(offset: Int) { self.offset = offset }
    public var description: String { "not valid UTF-8 (byte \(offset) cannot start or continue a character)" }
}

extension JSONValue {
    /// Throws ``InvalidUTF8Error`` unless `data` is well-formed UTF-8 (checked before any text
    /// reaches Foundation's JSON5 scanner).
    public static func checkUTF8(_ data: Data) throws {
        let offset: Int? = data.withUnsafeBytes { bytes in
            var validator = UTF8Validator()
            if validator.validate(bytes), validator.isComplete { return nil }
            // Find the byte: validate again one byte at a time (only for a broken file).
            var again = UTF8Validator()
            for index in 0..<bytes.count where !again.validate(UnsafeRawBufferPointer(rebasing: bytes[index..<index + 1])) {
                return index
            }
            return bytes.count
        }
        if let offset { throw InvalidUTF8Error(offset: offset) }
    }
}
