/// A refused client message: a stable `code`, a sentence, and the offending field
/// (an `error` message on the socket, the body of a 4xx/5xx answer over HTTP).
struct ProtocolError: Error, Hashable, Sendable {
    /// The error codes of Protocol/README.md; the raw value is what goes on the wire.
    enum Code: String, Sendable, CaseIterable {
        /// A field is missing, of the wrong type, out of range or names something unknown.
        case badField
        /// Not a JSON object, not JSON at all, too deep, or not a text frame.
        case badMessage
        /// The stock core's inbox is full; retry.
        case busy
        /// The sender's role may not send this message.
        case forbidden
        /// Something inside the gateway failed.
        case `internal`
        /// Too many messages of this kind (danmaku).
        case rateLimited
        /// No token, or a token that does not verify (HTTP only).
        case unauthorized
        /// The stock core is not accepting commands.
        case unavailable
    }

    let code: Code
    let message: String
    let field: String?

    init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    static func badField(_ field: String, _ message: String) -> ProtocolError {
        ProtocolError(.badField, message, field: field)
    }
}
