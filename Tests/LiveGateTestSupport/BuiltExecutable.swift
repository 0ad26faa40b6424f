import Foundation

/// The executables `swift build` put next to the running test binary.
public enum BuiltExecutable {
    /// The path of the executable `name` (e.g. `livegate-bench`) in the build directory, or nil when
    /// it was not built. The test binary may sit inside a bundle, so a few parent directories are tried.
    public static func path(_ name: String) -> String? {
        guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            return nil
        }
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }
}
