/// Where `JSONWriter` puts the bytes it writes: an array, or (for a reply that
/// carries a secret) memory the daemon owns and wipes after the write.
public protocol JSONOutput {
    mutating func writeJSON(_ byte: UInt8)
    mutating func writeJSON(_ bytes: UnsafeRawBufferPointer)
}

extension Array: JSONOutput where Element == UInt8 {
    public mutating func writeJSON(_ byte: UInt8) { append(byte) }
    public mutating func writeJSON(_ bytes: UnsafeRawBufferPointer) { append(contentsOf: bytes) }
}
