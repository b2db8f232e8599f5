public import NIOCore
import OTPCore

extension ByteBuffer {
    /// Zeroes the first `count` readable bytes (all of them by default) in the
    /// storage this buffer shares with its copies. A mutating write such as
    /// `setRepeatingByte` would not do: while another copy holds the storage (NIO's
    /// own, a captured one, the frame a line came in) it copies first and zeroes the
    /// copy, leaving the bytes where they were.
    public func wipeInPlace(count: Int? = nil) {
        withUnsafeReadableBytes { bytes in
            let n = Swift.min(count ?? bytes.count, bytes.count)
            SecretBytes.wipe(UnsafeMutableRawBufferPointer(mutating: UnsafeRawBufferPointer(rebasing: bytes.prefix(n))))
        }
    }
}
