import LiveGateCore
import Testing
import LiveGateTestSupport

struct Base64Tests {
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ])
    func rfc4648Vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test(arguments: ["Zg", "Zg=", "Z===", "Zm9v!A==", "=Zm9", "Zg==Zg==", "Zm=v"])
    func rejectsMalformed(text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test func roundTripsEveryLength() {
        var generator = SplitMix64(seed: 7)
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
    }

    @Test func sharedBytesKeepsContent() {
        let shared = SharedBytes([1, 2, 3])
        #expect(shared.count == 3)
        #expect(shared.array == [1, 2, 3])
    }

    @Test func logfmtQuotesWhatNeedsIt() {
        #expect(Log.quoted("plain") == "plain")
        #expect(Log.quoted("two words") == "\"two words\"")
        #expect(Log.quoted("a=\"b\"") == "\"a=\\\"b\\\"\"")
        #expect(Log.quoted("") == "\"\"")
    }

    @Test func redactsTokens() {
        #expect(Log.redactingTokens("/ws?room=a&token=abc.def&x=1") == "/ws?room=a&token=<redacted>&x=1")
        #expect(Log.redactingTokens("/ws?token=secret") == "/ws?token=<redacted>")
        #expect(Log.redactingTokens("/healthz") == "/healthz")
    }
}
