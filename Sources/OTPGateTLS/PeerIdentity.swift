internal import COpenSSL
public import NIOSSL

/// Who a verified peer certificate names: the leaf's subject common name (the relay's
/// host name on the link) and the SHA-256 fingerprint of its DER encoding, for deny
/// lists and logs.
public struct PeerIdentity: Sendable, Hashable, CustomStringConvertible {
    /// The leaf's subject CN.
    public let name: String
    /// Lowercase hex SHA-256 of the DER certificate, 64 characters.
    public let fingerprint: String

    /// The longest name accepted (a DNS name's limit).
    public static let maxNameBytes = 253

    public init(name: String, fingerprint: String) {
        self.name = name
        self.fingerprint = fingerprint
    }

    /// Names `certificate`. Refuses a subject with no CN, more than one CN, or a CN that
    /// is not a host name (letters, digits, '.', '-', '_', 1-253 bytes): the name goes
    /// into audit rows and limiter keys, so it must be unambiguous and printable.
    public init(certificate: NIOSSLCertificate) throws(TLSError) {
        let names = certificate.subjectName.filter { $0.type == .commonName }.map(\.value)
        guard names.count == 1, let name = names.first else {
            throw TLSError("the certificate's subject has \(names.count) common names (CN), not exactly one")
        }
        guard Self.isHostName(name) else {
            throw TLSError("the certificate's common name is not a host name (letters, digits, '.', '-', '_', 1-\(Self.maxNameBytes) bytes)")
        }
        let der: [UInt8]
        do { der = try certificate.toDERBytes() } catch { throw TLSError("the certificate cannot be encoded: \(error)") }
        self.init(name: name, fingerprint: Self.sha256Hex(der))
    }

    public var description: String { "\(name) (sha256 \(fingerprint))" }

    public static func isHostName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...maxNameBytes).contains(bytes.count) else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x2E || b == 0x2D || b == 0x5F
        }
    }

    /// Lowercase hex SHA-256 of `bytes`.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBytes { input in
            digest.withUnsafeMutableBytes { out in
                EVP_Digest(input.baseAddress, input.count, out.baseAddress?.assumingMemoryBound(to: UInt8.self), &length, EVP_sha256(), nil)
            }
        }
        precondition(ok == 1 && length == 32, "SHA-256 failed")
        let hex = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(64)
        for byte in digest {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
