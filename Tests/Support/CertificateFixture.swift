import Foundation
import Glibc

/// A certificate file and its private key, as a test gives them to a TLS end.
package struct CertificatePair: Sendable, Hashable {
    package let certificate: String
    package let key: String
    /// The subject CN it was issued for.
    package let name: String
}

/// A throwaway PKI for the relay link's tests, made by `openssl` at test time (nothing
/// checked in, nothing that expires under the repository): a CA, a tier certificate
/// (CN `tier.test`, SAN IP:127.0.0.1 and DNS:localhost), relay certificates with the CN
/// asked for, an expired one, and one from another CA with a CN of the same form.
/// Keys are P-256, files mode 0600 in a directory of their own, removed on `remove()`.
package final class CertificateFixture: Sendable {
    package let directory: String
    /// The CA certificate both ends trust.
    package let ca: String
    /// The tier's certificate and key.
    package let server: CertificatePair
    private let otherCAKey: String
    private let otherCA: String
    private let caKey: String

    package init() throws {
        var template = Array("/tmp/otpgate-certs-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw FixtureError("mkdtemp: \(errnoText())") }
        directory = String(cString: made)
        ca = directory + "/ca.pem"
        caKey = directory + "/ca.key"
        otherCA = directory + "/other-ca.pem"
        otherCAKey = directory + "/other-ca.key"
        try Self.makeCA(certificate: ca, key: caKey, name: "otpgate test CA")
        try Self.makeCA(certificate: otherCA, key: otherCAKey, name: "otpgate other CA")
        server = try Self.issue(
            name: "tier.test", in: directory, file: "server", caCertificate: ca, caKey: caKey,
            extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    }

    /// `init` from an async test, on a thread of its own.
    package static func created() async throws -> CertificateFixture {
        try await onThread { try CertificateFixture() }
    }

    /// Another tier certificate from the CA, with `altNames` as its SAN
    /// ("DNS:localhost"), for name checks.
    package func serverCertificate(_ name: String, altNames: String) throws -> CertificatePair {
        try Self.issue(
            name: name, in: directory, file: "server-" + name, caCertificate: ca, caKey: caKey,
            extensions: "subjectAltName=\(altNames)\nextendedKeyUsage=serverAuth\n")
    }

    /// A relay (client) certificate for `name` from the CA.
    package func client(_ name: String) throws -> CertificatePair {
        try Self.issue(
            name: name, in: directory, file: "client-" + name, caCertificate: ca, caKey: caKey,
            extensions: "extendedKeyUsage=clientAuth\n")
    }

    /// A client certificate for `name` from another CA, which the tier does not trust.
    package func foreignClient(_ name: String) throws -> CertificatePair {
        try Self.issue(
            name: name, in: directory, file: "foreign-" + name, caCertificate: otherCA, caKey: otherCAKey,
            extensions: "extendedKeyUsage=clientAuth\n")
    }

    /// A tier certificate from another CA (SAN IP:127.0.0.1, DNS:localhost), usable at
    /// either end: a tier or a relay that the other side does not trust.
    package func foreignServer(_ name: String) throws -> CertificatePair {
        try Self.issue(
            name: name, in: directory, file: "foreign-server-" + name, caCertificate: otherCA, caKey: otherCAKey,
            extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n")
    }

    /// A client certificate for `name` from the CA that expired in 2020.
    package func expiredClient(_ name: String) throws -> CertificatePair {
        let key = directory + "/expired-\(name).key"
        let csr = directory + "/expired-\(name).csr"
        let certificate = directory + "/expired-\(name).pem"
        let db = directory + "/ca-db-\(name)"
        try FileManager.default.createDirectory(atPath: db, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: db + "/index.txt", contents: Data())
        try "01\n".write(toFile: db + "/serial", atomically: true, encoding: .utf8)
        let config = """
            [ca]
            default_ca = test
            [test]
            database = \(db)/index.txt
            serial = \(db)/serial
            new_certs_dir = \(db)
            default_md = sha256
            policy = any
            unique_subject = no
            copy_extensions = none
            [any]
            commonName = supplied
            [ext]
            extendedKeyUsage = clientAuth

            """
        try config.write(toFile: db + "/ca.cnf", atomically: true, encoding: .utf8)
        try Self.openssl(["req", "-new"] + Self.newKey + ["-keyout", key, "-subj", "/CN=\(name)", "-out", csr])
        try Self.openssl([
            "ca", "-batch", "-config", db + "/ca.cnf", "-cert", ca, "-keyfile", caKey, "-in", csr, "-out", certificate,
            "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", "-extensions", "ext", "-notext",
        ])
        chmod(key, 0o600)
        return CertificatePair(certificate: certificate, key: key, name: name)
    }

    /// The SHA-256 fingerprint of a certificate file, as openssl prints it
    /// (`AB:CD:…`), for deny lists.
    package func fingerprint(_ certificate: String) throws -> String {
        let out = try Self.openssl(["x509", "-in", certificate, "-noout", "-fingerprint", "-sha256"])
        guard let value = out.split(separator: "=").last else { throw FixtureError("openssl printed no fingerprint: \(out)") }
        return value.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    package func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `openssl req -x509 -newkey`: the key and the certificate in one run (each run
    /// of openssl costs about 15 ms of CPU, and the suites make hundreds of them).
    private static let newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

    private static func makeCA(certificate: String, key: String, name: String) throws {
        try openssl(
            ["req", "-x509"] + newKey + [
                "-keyout", key, "-subj", "/CN=\(name)", "-days", "30", "-out", certificate,
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        chmod(key, 0o600)
    }

    private static func issue(
        name: String, in directory: String, file: String, caCertificate: String, caKey: String, extensions: String
    ) throws -> CertificatePair {
        let key = "\(directory)/\(file).key"
        let certificate = "\(directory)/\(file).pem"
        // req -x509 with -CA signs with the CA's key (OpenSSL 3.0 and later); the serial
        // is random, as with x509 -req.
        let added = (extensions + "basicConstraints=CA:FALSE\n").split(separator: "\n").flatMap { ["-addext", String($0)] }
        try openssl(
            ["req", "-x509"] + newKey + [
                "-keyout", key, "-subj", "/CN=\(name)", "-CA", caCertificate, "-CAkey", caKey, "-days", "30",
                "-out", certificate,
            ] + added)
        chmod(key, 0o600)
        return CertificatePair(certificate: certificate, key: key, name: name)
    }

    @discardableResult
    private static func openssl(_ arguments: [String]) throws -> String {
        try Command.check("/usr/bin/openssl", arguments).stdout
    }
}
