import LiveGateCore
extension StockLedger {
    /// The first eight bytes of a snapshot file.
    static let snapshotMagic: [UInt8] = Array("LGSNAP".utf8) + [0, 1]
    /// The snapshot format version this code writes and reads.
    static let snapshotVersion: UInt32 = 2
    /// Magic, version, payload length, payload CRC-32C.
    static let snapshotHeaderSize = 8 + 4 + 8 + 4

    /// Encodes the whole state as a snapshot: a header (magic, format version, payload length,
    /// CRC-32C of the payload) and the payload, including the alert engine's versioned extension.
    ///
    /// - Complexity: O(SKUs + order table capacity + pending reservations).
    func encodeSnapshot() -> [UInt8] {
        var writer = ByteWriter(capacity: 256 + orders.count * 56 + skus.count * 128)
        writer.bytes.append(contentsOf: Self.snapshotMagic)
        writer.write(Self.snapshotVersion)
        writer.write(UInt64(0))
        writer.write(UInt32(0))
        writer.write(rev)
        writer.write(time)
        writer.write(keySeed)
        writer.write(retention)
        writer.write(nextExpiryAt)
        writer.write(UInt32(skus.count))
        for sku in skus {
            writer.writeString(sku.id)
            writer.write(sku.onHand)
            writer.write(sku.reserved)
            writer.write(sku.held)
            writer.write(sku.sold)
            writer.write(sku.isPaused)
            sku.policy.encode(into: &writer)
            writer.write(sku.initial)
            writer.write(sku.restocked)
            writer.write(sku.adjusted)
            let reservations = sku.reservations.elements
            writer.write(UInt32(reservations.count))
            for reservation in reservations {
                writer.write(reservation.key.low)
                writer.write(reservation.key.high)
                writer.write(reservation.placedAt)
            }
        }
        writer.write(UInt64(orders.count))
        for entry in orders.entries {
            writer.write(entry.key.low)
            writer.write(entry.key.high)
            writer.write(entry.sku)
            writer.write(entry.quantity)
            writer.write(entry.state.rawValue)
            writer.write(entry.placedResult)
            writer.write(entry.paidResult)
            writer.write(entry.cancelledResult)
        }
        let remembered = self.remembered.elements
        writer.write(UInt64(remembered.count))
        for order in remembered {
            writer.write(order.key.low)
            writer.write(order.key.high)
            writer.write(order.placedAt)
        }
        writer.write(snapshotExtension.version)
        writer.writeBlob(snapshotExtension.bytes)
        // Version 2: the notes, sorted so equal states give equal snapshots.
        writer.write(UInt32(notes.count))
        for (key, value) in notes.sorted(by: { $0.key < $1.key }) {
            writer.writeString(key)
            writer.writeString(value)
        }
        let payloadStart = Self.snapshotHeaderSize
        let length = UInt64(writer.count - payloadStart)
        let crc = writer.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[payloadStart...])) }
        writer.bytes.withUnsafeMutableBytes { bytes in
            bytes.storeBytes(of: length.littleEndian, toByteOffset: 12, as: UInt64.self)
            bytes.storeBytes(of: crc.littleEndian, toByteOffset: 20, as: UInt32.self)
        }
        return writer.bytes
    }

    /// Decodes a snapshot written by ``encodeSnapshot()``.
    ///
    /// - Parameters:
    ///   - bytes: The snapshot file's content.
    ///   - retention: The configured retention; it replaces the stored one.
    /// - Throws: ``ByteDecodingError`` if the magic, version, length or checksum is wrong, or the payload
    ///   is malformed.
    static func decodeSnapshot(_ bytes: UnsafeRawBufferPointer, retention: Int64? = nil) throws -> StockLedger {
        guard bytes.count >= snapshotHeaderSize, Array(bytes[0..<8]) == snapshotMagic else {
            throw ByteDecodingError(reason: "not a snapshot (bad magic)")
        }
        var header = ByteReader(bytes)
        header.offset = 8
        let version: UInt32 = try header.read()
        guard version == 1 || version == snapshotVersion else { throw ByteDecodingError(reason: "unsupported snapshot version \(version)") }
        let storedLength: UInt64 = try header.read()
        let crc: UInt32 = try header.read()
        guard let length = Int(exactly: storedLength), length == bytes.count - snapshotHeaderSize else {
            throw ByteDecodingError(reason: "snapshot payload is \(bytes.count - snapshotHeaderSize) bytes, header says \(storedLength)")
        }
        let payload = UnsafeRawBufferPointer(rebasing: bytes[snapshotHeaderSize...])
        guard CRC32C.checksum(payload) == crc else { throw ByteDecodingError(reason: "snapshot checksum mismatch") }
        var reader = ByteReader(payload)
        let rev: UInt64 = try reader.read()
        let time: Int64 = try reader.read()
        let keySeed: UInt64 = try reader.read()
        let storedRetention: Int64 = try reader.read()
        let nextExpiryAt: Int64 = try reader.read()
        let skuCount = Int(try reader.read(UInt32.self))
        // A SKU takes at least 60 bytes: a count beyond that is damage, not a reason to reserve gigabytes.
        guard skuCount <= reader.remaining / 60 else { throw ByteDecodingError(reason: "SKU count \(skuCount) too large") }
        var skus: [Sku] = []
        skus.reserveCapacity(skuCount)
        for _ in 0..<skuCount {
            let id = try reader.readString()
            let onHand: Int64 = try reader.read()
            var sku = Sku(id: id, onHand: onHand, policy: SkuPolicy(), initial: 0)
            sku.reserved = try reader.read()
            sku.held = try reader.read()
            sku.sold = try reader.read()
            sku.isPaused = try reader.readBool()
            sku.policy = try SkuPolicy.decode(from: &reader)
            sku.initial = try reader.read()
            sku.restocked = try reader.read()
            sku.adjusted = try reader.read()
            let reservationCount = Int(try reader.read(UInt32.self))
            for _ in 0..<reservationCount {
                let key = OrderKey(low: try reader.read(), high: try reader.read())
                sku.reservations.append(Reservation(key: key, placedAt: try reader.read()))
            }
            skus.append(sku)
        }
        let orderCount = Int(clamping: try reader.read(UInt64.self))
        guard orderCount <= reader.remaining / 28 else { throw ByteDecodingError(reason: "order count \(orderCount) too large") }
        var ledger = StockLedger(
            keySeed: keySeed, retention: retention ?? storedRetention, expectedOrders: orderCount, time: time)
        ledger.rev = rev
        ledger.nextExpiryAt = nextExpiryAt
        for _ in 0..<orderCount {
            let key = OrderKey(low: try reader.read(), high: try reader.read())
            let sku: UInt32 = try reader.read()
            let quantity: UInt32 = try reader.read()
            let rawState: UInt8 = try reader.read()
            guard let state = OrderState(rawValue: rawState), Int(sku) < skuCount else {
                throw ByteDecodingError(reason: "bad order entry before offset \(reader.offset)")
            }
            ledger.orders.insert(
                OrderEntry(
                    key: key, sku: sku, quantity: quantity, state: state,
                    placedResult: try reader.read(), paidResult: try reader.read(), cancelledResult: try reader.read()))
        }
        let rememberedCount = Int(clamping: try reader.read(UInt64.self))
        guard rememberedCount <= reader.remaining / 24 else { throw ByteDecodingError(reason: "remembered count too large") }
        for _ in 0..<rememberedCount {
            let key = OrderKey(low: try reader.read(), high: try reader.read())
            ledger.remembered.append(Reservation(key: key, placedAt: try reader.read()))
        }
        ledger.snapshotExtension = SnapshotExtension(version: try reader.read(), bytes: try reader.readBlob())
        if version >= 2 {
            let noteCount = Int(try reader.read(UInt32.self))
            guard noteCount <= reader.remaining / 8 else { throw ByteDecodingError(reason: "note count \(noteCount) too large") }
            for _ in 0..<noteCount {
                let key = try reader.readString()
                ledger.notes[key] = try reader.readString()
            }
        }
        ledger.skus = skus
        ledger.isChanged = [Bool](repeating: false, count: skus.count)
        for (index, sku) in skus.enumerated() {
            ledger.skuIndex[sku.id] = UInt32(index)
            ledger.skuLookup.insert(sku.id, index: UInt32(index))
        }
        return ledger
    }
}
