/// The header fields of a request or response, in arrival order; names compare
/// case-insensitively (RFC 9110 §5.1).
public struct HTTPHeaders: Sendable, Sequence {
    /// The fields, in order, as received (names keep their original case).
    public private(set) var fields: [(name: String, value: String)] = []

    /// Creates an empty header list, or one with the given fields.
    public init(_ fields: [(name: String, value: String)] = []) {
        self.fields = fields
    }

    /// Appends a field.
    public mutating func add(name: String, value: String) {
        fields.append((name, value))
    }

    /// The value of the first field named `name`, if any.
    ///
    /// - Complexity: O(n) in the number of fields.
    public func first(_ name: String) -> String? {
        fields.first(where: { $0.name.caseInsensitiveEquals(name) })?.value
    }

    /// Every value of the fields named `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveEquals(name) }.map(\.value)
    }

    /// The comma-separated list elements of every field named `name` (RFC 9110 §5.6.1),
    /// trimmed and lowercased, empty elements skipped: `Connection: keep-alive, Upgrade`
    /// gives `["keep-alive", "upgrade"]`.
    public func tokens(_ name: String) -> [String] {
        values(name).flatMap { value in
            value.split(separator: ",").compactMap { element -> String? in
                let trimmed = element.trimmingOWS()
                return trimmed.isEmpty ? nil : trimmed.lowercased()
            }
        }
    }

    /// Whether the list field `name` contains `token` (case-insensitive).
    public func contains(_ name: String, token: String) -> Bool {
        tokens(name).contains(token.lowercased())
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }
}

extension String {
    /// ASCII case-insensitive comparison, enough for header names and tokens.
    func caseInsensitiveEquals(_ other: String) -> Bool {
        let a = self.utf8, b = other.utf8
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) where x != y {
            let lx = (x >= 65 && x <= 90) ? x + 32 : x
            let ly = (y >= 65 && y <= 90) ? y + 32 : y
            if lx != ly { return false }
        }
        return true
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces and tabs (HTTP's optional whitespace).
    func trimmingOWS() -> String {
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
