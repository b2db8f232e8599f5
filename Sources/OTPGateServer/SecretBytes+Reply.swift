public import OTPCore
public import OTPGateProtocol

/// `SecretBytes` as the protocol's writer sees it: a secret member's text, and the
/// memory a reply line is written into.
extension SecretBytes: SecretText, JSONOutput {
    public func withUTF8Bytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(body)
    }

    public func writeJSON(_ byte: UInt8) { append(byte) }
    public func writeJSON(_ bytes: UnsafeRawBufferPointer) { append(contentsOf: bytes) }
}
