import Foundation
import LiveGateHTTP

/// The three browser pages (operator console, host teleprompter, viewer overlay) and their
/// assets, served from the files of Sources/LiveGate/Pages/ as compiled into the binary by the
/// EmbedPages plugin (PageAssets): no outside assets, nothing to install next to the binary.
///
/// Pages are `Cache-Control: no-cache` (the token is in their URL; they are small). Assets are
/// named with a hash of their content in the query (`/assets/console.js?v=…`), so the pages
/// always load the assets they were written with and the assets may be cached for a year.
enum PageRoutes {
    /// The response for a page or asset path, or `nil` when the path is not one of ours
    /// (the router goes on with its own routes).
    static func response(for head: HTTPRequestHead) -> HTTPResponse? {
        guard let file = files[head.path] else { return nil }
        guard head.method == "GET" || head.method == "HEAD" else {
            var headers = HTTPHeaders()
            headers.add(name: "Allow", value: "GET, HEAD")
            return .text(.methodNotAllowed, "method \(head.method) not allowed here", headers: headers)
        }
        return file.response
    }

    /// One servable file.
    struct File: Sendable {
        let response: HTTPResponse
    }

    /// Every path we serve, built once.
    static let files: [String: File] = {
        var files: [String: File] = [:]
        var versions: [String: String] = [:]
        for asset in PageAssets.assets {
            let body = PageAssets.contents(of: asset.name)
            let etag = fnv1a64Hex(body)
            versions[asset.name] = etag
            files["/assets/" + asset.name] = File(response: make(body, type: asset.contentType, etag: etag,
                                                                  cacheControl: "public, max-age=31536000, immutable",
                                                                  csp: nil))
        }
        for page in PageAssets.pages {
            // The console and the teleprompter may not be framed (clickjacking on commands); the
            // overlay may, as streaming tools embed browser sources.
            let framing = page.path == "/overlay" ? "" : "; frame-ancestors 'none'"
            var html = String(decoding: PageAssets.contents(of: page.file), as: UTF8.self)
            // `{{asset:NAME}}` becomes `/assets/NAME?v=HASH`.
            for (name, version) in versions {
                html = html.replacingOccurrences(of: "{{asset:\(name)}}", with: "/assets/\(name)?v=\(version)")
            }
            let body = Array(html.utf8)
            files[page.path] = File(response: make(body, type: PageAssets.html, etag: fnv1a64Hex(body),
                                                   cacheControl: "no-cache", csp: pageCSP + framing))
        }
        return files
    }()

    /// Only our own scripts and styles, and connections to this origin (the room WebSocket,
    /// the series endpoint).
    private static let pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "connect-src 'self'; base-uri 'none'; form-action 'none'"

    private static func make(_ body: [UInt8], type: String, etag: String, cacheControl: String, csp: String?) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Cache-Control", value: cacheControl)
        headers.add(name: "ETag", value: "\"\(etag)\"")
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        // The page URL carries the token: never send it on as a Referer.
        headers.add(name: "Referrer-Policy", value: "no-referrer")
        if let csp { headers.add(name: "Content-Security-Policy", value: csp) }
        return HTTPResponse(status: .ok, headers: headers, body: body)
    }

    /// FNV-1a, 64 bits, in hex: a content hash for ETags and asset versions (not security).
    static func fnv1a64Hex(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
