import NIOSSL

/// Client TLS for etcd: the CA that signed the members' certificates, and optionally a
/// client certificate and key for clusters that require client authentication. Paths are
/// PEM files.
public struct EtcdTLS: Sendable, Hashable {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?

    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
    }

    /// Loads the files once, so a bad path fails at client creation and not per request.
    func makeContext() throws -> NIOSSLContext {
        guard (certFile == nil) == (keyFile == nil) else {
            throw EtcdError.tls("a client certificate needs its key and a key its certificate")
        }
        var config = TLSConfiguration.makeClientConfiguration()
        config.minimumTLSVersion = .tlsv12
        do {
            if let caFile {
                config.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            }
            if let certFile, let keyFile {
                config.certificateChain = try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) }
                config.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            }
            return try NIOSSLContext(configuration: config)
        } catch let error as EtcdError {
            throw error
        } catch {
            throw EtcdError.tls("loading CA \(caFile ?? "(system)"), certificate \(certFile ?? "-"), key \(keyFile ?? "-"): \(error)")
        }
    }
}
