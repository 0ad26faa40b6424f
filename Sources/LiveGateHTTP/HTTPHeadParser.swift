/// Incremental parser of HTTP/1.x request heads with a size limit.
///
/// Feed it bytes as they arrive, in any split; it returns the parsed head and how many
/// bytes of the last input belonged to it once the blank line that ends the head has
/// arrived. The bytes after that (a body, the next request, or WebSocket frames) are the
/// caller's. It keeps only the bytes of an incomplete head.
public struct HTTPHeadParser: Sendable {
    /// The largest head accepted, in bytes, request line and fields together.
    public let maxHeadBytes: Int
    /// The largest `Content-Length` accepted.
    public let maxBodyBytes: Int

    private var buffer: [UInt8] = []
    /// How much of the terminating CR LF CR LF has been seen.
    private var matched = 0

    /// Creates a parser with the given limits.
    public init(maxHeadBytes: Int = 8192, maxBodyBytes: Int = 1 << 20) {
        self.maxHeadBytes = maxHeadBytes
        self.maxBodyBytes = maxBodyBytes
    }

    /// Whether part of a head has arrived and the rest is awaited.
    public var isInProgress: Bool { !buffer.isEmpty }

    /// Consumes bytes of a head.
    ///
    /// - Returns: `nil` when every byte was consumed and the head is not complete yet;
    ///   otherwise the head and the number of bytes of `input` it used.
    /// - Throws: `HTTPParseError` for an oversized or malformed head. The parser is then
    ///   unusable until ``reset()``.
    /// - Complexity: O(n) in the input.
    public mutating func feed(_ input: UnsafeRawBufferPointer) throws(HTTPParseError) -> (head: HTTPRequestHead, consumed: Int)? {
        var index = 0
        var start = 0
        // RFC 9112 §2.2: ignore empty lines before a request line.
        if buffer.isEmpty && matched == 0 {
            while index < input.count, input[index] == 13 || input[index] == 10 { index += 1 }
            start = index
        }
        while index < input.count {
            let byte = input[index]
            index += 1
            switch (matched, byte) {
            case (0, 13), (2, 13): matched += 1
            case (1, 10): matched = 2
            case (3, 10): matched = 4
            case (_, 13): matched = 1
            default: matched = 0
            }
            if matched == 4 {
                guard buffer.count + (index - start) <= maxHeadBytes else { throw .headTooLarge(limit: maxHeadBytes) }
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[start..<index]))
                let head = try parse(buffer)
                reset()
                return (head, index)
            }
        }
        guard buffer.count + (index - start) <= maxHeadBytes else { throw .headTooLarge(limit: maxHeadBytes) }
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[start..<index]))
        return nil
    }

    /// Forgets any partial head.
    public mutating func reset() {
        buffer.removeAll(keepingCapacity: false)
        matched = 0
    }

    private func parse(_ bytes: [UInt8]) throws(HTTPParseError) -> HTTPRequestHead {
        // Lines end in CR LF; the head ends with an empty line, so drop the last 4 bytes.
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = 0
        var i = 0
        let end = bytes.count - 2
        while i < end {
            if bytes[i] == 13 {
                guard bytes[i + 1] == 10 else { throw .malformedHeader("bare CR") }
                lines.append(bytes[lineStart..<i])
                i += 2
                lineStart = i
            } else if bytes[i] == 10 {
                throw .malformedHeader("bare LF")
            } else {
                i += 1
            }
        }
        guard let requestLine = lines.first else { throw .malformedRequestLine("empty") }
        var head = try parseRequestLine(requestLine)
        for line in lines.dropFirst() {
            let (name, value) = try parseField(line)
            head.headers.add(name: name, value: value)
        }
        try validate(&head)
        return head
    }

    private func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPRequestHead {
        let parts = line.split(separator: 32, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformedRequestLine("expected 'METHOD TARGET HTTP/1.1'") }
        let method = parts[0], target = parts[1], version = parts[2]
        guard !method.isEmpty, method.allSatisfy(isTokenCharacter) else { throw .malformedRequestLine("bad method") }
        guard !target.isEmpty, target.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw .malformedRequestLine("bad request target")
        }
        var targetString = String(decoding: target, as: UTF8.self)
        if targetString.hasPrefix("http://") || targetString.hasPrefix("https://") {
            // Absolute form (RFC 9112 §3.2.2): keep the path and query.
            let afterScheme = targetString.dropFirst(targetString.hasPrefix("https://") ? 8 : 7)
            targetString = afterScheme.firstIndex(of: "/").map { String(afterScheme[$0...]) } ?? "/"
        }
        guard targetString.hasPrefix("/") || targetString == "*" else {
            throw .malformedRequestLine("request target must start with /")
        }
        let versionString = String(decoding: version, as: UTF8.self)
        let minor: Int
        switch versionString {
        case "HTTP/1.1": minor = 1
        case "HTTP/1.0": minor = 0
        default:
            let bytes = Array(version)
            if bytes.count == 8, versionString.hasPrefix("HTTP/"), bytes[6] == UInt8(ascii: "."),
                isDigit(bytes[5]), isDigit(bytes[7])
            {
                throw .unsupportedVersion(versionString)
            }
            throw .malformedRequestLine("bad version")
        }
        return HTTPRequestHead(method: String(decoding: method, as: UTF8.self), target: targetString, minorVersion: minor)
    }

    private func parseField(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> (String, String) {
        guard let first = line.first else { throw .malformedHeader("empty line") }
        if first == 32 || first == 9 { throw .malformedHeader("obsolete line folding") }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .malformedHeader("missing colon") }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenCharacter) else {
            throw .malformedHeader("bad field name '\(String(decoding: name.prefix(64), as: UTF8.self))'")
        }
        var value = line[(colon + 1)...]
        while let c = value.first, c == 32 || c == 9 { value = value.dropFirst() }
        while let c = value.last, c == 32 || c == 9 { value = value.dropLast() }
        guard value.allSatisfy({ $0 == 9 || ($0 >= 32 && $0 != 127) }) else {
            throw .malformedHeader("control character in '\(String(decoding: name, as: UTF8.self))'")
        }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    private func validate(_ head: inout HTTPRequestHead) throws(HTTPParseError) {
        if head.minorVersion == 1 && head.headers.values("host").count != 1 { throw .missingHost }
        let lengths = head.headers.tokens("content-length")
        let transferEncodings = head.headers.values("transfer-encoding")
        if !transferEncodings.isEmpty {
            if !lengths.isEmpty { throw .badContentLength("sent together with Transfer-Encoding") }
            throw .chunkedBodyRefused
        }
        guard let first = lengths.first else { return }
        guard lengths.allSatisfy({ $0 == first }) else { throw .badContentLength("conflicting values") }
        guard first.utf8.count <= 18, first.utf8.allSatisfy(isDigit), let length = Int(first) else {
            throw .badContentLength("'\(first.prefix(32))' is not a number")
        }
        guard length <= maxBodyBytes else { throw .bodyTooLarge(length: length, limit: maxBodyBytes) }
        head.contentLength = length
    }
}

private func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }

/// RFC 9110 §5.6.2 `tchar`.
private func isTokenCharacter(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), 48...57: return true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
        UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
        UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        return true
    default: return false
    }
}
