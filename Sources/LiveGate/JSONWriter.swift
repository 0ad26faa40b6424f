import LiveGateCore
import LiveGateWebSocket

/// Writes JSON by hand into a byte array: no Foundation on the per-message path.
///
/// Keys are `StaticString`s written as they are (they are camelCase ASCII); string values
/// are escaped per RFC 8259 §7.
struct JSONWriter {
    /// The JSON written so far.
    private(set) var bytes: [UInt8]
    private var needsComma = false

    init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func beginObject() {
        comma()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    mutating func beginArray(_ key: StaticString) {
        self.key(key)
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    mutating func key(_ key: StaticString) {
        comma()
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// A key that is not a literal (ASCII identifiers only).
    mutating func key(_ key: DynamicKey) {
        comma()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: key.name.utf8)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    mutating func field(_ key: StaticString, _ value: String) {
        self.key(key)
        string(value)
    }

    mutating func field(_ key: StaticString, _ value: String?) {
        self.key(key)
        if let value { string(value) } else { null() }
    }

    mutating func field(_ key: StaticString, _ value: Int64) {
        self.key(key)
        integer(value)
    }

    mutating func field(_ key: StaticString, _ value: Int64?) {
        self.key(key)
        if let value { integer(value) } else { null() }
    }

    mutating func field(_ key: StaticString, _ value: Int) {
        field(key, Int64(value))
    }

    mutating func field(_ key: StaticString, _ value: UInt64) {
        self.key(key)
        bytes.append(contentsOf: String(value).utf8)
        needsComma = true
    }

    mutating func field(_ key: StaticString, _ value: Bool) {
        self.key(key)
        bytes.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
        needsComma = true
    }

    mutating func field(_ key: StaticString, _ value: Double?) {
        self.key(key)
        guard let value, value.isFinite else {
            null()
            return
        }
        // Two decimals are enough for rates; integers print without a fraction.
        let rounded = (value * 100).rounded() / 100
        if rounded == rounded.rounded() && abs(rounded) < 1e15 {
            bytes.append(contentsOf: String(Int64(rounded)).utf8)
        } else {
            bytes.append(contentsOf: String(rounded).utf8)
        }
        needsComma = true
    }

    /// An integer under a key chosen at run time.
    mutating func field(_ key: DynamicKey, _ value: Int) {
        self.key(key)
        integer(Int64(value))
    }

    /// A number under a key chosen at run time, as the shortest text that reads back to it.
    mutating func field(_ key: DynamicKey, exactly value: Double) {
        self.key(key)
        if value.isFinite { rawNumber(value) } else { null() }
    }

    /// A number as the shortest text that reads back to it (integers without a fraction).
    mutating func rawNumber(_ value: Double) {
        if value == value.rounded() && abs(value) < 1e15 {
            bytes.append(contentsOf: String(Int64(value)).utf8)
        } else {
            bytes.append(contentsOf: String(value).utf8)
        }
        needsComma = true
    }

    /// A string element of an array.
    mutating func element(_ value: String) {
        comma()
        string(value)
    }

    /// A string or null element of an array.
    mutating func element(_ value: String?) {
        comma()
        if let value { string(value) } else { null() }
    }

    /// An integer element of an array.
    mutating func element(_ value: Int64) {
        comma()
        integer(value)
    }

    /// A number (or null) element of an array, as the shortest text that reads back to it.
    mutating func element(exactly value: Double?) {
        comma()
        if let value, value.isFinite { rawNumber(value) } else { null() }
    }

    /// Opens an array that is an element of an array.
    mutating func beginArrayElement() {
        comma()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    /// Writes object fields already encoded (`"a":1,"b":2`, from a writer that wrote only fields).
    mutating func rawFields(_ fields: [UInt8]) {
        guard !fields.isEmpty else { return }
        comma()
        bytes.append(contentsOf: fields)
        needsComma = true
    }

    private mutating func null() {
        bytes.append(contentsOf: [UInt8(ascii: "n"), UInt8(ascii: "u"), UInt8(ascii: "l"), UInt8(ascii: "l")])
        needsComma = true
    }

    private mutating func integer(_ value: Int64) {
        bytes.append(contentsOf: String(value).utf8)
        needsComma = true
    }

    private mutating func comma() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    private mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [92, 92])
            case 0x0A: bytes.append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [92, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// The JSON text alone (tests, HTTP bodies).
    var json: [UInt8] { bytes }

    /// The JSON as one unmasked WebSocket text frame in shared storage.
    ///
    /// - Complexity: O(n); one allocation (the header and a copy of the JSON).
    func makeTextFrame() -> SharedBytes {
        bytes.withUnsafeBytes { WebSocketFrameEncoder.makeSharedFrame(opcode: .text, payload: $0) }
    }
}

/// A JSON object key chosen at run time.
struct DynamicKey {
    let name: String
}

extension String {
    /// This string as a JSON key.
    var withStaticKey: DynamicKey { DynamicKey(name: self) }
}
