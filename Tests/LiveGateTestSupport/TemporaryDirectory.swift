import Foundation

/// A fresh temporary directory, removed by ``remove()``.
public struct TemporaryDirectory {
    /// Its path.
    public let path: String

    /// Creates the directory, named `prefix` and a UUID.
    public init(prefix: String = "livegate-test-") {
        path = NSTemporaryDirectory() + prefix + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Removes it and its content (twice if needed: a file created while the first removal ran).
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
        if FileManager.default.fileExists(atPath: path) {
            usleep(200_000)
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}
