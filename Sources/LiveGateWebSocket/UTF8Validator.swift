/// Incremental UTF-8 validation (Unicode 15, table 3-7 "well-formed byte sequences"),
/// byte stream in, pass or fail out, correct across any split.
///
/// It fails at the first byte that cannot continue a well-formed sequence, so a text
/// message fragmented over many frames fails as soon as its bad byte arrives.
public struct UTF8Validator: Sendable {
    /// Continuation bytes still expected for the current code point.
    private var needed: UInt8 = 0
    /// Bounds for the next continuation byte (narrower right after E0, ED, F0 and F4).
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    /// Creates a validator at a code point boundary.
    public init() {}

    /// Whether the bytes so far end on a code point boundary.
    public var isComplete: Bool { needed == 0 }

    /// Validates the next bytes.
    ///
    /// - Returns: `false` as soon as the stream cannot be valid UTF-8.
    /// - Complexity: O(n); ASCII runs are checked eight bytes at a time.
    public mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var index = 0
        while index < count {
            if needed == 0 {
                // Fast path: skip ASCII eight bytes at a time.
                while index + 8 <= count {
                    let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 != 0 { break }
                    index += 8
                }
                guard index < count else { return true }
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                index += 1
                switch byte {
                case 0x00...0x7F: continue
                case 0xC2...0xDF: needed = 1; lower = 0x80; upper = 0xBF
                case 0xE0: needed = 2; lower = 0xA0; upper = 0xBF
                case 0xE1...0xEC, 0xEE...0xEF: needed = 2; lower = 0x80; upper = 0xBF
                case 0xED: needed = 2; lower = 0x80; upper = 0x9F
                case 0xF0: needed = 3; lower = 0x90; upper = 0xBF
                case 0xF1...0xF3: needed = 3; lower = 0x80; upper = 0xBF
                case 0xF4: needed = 3; lower = 0x80; upper = 0x8F
                default: return false
                }
            } else {
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                index += 1
                guard byte >= lower && byte <= upper else { return false }
                needed -= 1
                lower = 0x80
                upper = 0xBF
            }
        }
        return true
    }

    /// Validates a whole buffer from a code point boundary to its end.
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var validator = UTF8Validator()
        return validator.validate(bytes) && validator.isComplete
    }
}
