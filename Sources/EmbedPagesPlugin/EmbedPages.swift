import Foundation
import PackagePlugin

/// Embeds a target's page files (its `.html`, `.css` and `.js` files; LiveGate keeps them in
/// `Pages/`) into the target: one build command runs `embed-pages`, which writes
/// `EmbeddedPages.swift` (each file's exact bytes as a `StaticString`) into the plugin's work
/// directory, and SwiftPM compiles that file with the target's sources. The command reruns when
/// a page file changes, and the file list is taken anew on every build.
///
/// SwiftPM has no rule of its own for these file types; it hands them to the target's plugins
/// as source files of type `unknown`, which is how this plugin finds them.
@main
struct EmbedPages: BuildToolPlugin {
    /// The file name extensions embedded.
    static let extensions: Set<String> = ["html", "css", "js"]

    /// One build command: `embed-pages OUTPUT FILE...` over the target's page files, sorted by name.
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        guard let module = target as? any SourceModuleTarget else { return [] }
        let inputs = module.sourceFiles
            .map(\.url)
            .filter { Self.extensions.contains($0.pathExtension) }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedPages.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) page files of \(target.name)",
                executable: try context.tool(named: "embed-pages").url,
                arguments: [output.path] + inputs.map(\.path),
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}
