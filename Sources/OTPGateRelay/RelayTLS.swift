public import NIOSSL
public import OTPGateConfig

/// The relay's TLS client context: TLS 1.3 only, this host's certificate and key, the
/// tier's certificate checked against the fleet CA and the endpoint's name.
public enum RelayTLS {
    public static func clientContext(_ settings: RelaySettings) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        configuration.certificateVerification = .fullVerification
        configuration.trustRoots = .file(settings.caFile)
        configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(settings.certificateFile).map { .certificate($0) }
        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: settings.keyFile, format: .pem))
        return try NIOSSLContext(configuration: configuration)
    }
}
