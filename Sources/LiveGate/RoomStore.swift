import Foundation
import LiveGateCore
import LiveGateSystem
import Synchronization

/// Rooms and SKU descriptions created through the socket, kept in `rooms.json` in the data
/// directory (written to a temporary file, synced, renamed, and the directory synced), so a show
/// created live survives a restart. Stock itself is in the stock core's journal.
final class RoomStore: Sendable {
    struct StoredSku: Codable, Sendable, Equatable {
        var id: String
        var name: String
        var substitute: String?
    }

    struct StoredRoom: Codable, Sendable, Equatable {
        var id: String
        var title: String
        var skus: [String]
        var featured: String?
    }

    struct Contents: Codable, Sendable, Equatable {
        var version = 1
        var skus: [StoredSku] = []
        var rooms: [StoredRoom] = []
    }

    let path: String
    /// Serialises saves (from loop threads and the stock core's release thread).
    private let saving = Mutex<Void>(())

    init(dataDirectory: String) {
        path = (dataDirectory as NSString).appendingPathComponent("rooms.json")
    }

    /// What was stored, or nothing for a new data directory.
    ///
    /// - Throws: when the file exists but cannot be read as rooms (named in the error).
    func load() throws -> Contents {
        guard FileManager.default.fileExists(atPath: path) else { return Contents() }
        do {
            return try JSONDecoder().decode(Contents.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw ConfigurationError(message: "\(path): cannot read the rooms created live: \(error)")
        }
    }

    /// Replaces the file atomically and durably with what `contents()` returns; saves are one
    /// at a time, so an older snapshot never replaces a newer one.
    func save(_ contents: () -> Contents) throws {
        try saving.withLock { _ in try write(contents()) }
    }

    private func write(_ contents: Contents) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let bytes = Array(try encoder.encode(contents))
        do {
            try Syscall.replaceFile(path, with: bytes)
        } catch {
            throw ConfigurationError(message: "cannot save \(path): \(error)")
        }
    }
}
