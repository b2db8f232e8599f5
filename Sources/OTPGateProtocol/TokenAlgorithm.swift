/// `algorithm` on the wire: the HMAC hash, spelled as in otpauth:// URIs.
/// Exactly these spellings are accepted; the protocol has one name per thing.
public enum TokenAlgorithm: String, Sendable, Hashable, CaseIterable, Codable {
    case sha1 = "SHA1"
    case sha256 = "SHA256"
    case sha512 = "SHA512"
}
