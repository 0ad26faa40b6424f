import COpenSSL
import LiveGateCore

/// A client TLS configuration (OpenSSL `SSL_CTX`) for the connections livegate opens itself
/// (Redis over `rediss://`): the server's certificate is always verified (`SSL_VERIFY_PEER`),
/// against the CA file when one is given, else the system's trust store; TLS 1.2 minimum;
/// optionally a client certificate and key for servers that ask for one (mutual TLS, Redis's
/// `tls-auth-clients`).
///
/// Immutable once made; shared by every client and loop (OpenSSL reference-counts it).
public final class TLSClientContext: @unchecked Sendable {
    // @unchecked: the SSL_CTX is fully configured in init and only read afterwards
    // (SSL_new is thread-safe on a context that is no longer changed).

    let context: OpaquePointer

    /// Loads the trust anchors and the client certificate, if any, and checks that the key matches it.
    ///
    /// - Parameters:
    ///   - caFile: PEM file of the CA certificates to trust (`nil`: the system's default paths).
    ///   - certificateFile: PEM client certificate chain (mutual TLS); needs `keyFile`.
    ///   - keyFile: PEM private key of the client certificate; needs `certificateFile`.
    /// - Throws: `TLSError` naming the file that could not be used.
    public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) throws {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw TLSError("SSL_CTX_new failed") }
        self.context = context
        _ = livegate_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
        _ = livegate_SSL_CTX_set_mode(context, livegate_client_modes())
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        if let caFile {
            guard SSL_CTX_load_verify_file(context, caFile) == 1 else {
                throw TLSError("cannot load CA certificates from \(caFile)")
            }
        } else {
            guard SSL_CTX_set_default_verify_paths(context) == 1 else {
                throw TLSError("cannot load the system's CA certificates")
            }
        }
        switch (certificateFile, keyFile) {
        case (nil, nil):
            break
        case (let certificateFile?, let keyFile?):
            try useCertificate(in: context, chain: certificateFile, key: keyFile, chainName: "client certificate", keyName: "client key")
        default:
            throw TLSError("a client certificate and its key go together (certificate \(certificateFile ?? "missing"), key \(keyFile ?? "missing"))")
        }
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// A new client-side session on the connected socket `fd`, for the server `host`: its
    /// certificate must name `host` (a DNS name, checked with SNI sent; or an IP address, checked
    /// against the certificate's IP entries, no SNI).
    ///
    /// - Throws: `TLSError` when OpenSSL cannot make the session or take the name.
    public func makeSession(fd: CInt, host: String) throws -> TLSSession {
        ERR_clear_error()
        guard let ssl = SSL_new(context) else { throw TLSError("SSL_new failed") }
        let session = TLSSession(ssl: ssl)  // frees the SSL on every path below
        guard SSL_set_fd(ssl, fd) == 1 else { throw TLSError("SSL_set_fd failed") }
        if X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 {
            // An address: matched against the certificate's IP entries; SNI carries names only (RFC 6066).
        } else {
            ERR_clear_error()
            guard SSL_set1_host(ssl, host) == 1 else { throw TLSError("cannot check the certificate for '\(host)'") }
            guard livegate_SSL_set_tlsext_host_name(ssl, host) == 1 else { throw TLSError("cannot send SNI '\(host)'") }
        }
        SSL_set_connect_state(ssl)
        return session
    }
}
