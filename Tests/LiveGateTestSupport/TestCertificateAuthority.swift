import Foundation

/// A throwaway certificate authority made with the `openssl` command (`/usr/bin/openssl`) in a
/// temporary directory, and the certificates it issues: EC P-256 keys, valid two days. Removed
/// with the value.
public final class TestCertificateAuthority {
    public static let binary = "/usr/bin/openssl"
    let directory = TemporaryDirectory(prefix: "livegate-pki-")
    /// The CA's certificate (PEM): what a peer trusts.
    public var certificate: String { directory.path + "/ca.pem" }
    var key: String { directory.path + "/ca.key" }

    /// A certificate and its key, as PEM files.
    public struct Issued {
        public let certificate: String
        public let key: String
    }

    /// Makes the CA (self-signed, `CN=name`).
    public init(name: String = "livegate test CA") throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            throw RedisServer.SetupError(description: "no \(Self.binary): apt-get install -y openssl (.ci/run installs it)")
        }
        try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", key, "-out", certificate, "-days", "2", "-subj", "/CN=\(name)",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    }

    deinit { directory.remove() }

    /// Issues a certificate for `commonName`: a server's with `subjectAltName` (e.g.
    /// `IP:127.0.0.1`), or a client's (`clientAuth`).
    public func issue(_ commonName: String, subjectAltName: String? = nil, clientAuth: Bool = false) throws -> Issued {
        let base = directory.path + "/" + UUID().uuidString
        let issued = Issued(certificate: base + ".pem", key: base + ".key")
        try run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", issued.key, "-out", base + ".csr", "-subj", "/CN=\(commonName)"])
        var extensions = "extendedKeyUsage=\(clientAuth ? "clientAuth" : "serverAuth")\n"
        if let subjectAltName { extensions += "subjectAltName=\(subjectAltName)\n" }
        try Data(extensions.utf8).write(to: URL(fileURLWithPath: base + ".ext"))
        try run(["x509", "-req", "-in", base + ".csr", "-CA", certificate, "-CAkey", key, "-CAcreateserial",
                 "-out", issued.certificate, "-days", "2", "-extfile", base + ".ext"])
        return issued
    }

    private func run(_ arguments: [String]) throws {
        let (status, errors) = try ChildProcess.run(Self.binary, arguments, capture: .standardError, discardOther: true)
        guard status == 0 else {
            throw RedisServer.SetupError(description: "openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(String(decoding: errors, as: UTF8.self))")
        }
    }
}
