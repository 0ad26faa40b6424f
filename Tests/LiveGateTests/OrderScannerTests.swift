import LiveGateCore
import Testing

@testable import LiveGate

/// The order fast path against the general path (JSON parser + ``ClientMessage/decode(_:)``):
/// whatever the scanner accepts, the general path decodes to the same id and message.
struct OrderScannerTests {
    /// The general path's answer: the decoded message, or nil when it refuses the text.
    static func general(_ text: [UInt8]) -> (id: String?, message: ClientMessage)? {
        text.withUnsafeBytes { bytes in
            guard case .object(let object)? = try? JSONValue.parse(bytes: bytes, maximumDepth: 32) else { return nil }
            return try? ClientMessage.decode(object)
        }
    }

    static func fast(_ text: [UInt8]) -> (id: String?, message: ClientMessage)? {
        text.withUnsafeBytes { OrderScanner.scan($0) }
    }

    static let shapes = [
        #"{"type":"order","id":"c1","orderId":"tb-1","sku":"A1","qty":2,"state":"placed"}"#,
        #"{"type":"order","id":17,"orderId":"o-9","channel":"douyin","sku":"sku-7","qty":1,"state":"paid","ts":1733450000123}"#,
        #" { "state" : "cancelled" , "qty" : 1000000 , "sku" : "x" , "orderId" : "z" , "type" : "order" } "#,
        "{\"type\":\"order\",\n\t\"orderId\":\"a\",\r\n\"sku\":\"b\",\"qty\":3,\"state\":\"placed\",\"channel\":null,\"ts\":null,\"id\":null}",
        #"{"type":"order","id":-42,"orderId":"tb-1","sku":"A1","qty":2,"state":"placed","ts":-5}"#,
        #"{"type":"order","orderId":"tb-1","channel":"","sku":"A1","qty":2,"state":"placed"}"#,
    ]

    @Test func theCommonShapesTakeTheFastPathAndDecodeAsTheGeneralPathDoes() throws {
        for shape in Self.shapes {
            let text = Array(shape.utf8)
            let fast = try #require(Self.fast(text), "\(shape)")
            let general = try #require(Self.general(text), "\(shape)")
            #expect(fast.id == general.id, "\(shape)")
            #expect(fast.message == general.message, "\(shape)")
        }
    }

    /// Texts the scanner must leave to the general path (which refuses some and accepts others).
    @Test func whatItCannotDecodeExactlyGoesToTheGeneralPath() {
        let cases = [
            #"{"type":"order","orderId":"tb-1","sku":"A1","qty":2,"state":"placed","note":"x"}"#,  // unknown key
            #"{"type":"order","orderId":"tb-1","sku":"A1","qty":2,"qty":3,"state":"placed"}"#,  // duplicate
            #"{"type":"order","orderId":"t\u0062","sku":"A1","qty":2,"state":"placed"}"#,  // escape
            #"{"type":"order","orderId":"货","sku":"A1","qty":2,"state":"placed"}"#,  // non-ASCII
            #"{"type":"order","orderId":"tb-1","sku":"A1","qty":2.0,"state":"placed"}"#,  // fraction
            #"{"type":"order","orderId":"tb-1","sku":"A1","qty":0,"state":"placed"}"#,  // out of range
            #"{"type":"order","orderId":"tb-1","sku":"A1","qty":02,"state":"placed"}"#,  // leading zero
            #"{"type":"order","orderId":"tb-1","sku":"A1","qty":2,"state":"sold"}"#,  // bad state
            #"{"type":"order","orderId":"","sku":"A1","qty":2,"state":"placed"}"#,  // empty orderId
            #"{"type":"order","orderId":"tb-1","sku":"A1","qty":2,"state":"placed","ts":1e3}"#,  // exponent
            #"{"type":"order","orderId":"tb-1","sku":"A1","qty":2,"state":"placed",}"#,  // trailing comma
            #"{"type":"order","orderId":"tb-1","sku":"A1","qty":2,"state":"placed"} x"#,  // trailing text
            #"{"type":"restock","sku":"A1","qty":2}"#,  // not an order
            #"{"type":"order","id":"","orderId":"tb-1","sku":"A1","qty":2,"state":"placed"}"#,  // empty id
            #"{"type":"order","id":1234567890123456789,"orderId":"tb-1","sku":"A1","qty":2,"state":"placed"}"#,  // 19 digits
        ]
        for text in cases {
            #expect(Self.fast(Array(text.utf8)) == nil, "\(text)")
        }
    }

    /// Random edits of the common shapes: bytes replaced, inserted and deleted from an alphabet of
    /// JSON's significant characters. Every text the scanner accepts, the general path decodes the same.
    @Test func mutatedOrdersNeverDecodeDifferently() {
        var random = SplitMix64(seed: 0x5CA7)
        let alphabet = Array(#"{}[]":,0123456789-.eE nulltrueorderidqtyskustatetsplacedpaid\u"#.utf8) + [0x09, 0x0A, 0xE8, 0x7F, 0x00]
        var accepted = 0
        var agreed = 0
        for round in 0..<40_000 {
            var text = Array(Self.shapes[round % Self.shapes.count].utf8)
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let position = Int.random(in: 0..<text.count, using: &random)
                let byte = alphabet.randomElement(using: &random)!
                switch Int.random(in: 0..<3, using: &random) {
                case 0: text[position] = byte
                case 1: text.insert(byte, at: position)
                default: if text.count > 1 { text.remove(at: position) }
                }
            }
            let general = Self.general(text)
            guard let fast = Self.fast(text) else { continue }
            accepted += 1
            if let general, general.id == fast.id, general.message == fast.message { agreed += 1 } else {
                Issue.record("the scanner decoded \(String(decoding: text, as: UTF8.self)) as \(fast), the general path as \(String(describing: general))")
            }
        }
        #expect(accepted > 1_000, "the mutations should leave many orders intact (accepted \(accepted))")
        #expect(agreed == accepted)
    }
}
