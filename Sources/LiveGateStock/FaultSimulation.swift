import Foundation
import LiveGateCore
import Glibc

/// Seeded storage-fault simulation of the stock core's durability contract, on real journal
/// files: a random workload goes through the writer's steps (apply a batch, write it, sync it,
/// acknowledge it), faults are injected, the core "restarts" (``StockEngine`` recovers from the
/// directory, the same code a real start runs) and the invariants are checked.
///
/// Faults, one per restart, chosen at random:
/// - ``Fault/processCrash``: the process dies; what it wrote is in the page cache and survives.
/// - ``Fault/powerCut``: what was not synced is lost, except a torn prefix of random length.
/// - ``Fault/syncFailure``: `fdatasync` fails; nothing of that batch is acknowledged, and the
///   kernel may have dropped the pages (fsyncgate): the unsynced bytes are lost or kept at random.
/// - ``Fault/bitFlip``: one byte of a synced record flips (media corruption).
/// - ``Fault/strayTemporary``: a crash in the middle of a snapshot or segment creation leaves a
///   partial `.tmp` file.
///
/// Invariants after every restart: no acknowledged command is missing (the recovered `rev` is at
/// least the last acknowledged one); the state equals a replay of exactly the commands up to
/// the recovered `rev` (nothing invented, nothing reordered); the ledger's accounting holds
/// (`sellable = onHand − reserved − held − sold`, no oversell); a flipped byte is detected by the
/// record's CRC-32C and reported, never applied. A flip in the *last* synced record cannot be
/// told from a torn write and is cut like one: that case is counted apart (``Report/lastRecordFlipsCut``).
public enum FaultSimulation {
    public enum Fault: String, CaseIterable, Sendable {
        case processCrash, powerCut, syncFailure, bitFlip, strayTemporary
    }

    /// What a run found.
    public struct Report: Sendable {
        public var restarts = 0
        public var faults: [Fault: Int] = [:]
        public var acknowledgedCommands = 0
        /// Restarts after which an acknowledged command was missing (must be 0).
        public var acknowledgedLost = 0
        /// Restarts whose recovered state differed from the replay of the commands up to its rev (must be 0).
        public var stateMismatches = 0
        /// Restarts after which the ledger's invariants did not hold (must be 0).
        public var invariantViolations = 0
        /// Flipped bytes that recovery refused as corruption, naming the file and offset.
        public var corruptionDetected = 0
        /// Flips in the last synced record, cut as a torn tail (indistinguishable from one).
        public var lastRecordFlipsCut = 0
        /// Flips whose damaged record was applied anyway (must be 0).
        public var corruptionApplied = 0
        /// The first few failures, described.
        public var failures: [String] = []

        public var isClean: Bool { acknowledgedLost == 0 && stateMismatches == 0 && invariantViolations == 0 && corruptionApplied == 0 }
    }

    /// Runs `restarts` crash-restarts from `seed` in `directory` (emptied first; a tmpfs is fastest).
    /// Each episode starts from an empty journal and goes through up to 25 restarts.
    public static func run(seed: UInt64, restarts: Int, directory: String) throws -> Report {
        var report = Report()
        var random = SplitMix64(seed: seed)
        while report.restarts < restarts {
            try? FileManager.default.removeItem(atPath: directory)
            try DataDirectory.create(directory)
            var episode = Episode(directory: directory)
            let cycles = min(1 + Int(random.next() % 25), restarts - report.restarts)
            for _ in 0..<cycles {
                let fault = Fault.allCases[Int(random.next() % UInt64(Fault.allCases.count))]
                let goesOn = try episode.cycle(fault: fault, random: &random, report: &report)
                report.restarts += 1
                report.faults[fault, default: 0] += 1
                if !goesOn { break }
            }
        }
        return report
    }

    /// One data directory through several crash-restarts.
    struct Episode {
        let directory: String
        /// Every command written, in rev order, with its core time (the model replays them).
        var written: [(command: StockCommand, time: Int64)] = []
        /// The rev of the last acknowledged (synced) command.
        var acknowledgedRev: UInt64 = 0
        var nextOrder = 0
        var time: Int64 = 1_000_000_000
        static let skus = ["tea", "cup", "pot"]
        static let configuration = StockConfiguration(clock: .external, snapshotEvery: 1_000_000, segmentSize: 64 << 10, log: { _ in })

        init(directory: String) { self.directory = directory }

        /// Runs a workload on the recovered journal, injects `fault`, recovers and checks.
        /// - Returns: false when the directory cannot go on (corruption was detected).
        mutating func cycle(fault: Fault, random: inout SplitMix64, report: inout Report) throws -> Bool {
            let journal = try FileJournal(directory: directory, segmentSize: Self.configuration.segmentSize)
            var ledger = try Self.recover(journal)
            // The synced end of each segment (the writer's view after each successful sync).
            var synced: [String: Int] = [:]
            if !journal.segmentPath.isEmpty { synced[journal.segmentPath] = journal.appendOffset }
            if written.isEmpty || ledger.rev == 0 {
                try apply([.createSku(sku: Self.skus[0], onHand: 50), .createSku(sku: Self.skus[1], onHand: 30),
                           .createSku(sku: Self.skus[2], onHand: 5)], ledger: &ledger, journal: journal, synced: &synced,
                          report: &report, sync: true)
            }
            let batches = 1 + Int(random.next() % 8)
            for batch in 0..<batches {
                var commands: [StockCommand] = []
                for _ in 0..<(1 + Int(random.next() % 12)) { commands.append(randomCommand(&random)) }
                let isLast = batch == batches - 1
                let syncs = !(isLast && (fault == .syncFailure || (fault == .powerCut && random.next() % 2 == 0)))
                try apply(commands, ledger: &ledger, journal: journal, synced: &synced, report: &report, sync: syncs)
                if syncs, random.next() % 16 == 0 {
                    try journal.writeSnapshot(ledger.encodeSnapshot(), rev: ledger.rev)
                    synced = [journal.segmentPath: journal.appendOffset]
                }
            }
            let currentSegment = journal.segmentPath
            let written = journal.appendOffset
            journal.close()

            // The fault.
            var flipped: (path: String, offset: Int, isLastRecord: Bool)?
            switch fault {
            case .processCrash:
                break
            case .powerCut, .syncFailure:
                let keepsPages = fault == .syncFailure && random.next() % 2 == 0
                if !keepsPages, let durable = synced[currentSegment] ?? Optional(FileJournal.headerSize), written > durable {
                    let torn = Int(random.next() % UInt64(written - durable + 1))
                    zero(currentSegment, from: durable + torn, to: written)
                }
            case .bitFlip:
                flipped = flipSyncedByte(synced: synced, random: &random)
            case .strayTemporary:
                let name = directory + "/snapshot-\(String(repeating: "0", count: 19))9.lgs.tmp"
                _ = FileManager.default.createFile(atPath: name, contents: Data((0..<Int(random.next() % 300)).map { UInt8($0 & 0xff) }))
            }

            // The restart: the recovery a real start runs.
            let recovered: StockLedger
            do {
                let journal = try FileJournal(directory: directory, segmentSize: Self.configuration.segmentSize)
                defer { journal.close() }
                recovered = try Self.recover(journal)
            } catch let error as JournalError {
                if case .corrupt = error, flipped != nil {
                    report.corruptionDetected += 1
                    return false
                }
                throw error
            }
            if let flipped, !flipped.isLastRecord {
                report.corruptionApplied += 1
                note(&report, "a flipped byte at \(flipped.path):\(flipped.offset) was not detected")
            }
            let lostByFlip = flipped?.isLastRecord == true && recovered.rev < acknowledgedRev
            if lostByFlip { report.lastRecordFlipsCut += 1 }
            if recovered.rev < acknowledgedRev && !lostByFlip {
                report.acknowledgedLost += 1
                note(&report, "\(fault): recovered rev \(recovered.rev) < acknowledged rev \(acknowledgedRev)")
            }
            if let violation = recovered.invariantViolation() {
                report.invariantViolations += 1
                note(&report, "\(fault): \(violation)")
            }
            // Nothing invented: the state is the replay of the first `rev` commands written.
            var model = StockLedger(keySeed: 1, retention: Self.configuration.retention)
            var results: [StockResult] = []
            var replayed: [(command: StockCommand, time: Int64)] = []
            for entry in self.written where model.rev < recovered.rev {
                model.execute(batch: [entry.command], time: entry.time, results: &results)
                replayed.append(entry)
            }
            if model.rev != recovered.rev || model.allPublications != recovered.allPublications {
                report.stateMismatches += 1
                note(&report, "\(fault): recovered state at rev \(recovered.rev) differs from the replay (rev \(model.rev))")
            }
            // What was lost (unacknowledged) is forgotten; the next cycle goes on from here.
            self.written = replayed
            acknowledgedRev = min(acknowledgedRev, recovered.rev)
            return true
        }

        /// Applies, writes and (when `sync`) syncs one batch, as the writer does.
        mutating func apply(
            _ commands: [StockCommand], ledger: inout StockLedger, journal: FileJournal, synced: inout [String: Int],
            report: inout Report, sync: Bool
        ) throws {
            time += 1_000_000 * Int64(1 + commands.count)
            var keys: [OrderKey] = []
            var encoder = ByteWriter()
            var results: [StockResult] = []
            let before = ledger.rev
            try journal.reserve(bytes: commands.count * 2048)
            let count = ledger.applyBatch(commands, time: time, externalClock: true, keys: &keys, journal: &encoder,
                                          encodes: true, results: &results)
            // Keep exactly the commands that became records, with their time (reads and repeats make none).
            var rev = before
            for (command, result) in zip(commands, results) where result.rev > rev {
                written.append((command, time))
                rev = result.rev
            }
            guard count > 0 else { return }
            try encoder.bytes.withUnsafeBytes { try journal.write($0, recordCount: count) }
            guard sync else { return }
            try journal.sync()
            synced[journal.segmentPath] = journal.appendOffset
            acknowledgedRev = ledger.rev
            report.acknowledgedCommands += count
        }

        mutating func randomCommand(_ random: inout SplitMix64) -> StockCommand {
            let sku = Self.skus[Int(random.next() % 3)]
            let roll = random.next() % 100
            let quantity = Int64(1 + random.next() % 3)
            switch roll {
            case 0..<45:
                nextOrder += 1
                return .order(OrderEvent(.placed, sku: sku, channel: "douyin", orderId: "o\(nextOrder)", quantity: quantity))
            case 45..<70:
                let id = max(1, nextOrder - Int(random.next() % 5))
                return .order(OrderEvent(.paid, sku: sku, channel: "douyin", orderId: "o\(id)", quantity: quantity))
            case 70..<80:
                let id = max(1, nextOrder - Int(random.next() % 5))
                return .order(OrderEvent(.cancelled, sku: sku, channel: "douyin", orderId: "o\(id)", quantity: quantity))
            case 80..<87:
                return .restock(sku: sku, quantity: quantity * 5, source: "sim")
            case 87..<92:
                return .hold(sku: sku, quantity: quantity)
            case 92..<97:
                return .release(sku: sku, quantity: quantity)
            default:
                time += 60_000_000_000
                return .tick(to: time)
            }
        }

        /// Recovers a ledger through the core's own start-up path.
        static func recover(_ journal: FileJournal) throws -> StockLedger {
            let core = try StockEngine(journal: journal, configuration: configuration)
            return core.withLedger { $0 }
        }

        /// Flips one byte inside the synced records of a random segment.
        func flipSyncedByte(synced: [String: Int], random: inout SplitMix64) -> (path: String, offset: Int, isLastRecord: Bool)? {
            let candidates = synced.filter { $0.value > FileJournal.headerSize }.sorted { $0.key < $1.key }
            guard !candidates.isEmpty else { return nil }
            let (path, end) = candidates[Int(random.next() % UInt64(candidates.count))]
            guard var bytes = FileManager.default.contents(atPath: path).map({ [UInt8]($0) }) else { return nil }
            let offset = FileJournal.headerSize + Int(random.next() % UInt64(end - FileJournal.headerSize))
            // Is the record to damage the last one of the segment (a torn write looks the same)?
            // Its bounds are read before the flip, which may hit a length field.
            var lastStart = FileJournal.headerSize
            var start = FileJournal.headerSize
            while start + CommandRecord.frameHeaderSize <= end {
                let length = Int(UInt32(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start, as: UInt32.self) }))
                let next = start + CommandRecord.frameHeaderSize + length
                if length == 0 || next > end { break }
                lastStart = start
                start = next
            }
            let isLastSegment = path == candidates.map(\.key).max()
            bytes[offset] ^= UInt8(1 << (random.next() % 8))
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            return (path, offset, isLastSegment && offset >= lastStart)
        }

        func zero(_ path: String, from start: Int, to end: Int) {
            guard start < end, let handle = FileHandle(forUpdatingAtPath: path) else { return }
            try? handle.seek(toOffset: UInt64(start))
            handle.write(Data(count: end - start))
            try? handle.close()
        }

        func note(_ report: inout Report, _ text: String) {
            if report.failures.count < 10 { report.failures.append(text) }
        }
    }
}
