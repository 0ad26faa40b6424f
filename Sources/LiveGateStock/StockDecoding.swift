import LiveGateCore
/// The stock core's decoders of bytes read from disk, as a public surface for the fuzzers
/// (`livegate-fuzz record|snapshot`): they decode the way recovery does and must refuse damage
/// with an error, never trap.
public enum StockDecoding {
    /// Decodes a journal record's payload and, when it follows, applies it to a ledger with one SKU.
    public static func record(_ payload: UnsafeRawBufferPointer) throws {
        let record = try CommandRecord.decode(payload: payload)
        var ledger = StockLedger(keySeed: 1)
        _ = ledger.execute(.createSku(sku: "tea", onHand: 10), time: 0)
        if record.rev == ledger.rev + 1 { _ = ledger.apply(record) }
    }

    /// Decodes a snapshot and checks the ledger it describes; returns the broken invariant, if any.
    public static func snapshot(_ bytes: UnsafeRawBufferPointer) throws -> String? {
        try StockLedger.decodeSnapshot(bytes).invariantViolation()
    }

    /// Seed inputs for those two: one payload of each kind of record, and a snapshot.
    public static func seeds() -> (records: [[UInt8]], snapshot: [UInt8]) {
        var ledger = StockLedger(keySeed: 7)
        let commands: [StockCommand] = [
            .createSku(sku: "tea", onHand: 10, policy: SkuPolicy()), .restock(sku: "tea", quantity: 5, source: "op"),
            .adjust(sku: "tea", onHand: 12, reason: "count"), .hold(sku: "tea", quantity: 1), .release(sku: "tea", quantity: 1),
            .pause(sku: "tea"), .resume(sku: "tea"), .setPolicy(sku: "tea", policy: SkuPolicy()), .tick(to: 5_000_000_000),
            .setNote(key: "room.demo.featured", value: "tea"),
            .order(OrderEvent(.placed, sku: "tea", channel: "taobao", orderId: "TB-1", quantity: 2)),
            .order(OrderEvent(.paid, sku: "tea", channel: "taobao", orderId: "TB-1", quantity: 2)),
            .order(OrderEvent(.cancelled, sku: "tea", channel: "douyin", orderId: "DY-1")),
        ]
        var records: [[UInt8]] = []
        for (index, command) in commands.enumerated() {
            guard let record = ledger.makeRecord(command, time: Int64(index) * 1_000_000, externalClock: true) else { continue }
            _ = ledger.apply(record)
            var writer = ByteWriter()
            record.encode(into: &writer)
            records.append(Array(writer.bytes.dropFirst(CommandRecord.frameHeaderSize)))
        }
        return (records, ledger.encodeSnapshot())
    }
}
