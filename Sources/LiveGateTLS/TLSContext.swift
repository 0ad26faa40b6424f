import COpenSSL
import Glibc
import LiveGateCore

/// Why TLS could not be set up or went wrong, with OpenSSL's own error text.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    /// What failed.
    public let message: String

    init(_ message: String) {
        self.message = message + TLSError.drainErrorStack()
    }

    public var description: String { message }

    /// OpenSSL's error queue as text (emptied).
    static func drainErrorStack() -> String {
        var text = ""
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            let bytes = buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
            text += "; " + String(decoding: bytes, as: UTF8.self)
        }
        return text
    }
}

/// A server TLS configuration (OpenSSL `SSL_CTX`): certificate chain and key from PEM files,
/// TLS 1.2 minimum, TLS 1.3 preferred, ALPN `http/1.1`, server cipher preference.
///
/// Immutable once made; shared by every loop. A reload makes a new context: connections
/// keep the one they started with (OpenSSL reference-counts it).
public final class TLSContext: @unchecked Sendable {
    // @unchecked: the SSL_CTX is fully configured in init and only read afterwards
    // (SSL_new is thread-safe on a context that is no longer changed).

    let context: OpaquePointer

    /// Loads the chain and key and checks that they match.
    ///
    /// - Throws: `TLSError` naming the file that could not be used.
    public init(certificateChainPath: String, privateKeyPath: String) throws {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSError("SSL_CTX_new failed") }
        self.context = context
        _ = livegate_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
        _ = SSL_CTX_set_options(context, livegate_server_options())
        _ = livegate_SSL_CTX_set_mode(context, livegate_server_modes())
        try useCertificate(in: context, chain: certificateChainPath, key: privateKeyPath, chainName: "certificate chain", keyName: "private key")
        SSL_CTX_set_alpn_select_cb(context, selectHTTP11, nil)
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// A new server-side session on `fd`.
    public func makeSession(fd: CInt) -> TLSSession? {
        ERR_clear_error()
        guard let ssl = SSL_new(context) else { return nil }
        guard SSL_set_fd(ssl, fd) == 1 else {
            SSL_free(ssl)
            return nil
        }
        SSL_set_accept_state(ssl)
        return TLSSession(ssl: ssl)
    }
}

/// ALPN: livegate speaks HTTP/1.1 (and WebSocket over it) only.
private let selectHTTP11: @convention(c) (
    OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
    UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?
) -> Int32 = { _, out, outLength, input, inputLength, _ in
    guard let input, let out, let outLength else { return SSL_TLSEXT_ERR_NOACK }
    var index = 0
    while index < Int(inputLength) {
        let length = Int(input[index])
        let start = index + 1
        if start + length > Int(inputLength) { break }
        if length == 8 && String(decoding: UnsafeBufferPointer(start: input + start, count: 8), as: UTF8.self) == "http/1.1" {
            out.pointee = input + start
            outLength.pointee = 8
            return SSL_TLSEXT_ERR_OK
        }
        index = start + length
    }
    return SSL_TLSEXT_ERR_NOACK
}

/// One TLS connection (OpenSSL `SSL`) over a non-blocking socket, server side (`TLSContext`) or
/// client side (`TLSClientContext`), as a small state machine: each call says whether it is done,
/// needs the socket readable or writable, or failed.
public final class TLSSession {
    /// The outcome of a TLS call on a non-blocking socket.
    public enum Outcome: Equatable {
        /// Done: for read/write, the byte count (0 from read: the peer sent close_notify).
        case done(Int)
        /// Call again when the socket is readable.
        case wantsRead
        /// Call again when the socket is writable.
        case wantsWrite
        /// The connection is broken (the reason is logged by the caller).
        case failed(String)
    }

    private let ssl: OpaquePointer
    /// Whether the handshake completed.
    public private(set) var isEstablished = false

    init(ssl: OpaquePointer) {
        self.ssl = ssl
    }

    deinit {
        SSL_free(ssl)
    }

    /// Advances the handshake.
    public func handshake() -> Outcome {
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            isEstablished = true
            return .done(0)
        }
        let outcome = outcome(of: result)
        // A close_notify before the handshake ended is a failed handshake, not a finished one.
        if case .done = outcome { return .failed("connection closed during the TLS handshake") }
        // A client that refused the server's certificate: say why (OpenSSL's queue only says
        // "certificate verify failed").
        if case .failed = outcome {
            let verdict = SSL_get_verify_result(ssl)
            if verdict != Int(X509_V_OK) {
                return .failed("certificate verify failed: " + String(cString: X509_verify_cert_error_string(verdict)))
            }
        }
        return outcome
    }

    /// Reads decrypted bytes.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Outcome {
        ERR_clear_error()
        let result = SSL_read(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        if result > 0 { return .done(Int(result)) }
        return outcome(of: result)
    }

    /// Whether decrypted bytes are buffered inside OpenSSL (read them before waiting).
    public var hasPendingBytes: Bool { SSL_pending(ssl) > 0 }

    /// Encrypts and writes bytes (possibly only some of them).
    public func write(_ buffer: UnsafeRawBufferPointer) -> Outcome {
        ERR_clear_error()
        let result = SSL_write(ssl, buffer.baseAddress, Int32(min(buffer.count, 1 << 30)))
        if result > 0 { return .done(Int(result)) }
        return outcome(of: result)
    }

    /// Sends close_notify (once; best effort on a non-blocking socket).
    public func shutdown() {
        guard isEstablished else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
    }

    private func outcome(of result: Int32) -> Outcome {
        let error = SSL_get_error(ssl, result)
        switch error {
        case SSL_ERROR_WANT_READ: return .wantsRead
        case SSL_ERROR_WANT_WRITE: return .wantsWrite
        case SSL_ERROR_ZERO_RETURN: return .done(0)
        case SSL_ERROR_SYSCALL:
            let code = errno
            let stack = TLSError.drainErrorStack()
            if !stack.isEmpty { return .failed("TLS I/O error" + stack) }
            return .failed(code != 0 ? "TLS I/O error: \(String(cString: strerror(code))) (errno \(code))" : "connection closed during TLS")
        case SSL_ERROR_SSL:
            let stack = TLSError.drainErrorStack()
            return .failed(stack.isEmpty ? "TLS protocol error" : String(stack.dropFirst(2)))
        default:
            return .failed("TLS error \(error)" + TLSError.drainErrorStack())
        }
    }
}

/// Loads a PEM certificate chain and its private key into `context` and checks that they belong
/// together (a server's, or a client's for mutual TLS); the error names the file.
func useCertificate(in context: OpaquePointer, chain: String, key: String, chainName: String, keyName: String) throws {
    guard SSL_CTX_use_certificate_chain_file(context, chain) == 1 else {
        throw TLSError("cannot use \(chainName) \(chain)")
    }
    guard SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1 else {
        throw TLSError("cannot use \(keyName) \(key)")
    }
    guard SSL_CTX_check_private_key(context) == 1 else {
        throw TLSError("\(keyName) \(key) does not match certificate \(chain)")
    }
}
