/// The pages and assets PageRoutes serves: the files of Sources/LiveGate/Pages/, plain HTML,
/// CSS and JavaScript with no build step of their own, compiled into the binary byte for byte
/// by the EmbedPages plugin (`EmbeddedPages.files`, generated at build time).
enum PageAssets {
    /// A page: its path and the file (in `Pages/`) it serves.
    struct Page: Sendable {
        let path: String
        let file: String
    }

    /// An asset served at `/assets/NAME`: a file of `Pages/` and its content type.
    struct Asset: Sendable {
        let name: String
        let contentType: String
    }

    /// The pages, each at its own path.
    static let pages: [Page] = [
        // The operator's page.
        Page(path: "/console", file: "console.html"),
        // The teleprompter, readable from three metres.
        Page(path: "/host", file: "host.html"),
        // The viewer overlay, a transparent OBS browser source.
        Page(path: "/overlay", file: "overlay.html"),
    ]

    /// The style sheets and scripts the pages link to (`{{asset:NAME}}`).
    static let assets: [Asset] = [
        // Shared by the three pages: the colours of the alert levels, the connection pill, the
        // "token needed" notice. Fonts are local only (DejaVu for Latin, WenQuanYi Micro Hei for
        // Chinese on Debian; the usual system fonts elsewhere).
        Asset(name: "common.css", contentType: css),
        // Shared by the three pages (window.LG): the token from the page URL, the room connection
        // with reconnect (exponential backoff, jitter, `since`/`epoch` resume), the room model
        // (snapshot + stock/featured messages), commands matched to their `result`/`error` by id,
        // a requestAnimationFrame batcher, and number formats. Uses only what Protocol/README.md
        // documents.
        Asset(name: "common.js", contentType: javaScript),
        // The console's dark theme: quiet greys, colour only where a level or an error is.
        Asset(name: "console.css", contentType: css),
        // The console's script: one table row per SKU updated in place (dirty rows rendered once
        // per animation frame), a canvas chart per SKU (sellable as a step area, rate as a dashed
        // line, alert markers), the command forms with their answers, the alert feed.
        Asset(name: "console.js", contentType: javaScript),
        // The teleprompter: black, one huge figure in the level's colour, big plain words.
        Asset(name: "host.css", contentType: css),
        // The teleprompter's script: for each featured SKU, "can sell N more" (the latest
        // `hint.canSell` when a hint came after the last stock change, else `sellable`), the level
        // as a colour, the hint text, and the substitute to pitch at emergency or sold out.
        Asset(name: "host.js", contentType: javaScript),
        // The overlay: nothing but the banner and the chat on a transparent page; text on dark
        // translucent pills with a shadow so it reads over any video.
        Asset(name: "overlay.css", contentType: css),
        // The overlay's script: the server's scarcity banner for the featured SKU (its text as
        // sent, nothing made up here) and the danmaku stream, system messages set apart.
        Asset(name: "overlay.js", contentType: javaScript),
    ]

    /// The content type of the pages.
    static let html = "text/html; charset=utf-8"
    /// The content type of the style sheets.
    static let css = "text/css; charset=utf-8"
    /// The content type of the scripts.
    static let javaScript = "text/javascript; charset=utf-8"

    /// The exact bytes of `file`, one of the files of `Pages/`.
    ///
    /// - Complexity: O(*n*) in the file's size (a copy).
    static func contents(of file: String) -> [UInt8] {
        guard let embedded = EmbeddedPages.files[file] else {
            preconditionFailure("\(file) is not in Sources/LiveGate/Pages/ (nothing embedded under that name)")
        }
        return embedded.withUTF8Buffer { Array($0) }
    }
}
