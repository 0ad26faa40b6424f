/// The pages and assets PageRoutes serves. Each lives in its own file of this folder as a
/// raw string literal: plain HTML, CSS and JavaScript, no build step.
enum PageAssets {
    struct Page: Sendable {
        let path: String
        let html: String
    }

    struct Asset: Sendable {
        let name: String
        let contentType: String
        let body: String
    }

    static let pages: [Page] = [
        Page(path: "/console", html: consoleHTML),
        Page(path: "/host", html: hostHTML),
        Page(path: "/overlay", html: overlayHTML),
    ]

    static let assets: [Asset] = [
        Asset(name: "common.css", contentType: "text/css; charset=utf-8", body: commonCSS),
        Asset(name: "common.js", contentType: "text/javascript; charset=utf-8", body: commonJS),
        Asset(name: "console.css", contentType: "text/css; charset=utf-8", body: consoleCSS),
        Asset(name: "console.js", contentType: "text/javascript; charset=utf-8", body: consoleJS),
        Asset(name: "host.css", contentType: "text/css; charset=utf-8", body: hostCSS),
        Asset(name: "host.js", contentType: "text/javascript; charset=utf-8", body: hostJS),
        Asset(name: "overlay.css", contentType: "text/css; charset=utf-8", body: overlayCSS),
        Asset(name: "overlay.js", contentType: "text/javascript; charset=utf-8", body: overlayJS),
    ]
}
