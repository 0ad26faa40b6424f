import Foundation
import LiveGate
import LiveGateHTTP
import LiveGateReplay
import LiveGateStock
import LiveGateWebSocket

/// The parsers and decoders that take bytes from outside: each must refuse bad input with an
/// error, never crash, hang or leak. Built two ways:
/// - `.ci/fuzz` builds it with `-sanitize=fuzzer,address -DFUZZING`: libFuzzer drives
///   ``LLVMFuzzerTestOneInput`` with the target named by `LIVEGATE_FUZZ_TARGET`;
/// - a normal build gives `livegate-fuzz TARGET FILE…`, which runs files (a corpus, a crash
///   reproducer) through the same target.
enum FuzzTarget: String, CaseIterable {
    case websocket, http, json, json5, token, scenario, record, snapshot, deflate

    func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .websocket:
            // Masked client frames, split at every point the input has: as one read.
            var copy = [UInt8](bytes)
            var parser = WebSocketFrameParser(maxMessageBytes: 1 << 16)
            copy.withUnsafeMutableBytes { buffer in
                try? parser.parse(buffer) { event in
                    if case .message(_, let payload) = event { _ = payload.count }
                }
            }
        case .deflate:
            // permessage-deflate: the bytes as an extension offer, then as client frames with
            // the extension negotiated (RSV1 messages inflated, bounded at 64 KiB).
            _ = PerMessageDeflate.negotiate([String(decoding: bytes, as: UTF8.self)])
            var copy = [UInt8](bytes)
            var parser = WebSocketFrameParser(maxMessageBytes: 1 << 16, inflater: MessageInflater())
            copy.withUnsafeMutableBytes { buffer in
                try? parser.parse(buffer) { event in
                    if case .message(_, let payload) = event { _ = payload.count }
                }
            }
        case .http:
            var parser = HTTPHeadParser(maxHeadBytes: 8192, maxBodyBytes: 1 << 16)
            var offset = 0
            while offset < bytes.count {
                guard let (_, consumed) = try? parser.feed(UnsafeRawBufferPointer(rebasing: bytes[offset...])), consumed > 0 else { break }
                offset += consumed
                parser.reset()
            }
        case .json:
            _ = try? JSONValue.parse(Data(bytes), maximumDepth: 32)
        case .json5:
            _ = try? JSONValue.parseJSON5(Data(bytes))
        case .token:
            _ = try? TokenAuthority(secret: "fuzz-secret").verify(String(decoding: bytes, as: UTF8.self), now: 1_700_000_000)
        case .scenario:
            _ = try? Scenario.decode(Data(bytes), file: "fuzz.json5")
        case .record:
            try? StockDecoding.record(bytes)
        case .snapshot:
            _ = try? StockDecoding.snapshot(bytes)
        }
    }
}

#if FUZZING
private let target: FuzzTarget = {
    guard let name = ProcessInfo.processInfo.environment["LIVEGATE_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("set LIVEGATE_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue))\n".utf8))
        exit(2)
    }
    return target
}()

/// What libFuzzer calls for each input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    target.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : count))
    return 0
}

/// libFuzzer's entry for a program that has its own `main` (SwiftPM names the executable's).
@_silgen_name("LLVMFuzzerRunDriver")
private func fuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@main
enum FuzzMain {
    static func main() {
        _ = target
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(fuzzerRunDriver(&argc, &argv) { data, count in fuzzOneInput(data, count) })
    }
}
#else
@main
enum FuzzReplay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.first == "--write-seeds", let directory = arguments.dropFirst().first {
            writeSeeds(to: directory)
            return
        }
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: livegate-fuzz TARGET FILE…  (targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))")
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            let files = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 } : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                data.withUnsafeBytes { target.run($0) }
                count += 1
            }
        }
        print("\(name): \(count) input(s), no crash")
    }

    /// Writes seed inputs for the binary decoders: each kind of journal record, and a snapshot.
    static func writeSeeds(to directory: String) {
        let (records, snapshot) = StockDecoding.seeds()
        for (index, payload) in records.enumerated() {
            _ = FileManager.default.createFile(atPath: "\(directory)/record/seed-\(index)", contents: Data(payload))
        }
        _ = FileManager.default.createFile(atPath: "\(directory)/snapshot/seed", contents: Data(snapshot))
    }
}
#endif
