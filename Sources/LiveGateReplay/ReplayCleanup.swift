import Foundation
import Synchronization

/// The temporary data directories of embedded gateways still running, so an interrupted replay
/// (Ctrl-C) can remove them before it exits.
public enum ReplayCleanup {
    private static let directories = Mutex<Set<String>>([])

    /// Notes a directory to remove on interruption.
    static func register(_ path: String) {
        directories.withLock { _ = $0.insert(path) }
    }

    /// Forgets a directory the run removed itself.
    static func unregister(_ path: String) {
        directories.withLock { _ = $0.remove(path) }
    }

    /// Removes every registered directory (the process is about to exit).
    public static func removeAll() {
        let paths = directories.withLock { paths in
            defer { paths = [] }
            return paths
        }
        for path in paths { try? FileManager.default.removeItem(atPath: path) }
    }
}
