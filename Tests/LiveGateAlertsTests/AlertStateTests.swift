import LiveGateAlerts
import LiveGateCore
import LiveGateTestSupport
import Testing

/// The snapshot section: a restored engine continues exactly like the original, and damaged bytes are refused.
struct AlertStateTests {
    /// Three SKUs with different policies, one launched, one with a watch mark and a substitute.
    static func makeLedger() throws -> TestLedger {
        var ledger = try TestLedger()
        try ledger.addSku("tee", name: "T恤", onHand: 400, policy: handPolicy(watchMark: 120))
        try ledger.addSku("hoodie", name: "卫衣", onHand: 500, policy: SeedCaseTests.hoodiePolicy)
        try ledger.addSku("cap", onHand: 150)
        ledger.engine.markLaunch(sku: 2, at: 0)
        return ledger
    }

    /// One second of a random stream over the three SKUs: orders at varying rates, payments, cancellations,
    /// expiries, holds and restocks.
    static func step(_ ledger: inout TestLedger, _ random: inout SplitMix64, second: Int) {
        let time = seconds(Double(second))
        let phase = (second / 600) % 3
        for sku in 0..<3 {
            let rate = [0.05, 0.2, 0.5][(phase + sku) % 3]
            if random.unit() < rate { ledger.place(sku, 1 + Int64(random.unit() * 2), at: time) }
            let f = ledger.figures[sku]
            if f.reserved > 0 {
                let roll = random.unit()
                if roll < 0.15 {
                    ledger.pay(sku, 1, at: time)
                } else if roll < 0.17 {
                    ledger.release(sku, 1, kind: roll < 0.16 ? .cancelled : .expired, at: time)
                }
            }
            if random.unit() < 0.001 { ledger.restock(sku, 50 + Int64(random.unit() * 100), at: time) }
            if random.unit() < 0.0005 { ledger.hold(sku, min(5, ledger.figures[sku].sellable), at: time) }
            if random.unit() < 0.02 && random.unit() < 0.1 { ledger.sell(sku, 1, at: time) }
        }
        ledger.tick(at: time)
    }

    /// At eight checkpoints a restored engine re-encodes bit-exactly, re-fires nothing and continues identically.
    @Test func aRestoredEngineContinuesIdenticallyWithoutReFiring() throws {
        var original = try AlertStateTests.makeLedger()
        var random = SplitMix64(seed: 5)
        var checkpoints = 0
        var restoredEvents = 0
        for second in 0..<(2 * 3600) {
            AlertStateTests.step(&original, &random, second: second)
            guard second % 900 == 450 else { continue }
            checkpoints += 1
            let bytes = original.engine.encodeState()
            #expect(bytes.first == AlertEngine.stateVersion)
            var restored = original
            restored.engine = try AlertEngine(decoding: bytes)
            restored.events = []
            #expect(restored.engine.encodeState() == bytes, "re-encoding is bit-exact")
            for sku in 0..<3 {
                #expect(restored.engine.metrics(forSku: sku, now: restored.now) == original.engine.metrics(forSku: sku, now: original.now))
            }
            // The same instant again: nothing re-fires.
            restored.tick(at: seconds(Double(second)))
            #expect(restored.events.isEmpty)
            // The same further inputs give the same events.
            var copy = original
            copy.events = []
            var randomCopy = random
            var randomRestored = random
            for later in (second + 1)..<(second + 1 + 1200) {
                AlertStateTests.step(&copy, &randomCopy, second: later)
                AlertStateTests.step(&restored, &randomRestored, second: later)
            }
            #expect(restored.events == copy.events)
            #expect(restored.engine.encodeState() == copy.engine.encodeState())
            restoredEvents += copy.events.count
        }
        #expect(checkpoints == 8)
        #expect(restoredEvents > 10, "the stream exercises transitions after the checkpoints")
        #expect(Set(original.events.map(\.level)).count >= 4, "the stream visits most levels")
    }

    /// A wrong version, every sampled truncation and trailing bytes are refused.
    @Test func damagedStateIsRefused() throws {
        var ledger = try AlertStateTests.makeLedger()
        var random = SplitMix64(seed: 9)
        for second in 0..<600 { AlertStateTests.step(&ledger, &random, second: second) }
        let bytes = ledger.engine.encodeState()
        #expect(bytes.first == AlertEngine.stateVersion)
        #expect(throws: AlertStateDecodingError.unsupportedVersion(4)) {
            _ = try AlertEngine(decoding: [4] + bytes.dropFirst())
        }
        for length in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) {
            #expect(throws: AlertStateDecodingError.self) { _ = try AlertEngine(decoding: Array(bytes.prefix(length))) }
        }
        #expect(throws: AlertStateDecodingError.self) { _ = try AlertEngine(decoding: bytes + [0]) }
        let empty = try AlertEngine().encodeState()
        #expect(try AlertEngine(decoding: empty).skuCount == 0)
    }

    /// Restoring with a shorter horizon keeps the newest buckets and the window rates.
    @Test func aShorterHorizonKeepsTheNewestBuckets() throws {
        var ledger = try TestLedger()
        let sku = try ledger.addSku("mug", onHand: 10_000, policy: handPolicy())
        for second in 0..<600 { ledger.place(sku, 1, at: seconds(Double(second))) }
        var configuration = AlertConfiguration()
        configuration.horizon = 2 * SkuPolicy.minute
        configuration.defaultPolicy = handPolicy()
        let restored = try AlertEngine(decoding: ledger.engine.encodeState(), configuration: configuration)
        let before = ledger.engine.metrics(forSku: sku, now: seconds(599))
        let after = restored.metrics(forSku: sku, now: seconds(599))
        #expect(after.recentRatePerMinute == before.recentRatePerMinute)
        #expect(after.previousRatePerMinute == before.previousRatePerMinute)
        #expect(restored.storage.bucketsPerSku == 120)
    }
}
