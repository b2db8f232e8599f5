internal import Glibc
public import NIOSSL
import OTPGateStoreContract

/// What one end of the relay link needs: its own certificate chain and private key, and
/// the CA certificates it trusts for the other end. Loaded once at start (and again at
/// reload); every refusal names the file and the fix.
public struct TLSMaterial: @unchecked Sendable {
    // NIOSSLCertificate and NIOSSLPrivateKey are immutable once built (NIOSSL says so
    // for the certificate; the key is never mutated after loading either).
    /// The leaf first, then any intermediates, as the PEM file lists them.
    public let chain: [NIOSSLCertificate]
    public let privateKey: NIOSSLPrivateKey
    /// The CA certificates a peer's chain must end in.
    public let trustRoots: [NIOSSLCertificate]

    /// The largest certificate or CA file read (a bundle of a few hundred CAs fits).
    public static let maxPEMBytes = 1 << 20
    /// The largest private key file read (an RSA-8192 key in PEM is about 6.5 KB).
    public static let maxKeyBytes = 64 << 10

    public init(chain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey, trustRoots: [NIOSSLCertificate]) {
        self.chain = chain
        self.privateKey = privateKey
        self.trustRoots = trustRoots
    }

    /// Loads `certificate` (PEM chain, leaf first), `key` (PEM private key, unencrypted,
    /// with the master key's checks: a regular file, no symlink, owned by `owner` — the
    /// daemon's uid — or root, no access for group or others) and `ca` (PEM, one or more
    /// certificates). Checks that the key belongs to the leaf certificate.
    public static func load(
        certificate: String, key: String, ca: String, owner: UInt32? = nil
    ) throws(TLSError) -> TLSMaterial {
        let chain = try certificates(at: certificate, what: "TLS certificate")
        let trustRoots = try certificates(at: ca, what: "TLS CA file")
        let privateKey = try self.privateKey(at: key, owner: owner)
        let material = TLSMaterial(chain: chain, privateKey: privateKey, trustRoots: trustRoots)
        // BoringSSL checks that the key is the leaf's when a context is built with both.
        do { _ = try NIOSSLContext(configuration: TLSConfigurations.server(material)) } catch {
            throw TLSError(
                "TLS private key \(key) does not belong to the certificate \(certificate) (\(error)); install the key the certificate was issued for")
        }
        return material
    }

    /// The PEM certificates in `path` (at least one), for a certificate chain or a CA file.
    public static func certificates(at path: String, what: String) throws(TLSError) -> [NIOSSLCertificate] {
        let bytes = try readPublicFile(path, what: what)
        let certificates: [NIOSSLCertificate]
        do { certificates = try NIOSSLCertificate.fromPEMBytes(bytes) } catch {
            throw TLSError("\(what) \(path) is not PEM certificates: \(error)")
        }
        guard !certificates.isEmpty else {
            throw TLSError("\(what) \(path) holds no certificate (expected '-----BEGIN CERTIFICATE-----')")
        }
        return certificates
    }

    /// The private key in `path`, read with the master key's checks (KeyFile) and
    /// wiped from this process's copy once parsed.
    public static func privateKey(at path: String, owner: UInt32? = nil) throws(TLSError) -> NIOSSLPrivateKey {
        var bytes: [UInt8]
        do {
            bytes = try KeyFile.readProtected(
                path: path, what: "TLS private key", owner: owner ?? geteuid(), maxLength: maxKeyBytes,
                missing: "install the host's key there (mode 0600, owned by the daemon's user or root)", rootMayOwn: true)
        } catch {
            throw TLSError(error.message)
        }
        defer { bytes.withUnsafeMutableBytes { wipe($0) } }
        do { return try NIOSSLPrivateKey(bytes: bytes, format: .pem) } catch {
            throw TLSError("TLS private key \(path) is not an unencrypted PEM private key")
        }
    }

    /// A certificate file: anyone may read it, but it must be a regular file of a
    /// bounded size.
    static func readPublicFile(_ path: String, what: String) throws(TLSError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw TLSError("\(what) \(path) cannot be opened: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw TLSError("\(what) \(path) is not a regular file")
        }
        guard st.st_size <= off_t(maxPEMBytes) else {
            throw TLSError("\(what) \(path) has \(st.st_size) bytes, more than \(maxPEMBytes)")
        }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw TLSError("\(what) \(path) could not be read in full") }
        return bytes
    }

    static func wipe(_ bytes: UnsafeMutableRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        // explicit_bzero: the compiler may not drop it as a dead store.
        explicit_bzero(base, bytes.count)
    }
}
