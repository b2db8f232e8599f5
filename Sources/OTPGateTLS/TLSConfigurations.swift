internal import Glibc
public import NIOSSL

/// The TLS settings of the relay link (docs/RELAY.md): TLS 1.3 only, both ends
/// authenticated by certificates from the configured CA.
public enum TLSConfigurations {
    /// The tier's listener: presents its chain, requires a client certificate that
    /// chains to the CA (no name check: a relay's name is read from its certificate
    /// afterwards, `PeerIdentity`).
    public static func server(_ material: TLSMaterial) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfigurationWithMTLS(
            certificateChain: material.chain.map { .certificate($0) }, privateKey: .privateKey(material.privateKey),
            trustRoots: .certificates(material.trustRoots))
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        configuration.certificateVerification = .noHostnameVerification
        configuration.renegotiationSupport = .none
        return configuration
    }

    /// A relay's connection to the tier: presents its chain and verifies the tier's
    /// certificate against the CA only (not the system's roots) and the endpoint's name
    /// (`serverHostname` of NIOSSLClientHandler; NIOSSL also accepts an IP SAN equal to
    /// the address connected to, whatever the name).
    public static func client(_ material: TLSMaterial) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        configuration.certificateVerification = .fullVerification
        configuration.trustRoots = .certificates(material.trustRoots)
        configuration.certificateChain = material.chain.map { .certificate($0) }
        configuration.privateKey = .privateKey(material.privateKey)
        configuration.renegotiationSupport = .none
        return configuration
    }

    /// The `serverHostname` to give `NIOSSLClientHandler` for an endpoint's host: nil
    /// for an IP literal (SNI cannot carry one; NIOSSL then checks the certificate's IP
    /// SAN against the address connected to), the name otherwise.
    public static func serverHostname(for host: String) -> String? {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1 { return nil }
        return host
    }
}
