import LiveGateStock

/// The order fast path: reads the common shape of an `order` message straight from the frame's
/// bytes, without building a `JSONValue` dictionary (an order is most of what a connector sends).
///
/// It accepts only what it can decode exactly as ``JSONValue/parse(bytes:maximumDepth:)`` and
/// ``ClientMessage/decode(_:)`` would: one flat object whose keys are among `type`, `id`,
/// `orderId`, `channel`, `sku`, `qty`, `state`, `ts`, each at most once; strings of printable
/// ASCII without escapes; integers of at most 18 digits; `null`. Everything else (an escape,
/// a non-ASCII byte, a fraction, an unknown key, a missing or out-of-range field, malformed
/// JSON) returns `nil`, and the caller takes the general path, which gives the error or the
/// message. So the scanner never refuses a message and never decodes one differently: a test
/// feeds both paths the same texts and mutations of them and compares.
enum OrderScanner {
    /// The decoded order and its correlation id, or nil for "take the general path".
    static func scan(_ bytes: UnsafeRawBufferPointer) -> (id: String?, message: ClientMessage)? {
        var scanner = Cursor(bytes: bytes)
        return scanner.scanOrder()
    }

    private enum Key: UInt8 {
        case type, id, orderId, channel, sku, qty, state, ts
    }

    private enum Value {
        case null
        case string(Range<Int>)
        case integer(Int)
    }

    private struct Cursor {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        init(bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
        }

        mutating func scanOrder() -> (id: String?, message: ClientMessage)? {
            skipWhitespace()
            guard take(UInt8(ascii: "{")) else { return nil }
            var seen: UInt8 = 0
            var type: Range<Int>?
            var idValue: Value = .null
            var orderId: Range<Int>?
            var channel: Range<Int>?
            var sku: Range<Int>?
            var quantity: Int?
            var state: Range<Int>?
            var ts: Int?
            skipWhitespace()
            while true {
                guard let keyRange = string(), let key = Self.key(bytes, keyRange) else { return nil }
                let bit: UInt8 = 1 << key.rawValue
                guard seen & bit == 0 else { return nil }
                seen |= bit
                skipWhitespace()
                guard take(UInt8(ascii: ":")) else { return nil }
                skipWhitespace()
                guard let value = value() else { return nil }
                switch (key, value) {
                case (.type, .string(let range)): type = range
                case (.id, _): idValue = value
                case (.orderId, .string(let range)): orderId = range
                case (.channel, .string(let range)): channel = range
                case (.channel, .null): channel = nil
                case (.sku, .string(let range)): sku = range
                case (.qty, .integer(let value)): quantity = value
                case (.state, .string(let range)): state = range
                case (.ts, .integer(let value)): ts = value
                case (.ts, .null): ts = nil
                default: return nil
                }
                skipWhitespace()
                if take(UInt8(ascii: ",")) {
                    skipWhitespace()
                    continue
                }
                guard take(UInt8(ascii: "}")) else { return nil }
                break
            }
            skipWhitespace()
            guard index == bytes.count else { return nil }

            guard let type, Self.equals(bytes, type, "order") else { return nil }
            let id: String?
            switch idValue {
            case .null: id = nil
            case .string(let range):
                guard !range.isEmpty, range.count <= 128 else { return nil }
                id = Self.text(bytes, range)
            case .integer(let value): id = String(value)
            }
            guard let orderId, !orderId.isEmpty, orderId.count <= 128 else { return nil }
            guard let stateRange = state, let kind = OrderEventKind(wireName: Self.text(bytes, stateRange)) else { return nil }
            guard let sku, !sku.isEmpty else { return nil }
            guard let quantity, (1...1_000_000).contains(quantity) else { return nil }
            return (id, .order(
                orderId: Self.text(bytes, orderId), channel: channel.map { Self.text(bytes, $0) }, sku: Self.text(bytes, sku),
                qty: Int64(quantity), state: kind, ts: ts.map(Int64.init)))
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        /// A string of printable ASCII without escapes: the range of its content.
        mutating func string() -> Range<Int>? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = index
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return start..<(index - 1)
                }
                guard byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\\") else { return nil }
                index += 1
            }
            return nil
        }

        mutating func value() -> Value? {
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                return string().map(Value.string)
            case UInt8(ascii: "n"):
                guard bytes.count - index >= 4, bytes[index + 1] == UInt8(ascii: "u"), bytes[index + 2] == UInt8(ascii: "l"),
                      bytes[index + 3] == UInt8(ascii: "l")
                else { return nil }
                index += 4
                return .null
            default:
                return integer().map(Value.integer)
            }
        }

        /// `-?(0|[1-9][0-9]*)` with at most 18 digits, not followed by a fraction or exponent.
        mutating func integer() -> Int? {
            let negative = take(UInt8(ascii: "-"))
            let start = index
            var value = 0
            while index < bytes.count, bytes[index] &- UInt8(ascii: "0") < 10 {
                value = value &* 10 &+ Int(bytes[index] &- UInt8(ascii: "0"))
                index += 1
            }
            let digits = index - start
            guard digits >= 1, digits <= 18 else { return nil }
            guard digits == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
            if index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): return nil
                default: break
                }
            }
            if negative {
                guard value != 0 else { return nil }
                return -value
            }
            return value
        }

        static func key(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Key? {
            switch range.count {
            case 2: return equals(bytes, range, "id") ? .id : equals(bytes, range, "ts") ? .ts : nil
            case 3: return equals(bytes, range, "sku") ? .sku : equals(bytes, range, "qty") ? .qty : nil
            case 4: return equals(bytes, range, "type") ? .type : nil
            case 5: return equals(bytes, range, "state") ? .state : nil
            case 7: return equals(bytes, range, "orderId") ? .orderId : equals(bytes, range, "channel") ? .channel : nil
            default: return nil
            }
        }

        static func equals(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ literal: StaticString) -> Bool {
            guard range.count == literal.utf8CodeUnitCount else { return false }
            let text = literal.utf8Start
            for offset in 0..<range.count where bytes[range.lowerBound + offset] != text[offset] { return false }
            return true
        }

        static func text(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
            String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        }
    }
}
