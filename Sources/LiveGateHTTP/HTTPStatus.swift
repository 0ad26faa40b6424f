/// The HTTP status codes livegate sends (RFC 9110 §15).
public struct HTTPStatus: Equatable, Sendable {
    /// The numeric code.
    public let code: Int
    /// The reason phrase.
    public let phrase: String

    /// Creates a status.
    public init(code: Int, phrase: String) {
        self.code = code
        self.phrase = phrase
    }

    public static let switchingProtocols = HTTPStatus(code: 101, phrase: "Switching Protocols")
    public static let ok = HTTPStatus(code: 200, phrase: "OK")
    public static let accepted = HTTPStatus(code: 202, phrase: "Accepted")
    public static let noContent = HTTPStatus(code: 204, phrase: "No Content")
    public static let badRequest = HTTPStatus(code: 400, phrase: "Bad Request")
    public static let unauthorized = HTTPStatus(code: 401, phrase: "Unauthorized")
    public static let forbidden = HTTPStatus(code: 403, phrase: "Forbidden")
    public static let notFound = HTTPStatus(code: 404, phrase: "Not Found")
    public static let methodNotAllowed = HTTPStatus(code: 405, phrase: "Method Not Allowed")
    public static let requestTimeout = HTTPStatus(code: 408, phrase: "Request Timeout")
    public static let lengthRequired = HTTPStatus(code: 411, phrase: "Length Required")
    public static let contentTooLarge = HTTPStatus(code: 413, phrase: "Content Too Large")
    public static let upgradeRequired = HTTPStatus(code: 426, phrase: "Upgrade Required")
    public static let tooManyRequests = HTTPStatus(code: 429, phrase: "Too Many Requests")
    public static let requestHeaderFieldsTooLarge = HTTPStatus(code: 431, phrase: "Request Header Fields Too Large")
    public static let internalServerError = HTTPStatus(code: 500, phrase: "Internal Server Error")
    public static let serviceUnavailable = HTTPStatus(code: 503, phrase: "Service Unavailable")
    public static let gatewayTimeout = HTTPStatus(code: 504, phrase: "Gateway Timeout")
    public static let httpVersionNotSupported = HTTPStatus(code: 505, phrase: "HTTP Version Not Supported")
}
