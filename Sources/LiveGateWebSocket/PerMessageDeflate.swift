/// What a connection agreed to in the permessage-deflate negotiation (RFC 7692 §7).
///
/// The server side always runs without context takeover (each message is compressed on its
/// own, so one compressed frame fits every subscriber) and asks the same of the client (so
/// inbound messages need no per-connection inflate context).
public struct DeflateAgreement: Equatable, Sendable {
    /// The largest LZ77 window the client accepts for what the server sends (8...15); 15 when
    /// the offer did not limit it (`server_max_window_bits`, §7.1.2.1).
    public var serverMaxWindowBits: Int

    /// Creates an agreement.
    public init(serverMaxWindowBits: Int = 15) {
        self.serverMaxWindowBits = serverMaxWindowBits
    }

    /// The largest plain payload whose shared compressed form this connection can inflate:
    /// a message of at most 2^bits bytes has no back-reference farther than its window,
    /// whatever window the compressor had. Larger messages go out uncompressed.
    public var maxSharedPayloadBytes: Int {
        serverMaxWindowBits >= 15 ? Int.max : 1 << serverMaxWindowBits
    }

    /// The `Sec-WebSocket-Extensions` value of the 101 response.
    public var responseHeaderValue: String {
        var value = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        if serverMaxWindowBits < 15 { value += "; server_max_window_bits=\(serverMaxWindowBits)" }
        return value
    }
}

/// RFC 7692 permessage-deflate: parsing `Sec-WebSocket-Extensions` offers and choosing one.
public enum PerMessageDeflate {
    /// The extension's name (§7).
    public static let name = "permessage-deflate"

    /// One extension offered by the client: its name and parameters, in order (§9.1 of RFC 6455).
    public struct Offer: Equatable, Sendable {
        /// The extension token, lowercased.
        public var name: String
        /// The parameters, names lowercased, values unquoted (`nil`: no value).
        public var parameters: [(name: String, value: String?)]

        public static func == (lhs: Offer, rhs: Offer) -> Bool {
            lhs.name == rhs.name && lhs.parameters.elementsEqual(rhs.parameters) { $0.name == $1.name && $0.value == $1.value }
        }
    }

    /// Why a permessage-deflate offer was declined (the next one is tried).
    public enum Refusal: Error, Equatable, Sendable {
        /// A parameter RFC 7692 does not define.
        case unknownParameter(String)
        /// The same parameter twice.
        case duplicateParameter(String)
        /// A value where none is allowed, none where one is required, or out of 8...15.
        case invalidValue(String)
    }

    /// Parses the `Sec-WebSocket-Extensions` header values into offers, in order. A malformed
    /// element (empty name, bad token, unterminated quote) is skipped, not fatal: the client
    /// then simply gets no extension for it.
    ///
    /// - Complexity: O(n) in the header bytes.
    public static func parseOffers(_ values: [String]) -> [Offer] {
        var offers: [Offer] = []
        for value in values {
            for element in splitOutsideQuotes(Array(value.utf8), separator: UInt8(ascii: ",")) {
                let parts = splitOutsideQuotes(element, separator: UInt8(ascii: ";"))
                guard let first = parts.first, let name = token(first) else { continue }
                var parameters: [(name: String, value: String?)] = []
                var isValid = true
                for part in parts.dropFirst() {
                    guard let parameter = parameter(part) else { isValid = false; break }
                    parameters.append(parameter)
                }
                if isValid { offers.append(Offer(name: name.lowercased(), parameters: parameters)) }
            }
        }
        return offers
    }

    /// Checks one permessage-deflate offer.
    ///
    /// - Returns: what the server agrees to for it.
    /// - Throws: `Refusal` when the offer cannot be accepted as it is.
    public static func accept(_ offer: Offer) throws(Refusal) -> DeflateAgreement {
        var seen: Set<String> = []
        var agreement = DeflateAgreement()
        for (name, value) in offer.parameters {
            guard seen.insert(name).inserted else { throw .duplicateParameter(name) }
            switch name {
            case "server_no_context_takeover", "client_no_context_takeover":
                guard value == nil else { throw .invalidValue(name) }
            case "server_max_window_bits":
                guard let value, let bits = windowBits(value) else { throw .invalidValue(name) }
                agreement.serverMaxWindowBits = bits
            case "client_max_window_bits":
                // Our inflater always has a 15-bit window, so any client window is fine.
                if let value, windowBits(value) == nil { throw .invalidValue(name) }
            default:
                throw .unknownParameter(name)
            }
        }
        return agreement
    }

    /// Chooses the first acceptable permessage-deflate offer among the header values.
    ///
    /// - Returns: the agreement, or `nil` when nothing acceptable was offered (the upgrade
    ///   then goes on without the extension).
    public static func negotiate(_ values: [String]) -> DeflateAgreement? {
        for offer in parseOffers(values) where offer.name == name {
            if let agreement = try? accept(offer) { return agreement }
        }
        return nil
    }

    /// 8...15 written without leading zeros (RFC 7692 §7.1.2.1).
    private static func windowBits(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 2, text.first != "0", text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let bits = Int(text), (8...15).contains(bits)
        else { return nil }
        return bits
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x21, 0x23...0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x30...0x39, 0x41...0x5A, 0x5E...0x7A, 0x7C, 0x7E: return true
        default: return false
        }
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var bytes = bytes
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes.removeFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        return bytes
    }

    private static func token(_ bytes: ArraySlice<UInt8>) -> String? {
        let bytes = trimmed(bytes)
        guard !bytes.isEmpty, bytes.allSatisfy(isTokenByte) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `name` or `name=token` or `name="quoted"`.
    private static func parameter(_ bytes: ArraySlice<UInt8>) -> (name: String, value: String?)? {
        let bytes = trimmed(bytes)
        guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else {
            return token(bytes).map { ($0.lowercased(), nil) }
        }
        guard let name = token(bytes[..<equals]) else { return nil }
        var value = trimmed(bytes[(equals + 1)...])
        if value.first == UInt8(ascii: "\"") {
            guard value.count >= 2, value.last == UInt8(ascii: "\"") else { return nil }
            value = value.dropFirst().dropLast()
            var unquoted: [UInt8] = []
            var isEscaped = false
            for byte in value {
                if isEscaped || byte != UInt8(ascii: "\\") { unquoted.append(byte); isEscaped = false } else { isEscaped = true }
            }
            guard !isEscaped, let text = token(unquoted[...]) else { return nil }
            return (name.lowercased(), text)
        }
        guard let text = token(value) else { return nil }
        return (name.lowercased(), text)
    }

    /// Splits at `separator` outside double quotes; an unterminated quote keeps the rest in one piece.
    private static func splitOutsideQuotes(_ bytes: some Collection<UInt8>, separator: UInt8) -> [ArraySlice<UInt8>] {
        let bytes = Array(bytes)
        var pieces: [ArraySlice<UInt8>] = []
        var start = 0
        var isQuoted = false
        var isEscaped = false
        for (index, byte) in bytes.enumerated() {
            if isEscaped { isEscaped = false; continue }
            if isQuoted && byte == UInt8(ascii: "\\") { isEscaped = true; continue }
            if byte == UInt8(ascii: "\"") { isQuoted.toggle(); continue }
            if byte == separator && !isQuoted {
                pieces.append(bytes[start..<index])
                start = index + 1
            }
        }
        pieces.append(bytes[start...])
        return pieces.filter { !trimmed($0).isEmpty || separator == UInt8(ascii: ";") }
    }
}
