import Foundation
import LiveGateHTTP
import Testing

@testable import LiveGate

/// The page routes serve the files of Sources/LiveGate/Pages/ exactly as they are in the
/// repository, with the right content type: read from disk here, compared byte for byte.
struct PageRoutesTests {
    /// One route and the file it serves.
    struct Route: Sendable, CustomTestStringConvertible {
        let path: String
        let file: String
        let contentType: String
        var testDescription: String { path }
    }

    /// Every page and asset route, written out here rather than taken from PageAssets.
    static let routes: [Route] = [
        Route(path: "/console", file: "console.html", contentType: "text/html; charset=utf-8"),
        Route(path: "/host", file: "host.html", contentType: "text/html; charset=utf-8"),
        Route(path: "/overlay", file: "overlay.html", contentType: "text/html; charset=utf-8"),
    ] + ["common", "console", "host", "overlay"].flatMap { name in
        [
            Route(path: "/assets/\(name).css", file: "\(name).css", contentType: "text/css; charset=utf-8"),
            Route(path: "/assets/\(name).js", file: "\(name).js", contentType: "text/javascript; charset=utf-8"),
        ]
    }

    static let pagesFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources/LiveGate/Pages")

    /// The repository file `name` of Sources/LiveGate/Pages/.
    static func fileOnDisk(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: pagesFolder.appendingPathComponent(name)))
    }

    /// What `route` must serve: the file as it is on disk; for a page, with each
    /// `{{asset:NAME}}` replaced by `/assets/NAME?v=` and the hash of that asset's file on disk.
    static func expectedBody(_ route: Route) throws -> [UInt8] {
        let bytes = try fileOnDisk(route.file)
        guard route.file.hasSuffix(".html") else { return bytes }
        var html = String(decoding: bytes, as: UTF8.self)
        for asset in routes where asset.path.hasPrefix("/assets/") {
            let version = PageRoutes.fnv1a64Hex(try fileOnDisk(asset.file))
            html = html.replacingOccurrences(of: "{{asset:\(asset.file)}}", with: "\(asset.path)?v=\(version)")
        }
        #expect(!html.contains("{{"), "\(route.file) names an asset that is not served")
        return Array(html.utf8)
    }

    /// `nil` when `bytes` are `expected`, else where they part (a short message, not the bytes).
    static func difference(_ bytes: [UInt8], _ expected: [UInt8]) -> String? {
        guard bytes != expected else { return nil }
        let index = zip(bytes, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            ?? min(bytes.count, expected.count)
        return "\(bytes.count) bytes, \(expected.count) expected; first difference at byte \(index)"
    }

    @Test func everyPageFileIsEmbeddedByteForByteAndServed() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.pagesFolder.path)
            .filter { ["html", "css", "js"].contains(URL(fileURLWithPath: $0).pathExtension) }
        #expect(Set(names) == Set(EmbeddedPages.files.keys))
        #expect(Set(names) == Set(Self.routes.map(\.file)))
        for name in names {
            let embedded = try #require(EmbeddedPages.files[name]).withUTF8Buffer { Array($0) }
            let difference = Self.difference(embedded, try Self.fileOnDisk(name))
            #expect(difference == nil, "\(name) (rebuild after editing a page)")
        }
    }

    @Test(arguments: routes)
    func routeServesTheFileOnDisk(_ route: Route) throws {
        let expected = try Self.expectedBody(route)
        for target in [route.path, route.path + "?v=anything"] {
            let response = try #require(PageRoutes.response(for: HTTPRequestHead(method: "GET", target: target)))
            #expect(response.status == .ok)
            #expect(response.headers.first("Content-Type") == route.contentType)
            #expect(Self.difference(response.body, expected) == nil, "\(target)")
        }
        let head = try #require(PageRoutes.response(for: HTTPRequestHead(method: "HEAD", target: route.path)))
        #expect(head.status == .ok)
    }

    @Test func aRunningGatewayServesEveryRouteFromDisk() throws {
        let room = try RoomFixture()
        let client = try TestClient(port: room.port)
        for route in Self.routes {
            client.send("GET \(route.path) HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try #require(client.readResponse())
            #expect(response.status == 200, "\(route.path)")
            #expect(response.headers["content-type"] == route.contentType, "\(route.path)")
            #expect(Self.difference(Array(response.body.utf8), try Self.expectedBody(route)) == nil, "\(route.path)")
        }
    }
}
