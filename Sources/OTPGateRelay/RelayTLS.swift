internal import Glibc
public import NIOSSL
public import OTPGateConfig
import OTPGateTLS

/// The relay's TLS client context, from OTPGateTLS: this host's certificate and key
/// (the key with the master key's file checks, owned by the daemon's user or root),
/// the tier's certificate checked against the fleet CA and the endpoint's name.
public enum RelayTLS {
    public static func clientContext(_ settings: RelaySettings) throws -> NIOSSLContext {
        let material = try TLSMaterial.load(
            certificate: settings.certificateFile, key: settings.keyFile, ca: settings.caFile, owner: geteuid())
        return try NIOSSLContext(configuration: TLSConfigurations.client(material))
    }

    /// The name SNI and the certificate check take for an endpoint's host; nil for an
    /// address, which NIOSSL checks against the certificate's IP addresses.
    static func serverHostname(for host: String) -> String? { TLSConfigurations.serverHostname(for: host) }
}
