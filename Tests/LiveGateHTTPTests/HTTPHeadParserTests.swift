import LiveGateHTTP
import Testing
import LiveGateTestSupport

/// Feeds `bytes` to a fresh parser in the given pieces and returns the head and the number
/// of bytes consumed, or the error.
func parseInPieces(_ bytes: [UInt8], pieces: [Int], maxHead: Int = 8192, maxBody: Int = 1 << 20)
    -> Result<(HTTPRequestHead, Int), HTTPParseError>?
{
    var parser = HTTPHeadParser(maxHeadBytes: maxHead, maxBodyBytes: maxBody)
    var offset = 0
    for size in pieces {
        let end = min(bytes.count, offset + size)
        let piece = Array(bytes[offset..<end])
        do {
            let result = try piece.withUnsafeBytes { try parser.feed($0) }
            if let (head, used) = result { return .success((head, offset + used)) }
        } catch {
            return .failure(error as! HTTPParseError)
        }
        offset = end
        if offset == bytes.count { break }
    }
    return nil
}

/// Every way the tests split an input: whole, one byte at a time, every two-piece split,
/// and random splits from a fixed seed.
func splits(of count: Int, seed: UInt64 = 1) -> [[Int]] {
    var result: [[Int]] = [[count], Array(repeating: 1, count: count)]
    for point in 1..<max(count, 1) { result.append([point, count - point]) }
    var generator = SplitMix64(seed: seed)
    for _ in 0..<50 {
        var left = count
        var pieces: [Int] = []
        while left > 0 {
            let size = min(left, Int(generator.next() % 17) + 1)
            pieces.append(size)
            left -= size
        }
        result.append(pieces)
    }
    return result
}

struct HTTPHeadParserTests {
    let upgrade = Array(
        ("GET /echo?token=a%20b&x HTTP/1.1\r\nHost: example\r\nUpgrade: WebSocket\r\n"
            + "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            + "Sec-WebSocket-Version:  13 \r\n\r\nEXTRA").utf8)

    @Test func parsesTheSameWayInEverySplit() throws {
        let expectedUsed = upgrade.count - 5
        for pieces in splits(of: upgrade.count) {
            guard case .success(let (head, used))? = parseInPieces(upgrade, pieces: pieces) else {
                Issue.record("no head for split \(pieces)")
                return
            }
            #expect(used == expectedUsed, "split \(pieces)")
            #expect(head.method == "GET")
            #expect(head.path == "/echo")
            #expect(head.queryParameter("token") == "a b")
            #expect(head.queryParameter("x") == "")
            #expect(head.headers.first("sec-websocket-version") == "13")
            #expect(head.headers.contains("CONNECTION", token: "upgrade"))
            #expect(head.headers.tokens("connection") == ["keep-alive", "upgrade"])
            #expect(head.isKeepAlive)
        }
    }

    @Test func pipelinedRequestsAreSeparated() throws {
        let two = Array("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".utf8)
        var parser = HTTPHeadParser()
        let (first, used) = try #require(try two.withUnsafeBytes { try parser.feed($0) })
        #expect(first.path == "/a")
        let rest = Array(two[used...])
        let (second, usedSecond) = try #require(try rest.withUnsafeBytes { try parser.feed($0) })
        #expect(second.path == "/b")
        #expect(usedSecond == rest.count)
        #expect(!second.isKeepAlive)
    }

    @Test func contentLengthIsRecorded() throws {
        let request = Array("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello".utf8)
        guard case .success(let (head, used))? = parseInPieces(request, pieces: [request.count]) else {
            Issue.record("no head")
            return
        }
        #expect(head.contentLength == 5)
        #expect(used == request.count - 5)
    }

    @Test func http10KeepAliveRules() throws {
        for (text, keepAlive) in [
            ("GET / HTTP/1.0\r\n\r\n", false), ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        ] {
            let bytes = Array(text.utf8)
            guard case .success(let (head, _))? = parseInPieces(bytes, pieces: [bytes.count]) else {
                Issue.record("no head for \(text)")
                continue
            }
            #expect(head.isKeepAlive == keepAlive)
        }
    }

    @Test(arguments: [
        ("GET /\r\nHost: h\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\n\r\n", 400),  // no Host
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        ("GET / HTTQ/1.1\r\nHost: h\r\n\r\n", 400),
        ("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("GET nopath HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: h\rX\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
        ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n", 413),
    ])
    func malformedRequestsMapToStatus(text: String, status: Int) {
        let bytes = Array(text.utf8)
        for pieces in [[bytes.count], Array(repeating: 1, count: bytes.count)] {
            guard case .failure(let error)? = parseInPieces(bytes, pieces: pieces) else {
                Issue.record("accepted: \(text.debugDescription)")
                return
            }
            #expect(error.status.code == status, "\(text.debugDescription): \(error.reason)")
            #expect(!error.reason.isEmpty)
        }
    }

    @Test func oversizedHeadIs431EvenWithoutTerminator() {
        let bytes = Array(("GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + String(repeating: "a", count: 600)).utf8)
        for pieces in [[bytes.count], Array(repeating: 1, count: bytes.count)] {
            guard case .failure(let error)? = parseInPieces(bytes, pieces: pieces, maxHead: 512) else {
                Issue.record("oversized head accepted or pending")
                return
            }
            #expect(error.status.code == 431)
        }
    }

    @Test func incompleteHeadWaits() {
        let bytes = Array("GET / HTTP/1.1\r\nHost: h\r\n".utf8)
        #expect(parseInPieces(bytes, pieces: [bytes.count]) == nil)
    }

    @Test func responseEncoding() {
        let response = HTTPResponse.text(.notFound, "nope")
        let text = String(decoding: response.encoded(keepAlive: false), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(text.contains("Content-Length: 5\r\n"))
        #expect(text.contains("Connection: close\r\n"))
        #expect(text.hasSuffix("\r\n\r\nnope\n"))
        let head = String(decoding: response.encoded(keepAlive: true, includeBody: false), as: UTF8.self)
        #expect(head.hasSuffix("Content-Length: 5\r\n\r\n"))
        #expect(!head.contains("Connection: close"))
    }
}
