// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "livegate",
    products: [
        .executable(name: "livegate", targets: ["livegate"]),
        .executable(name: "livegate-bench", targets: ["livegate-bench"]),
    ],
    targets: [
        // Linux headers Glibc does not export: epoll, eventfd, timerfd, accept4, sched_getaffinity.
        .target(name: "CLinux", cSettings: [.define("_GNU_SOURCE")]),
        // OpenSSL 3 from Debian's libssl-dev: SHA-1 for the handshake, later TLS and HMAC.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // zlib from Debian's zlib1g-dev: raw DEFLATE for permessage-deflate (RFC 7692).
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Pure value types: buffers, base64, logging. No syscalls.
        .target(name: "LiveGateCore"),
        // The syscall choke point (EINTR retry, errno as a typed `Errno`/`IOError`) and the file calls
        // (open, pwrite, fsync, fdatasync, rename) that the journal and the room store make.
        .target(name: "LiveGateSystem"),
        // Sockets, epoll, event loops, timers, on top of LiveGateSystem (which it re-exports).
        .target(name: "LiveGatePOSIX", dependencies: ["CLinux", "LiveGateCore", "LiveGateSystem"]),
        // HTTP/1.1 request-head parser with limits, and small responses. No syscalls.
        .target(name: "LiveGateHTTP", dependencies: ["LiveGateCore"]),
        // TLS over OpenSSL on non-blocking sockets: server contexts (PEM chain and key), client
        // contexts (verified peers, optional client certificate) and sessions.
        .target(name: "LiveGateTLS", dependencies: ["COpenSSL", "LiveGateCore"]),
        // RFC 6455: handshake, frame parser and encoder, UTF-8 validation, close codes; RFC 7692
        // permessage-deflate (negotiation, deflate once, bounded inflate). No syscalls.
        .target(name: "LiveGateWebSocket", dependencies: ["LiveGateCore", "LiveGateHTTP", "COpenSSL", "CZlib"]),
        // The stock core: ledger, commands, journal, snapshot, recovery.
        .target(name: "LiveGateStock", dependencies: ["LiveGateCore", "LiveGateSystem"]),
        // A Redis client on the event loops: RESP2/RESP3 codec with limits, URL, pipelined
        // non-blocking connection (plain or TLS) with reconnect and backoff (the cluster's transport).
        .target(name: "LiveGateRedis", dependencies: ["LiveGateCore", "LiveGatePOSIX", "LiveGateTLS"]),
        // The alert engine: velocity windows, levels, templates. Pure, driven by core time.
        .target(name: "LiveGateAlerts", dependencies: ["LiveGateCore"]),
        // The gateway: config, routes, connections, server. Its pages (Pages/: HTML, CSS, JavaScript)
        // are compiled in byte for byte by the EmbedPages plugin.
        .target(
            name: "LiveGate",
            dependencies: [
                "COpenSSL", "LiveGateAlerts", "LiveGateCore", "LiveGatePOSIX", "LiveGateHTTP", "LiveGateRedis", "LiveGateTLS",
                "LiveGateWebSocket", "LiveGateStock", "LiveGateSystem",
            ],
            plugins: ["EmbedPages"]
        ),
        // Build-time only: writes a target's page files as StaticString literals (`embed-pages OUTPUT FILE...`),
        // run by the EmbedPages build-tool plugin (Sources/EmbedPagesPlugin).
        .executableTarget(name: "embed-pages"),
        .plugin(name: "EmbedPages", capability: .buildTool(), dependencies: ["embed-pages"], path: "Sources/EmbedPagesPlugin"),
        // Replays a scripted live sale through a real gateway and writes the report (`livegate replay`).
        .target(name: "LiveGateReplay", dependencies: ["LiveGate", "LiveGateAlerts", "LiveGateCore", "LiveGateStock"]),
        .executableTarget(name: "livegate", dependencies: ["LiveGate", "LiveGateRedis", "LiveGateReplay"]),
        // Benchmarks (`livegate-bench stock`, `fanout`, `latency`, `idle`, `connect`, `ingest`, `slow`),
        // their epoll load generator (a WebSocket client, optionally over TLS), and the stock crash-test child.
        .executableTarget(
            name: "livegate-bench", dependencies: ["CLinux", "COpenSSL", "LiveGateAlerts", "LiveGateCore", "LiveGateStock", "LiveGateSystem", "LiveGateWebSocket"]),
        // The fuzz targets (parsers and decoders of outside bytes): libFuzzer under `.ci/fuzz`,
        // a corpus replayer (`livegate-fuzz TARGET FILE…`) otherwise.
        .executableTarget(
            name: "livegate-fuzz",
            dependencies: ["LiveGate", "LiveGateHTTP", "LiveGateReplay", "LiveGateStock", "LiveGateWebSocket"]),

        // What several test targets share: a seeded generator, temporary directories, the built executables.
        .target(name: "LiveGateTestSupport", dependencies: ["LiveGateCore", "LiveGatePOSIX", "LiveGateRedis", "LiveGateTLS"], path: "Tests/LiveGateTestSupport"),
        .testTarget(name: "LiveGateCoreTests", dependencies: ["LiveGateCore", "LiveGateTestSupport"]),
        .testTarget(name: "LiveGatePOSIXTests", dependencies: ["LiveGatePOSIX"]),
        .testTarget(name: "LiveGateHTTPTests", dependencies: ["LiveGateHTTP", "LiveGateTestSupport"]),
        .testTarget(name: "LiveGateWebSocketTests", dependencies: ["LiveGateWebSocket"]),
        .testTarget(name: "LiveGateRedisTests", dependencies: ["LiveGateRedis", "LiveGatePOSIX", "LiveGateTLS", "LiveGateTestSupport"]),
        .testTarget(name: "LiveGateStockTests", dependencies: ["LiveGateStock", "LiveGateTestSupport"]),
        .testTarget(name: "LiveGateAlertsTests", dependencies: ["LiveGateAlerts", "LiveGateTestSupport"]),
        .testTarget(name: "LiveGateReplayTests", dependencies: ["LiveGateReplay", "LiveGateTestSupport"]),
        // Runs the built livegate-bench and livegate binaries at tiny sizes (checks the bench's accounting).
        .testTarget(name: "LiveGateBenchTests", dependencies: ["LiveGateTestSupport"]),
        .testTarget(
            name: "LiveGateTests",
            dependencies: [
                "LiveGate", "LiveGateAlerts", "LiveGateCore", "LiveGatePOSIX", "LiveGateRedis", "LiveGateStock",
                "LiveGateTLS", "LiveGateTestSupport", "LiveGateWebSocket",
            ]
        ),
    ]
)

for target in package.targets where target.type != .system && target.type != .plugin {
    guard target.name != "CLinux" else { continue }
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    // Release builds skip the dynamic exclusivity checks (a few per delivered message on the
    // fan-out path); debug builds, which run the tests, keep them.
    settings.append(.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)))
    target.swiftSettings = settings
}
