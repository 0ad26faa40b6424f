import LiveGateCore
/// A command as the ledger applies it and the journal stores it: SKU ids resolved to indexes,
/// order ids to ``OrderKey``s, stamped with its core time and commit number.
///
/// Applying the same records in the same order to the same state gives the same state and results,
/// which is what makes replay exact.
struct CommandRecord {
    /// The journaled command kinds; the raw value is the record's tag byte.
    enum Tag: UInt8 {
        /// An order `placed` event.
        case placed = 1
        /// An order `paid` event.
        case paid = 2
        /// An order `cancelled` event.
        case cancelled = 3
        /// ``StockCommand/createSku(sku:onHand:policy:)``.
        case createSku = 10
        /// ``StockCommand/restock(sku:quantity:source:)``.
        case restock = 11
        /// ``StockCommand/adjust(sku:onHand:reason:)``.
        case adjust = 12
        /// ``StockCommand/hold(sku:quantity:)``.
        case hold = 13
        /// ``StockCommand/release(sku:quantity:)``.
        case release = 14
        /// ``StockCommand/pause(sku:)``.
        case pause = 15
        /// ``StockCommand/resume(sku:)``.
        case resume = 16
        /// ``StockCommand/setPolicy(sku:policy:)``.
        case setPolicy = 17
        /// ``StockCommand/tick(to:)``.
        case tick = 18
        /// ``StockCommand/setNote(key:value:)``.
        case note = 19
    }

    /// The SKU index that stands for "no such SKU".
    static let unknownSku = UInt32.max

    /// The command kind.
    var tag: Tag
    /// The commit number: one more than the previous record's.
    var rev: UInt64
    /// Core time stamped on the command, nanoseconds; never less than the previous record's.
    var time: Int64
    /// The SKU index, or ``unknownSku``.
    var sku: UInt32 = CommandRecord.unknownSku
    /// The quantity (order, restock, hold, release), the count (adjust) or initial onHand (createSku).
    var quantity: Int64 = 0
    /// The order's key (order events only).
    var key = OrderKey(low: 0, high: 0)
    /// The platform's timestamp (order events only), kept as data.
    var platformTimestamp: Int64 = 0
    /// The rarely used fields, boxed so that an order record stays small and trivially copied.
    var extra: Extra? = nil

    /// The fields only operator commands carry.
    final class Extra {
        /// See ``CommandRecord/text``.
        var text = ""
        /// See ``CommandRecord/policy``.
        var policy: SkuPolicy? = nil
        /// See ``CommandRecord/value``.
        var value = ""
    }

    /// The SKU id (createSku), the restock source or the adjust reason.
    var text: String {
        get { extra?.text ?? "" }
        set {
            if extra == nil { extra = Extra() }
            extra!.text = newValue
        }
    }

    /// The note's value (setNote; its key is ``text``).
    var value: String {
        get { extra?.value ?? "" }
        set {
            if extra == nil { extra = Extra() }
            extra!.value = newValue
        }
    }

    /// The policy (createSku, setPolicy).
    var policy: SkuPolicy? {
        get { extra?.policy }
        set {
            if extra == nil { extra = Extra() }
            extra!.policy = newValue
        }
    }

    /// The size of a record's frame header: payload length and CRC-32C, 32 bits each.
    static let frameHeaderSize = 8
    /// The largest payload a record may have; longer lengths mark a corrupt record.
    static let maximumPayloadSize = 64 * 1024

    /// Zeros to grow a writer by one order record at once.
    private static let zeros = [UInt8](repeating: 0, count: 64)

    /// Appends the record, framed (`[length][crc32c][payload]`), to `writer`.
    func encode(into writer: inout ByteWriter) {
        if tag.rawValue <= Tag.cancelled.rawValue {
            encodeOrder(into: &writer)
            return
        }
        let start = writer.count
        writer.write(UInt64(0))
        writer.write(rev)
        writer.write(time)
        writer.write(tag.rawValue)
        switch tag {
        case .placed, .paid, .cancelled:
            writer.write(sku)
            writer.write(quantity)
            writer.write(key.low)
            writer.write(key.high)
            writer.write(platformTimestamp)
        case .createSku:
            writer.writeString(text)
            writer.write(quantity)
            (policy ?? SkuPolicy()).encode(into: &writer)
        case .restock, .adjust:
            writer.write(sku)
            writer.write(quantity)
            writer.writeString(text)
        case .hold, .release:
            writer.write(sku)
            writer.write(quantity)
        case .pause, .resume:
            writer.write(sku)
        case .setPolicy:
            writer.write(sku)
            (policy ?? SkuPolicy()).encode(into: &writer)
        case .tick:
            break
        case .note:
            writer.writeString(text)
            writer.writeString(value)
        }
        let payloadStart = start + CommandRecord.frameHeaderSize
        let length = writer.count - payloadStart
        let crc = writer.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[payloadStart...])) }
        writer.patch(UInt32(length), at: start)
        writer.patch(crc, at: start + 4)
    }

    /// The order-event case of ``encode(into:)``: one append, then stores at fixed offsets.
    @inline(__always)
    private func encodeOrder(into writer: inout ByteWriter) {
        let size = StockLedger.orderRecordSize
        let start = writer.count
        writer.bytes.append(contentsOf: Self.zeros[0..<size])
        writer.bytes.withUnsafeMutableBytes { buffer in
            let record = UnsafeMutableRawBufferPointer(rebasing: buffer[start..<start + size])
            record.storeBytes(of: UInt32(size - Self.frameHeaderSize).littleEndian, toByteOffset: 0, as: UInt32.self)
            record.storeBytes(of: rev.littleEndian, toByteOffset: 8, as: UInt64.self)
            record.storeBytes(of: time.littleEndian, toByteOffset: 16, as: Int64.self)
            record.storeBytes(of: tag.rawValue, toByteOffset: 24, as: UInt8.self)
            record.storeBytes(of: sku.littleEndian, toByteOffset: 25, as: UInt32.self)
            record.storeBytes(of: quantity.littleEndian, toByteOffset: 29, as: Int64.self)
            record.storeBytes(of: key.low.littleEndian, toByteOffset: 37, as: UInt64.self)
            record.storeBytes(of: key.high.littleEndian, toByteOffset: 45, as: UInt64.self)
            record.storeBytes(of: platformTimestamp.littleEndian, toByteOffset: 53, as: Int64.self)
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: record[Self.frameHeaderSize...]))
            record.storeBytes(of: crc.littleEndian, toByteOffset: 4, as: UInt32.self)
        }
    }

    /// Decodes a record from its payload (the frame already checked).
    /// - Throws: ``ByteDecodingError`` if the payload is malformed.
    static func decode(payload: UnsafeRawBufferPointer) throws -> CommandRecord {
        var reader = ByteReader(payload)
        let rev: UInt64 = try reader.read()
        let time: Int64 = try reader.read()
        let rawTag: UInt8 = try reader.read()
        guard let tag = Tag(rawValue: rawTag) else { throw ByteDecodingError(reason: "unknown record tag \(rawTag)") }
        var record = CommandRecord(tag: tag, rev: rev, time: time)
        switch tag {
        case .placed, .paid, .cancelled:
            record.sku = try reader.read()
            record.quantity = try reader.read()
            record.key = OrderKey(low: try reader.read(), high: try reader.read())
            record.platformTimestamp = try reader.read()
        case .createSku:
            record.text = try reader.readString()
            record.quantity = try reader.read()
            record.policy = try SkuPolicy.decode(from: &reader)
        case .restock, .adjust:
            record.sku = try reader.read()
            record.quantity = try reader.read()
            record.text = try reader.readString()
        case .hold, .release:
            record.sku = try reader.read()
            record.quantity = try reader.read()
        case .pause, .resume:
            record.sku = try reader.read()
        case .setPolicy:
            record.sku = try reader.read()
            record.policy = try SkuPolicy.decode(from: &reader)
        case .tick:
            break
        case .note:
            record.text = try reader.readString()
            record.value = try reader.readString()
        }
        return record
    }
}
