extension String {
    /// Zeroes, in place, the UTF-8 storage of a string parsed from a request (a code,
    /// an imported secret), shared by every copy of it, once nothing reads it again.
    /// Strings of up to 15 bytes live inside the value itself, not in the heap, and
    /// are left alone, as are strings not stored natively (literals are read-only).
    public func wipeSharedStorage() {
        guard utf8.count > 15 else { return }
        _ = utf8.withContiguousStorageIfAvailable { buffer in
            SecretBytes.wipe(UnsafeMutableRawBufferPointer(mutating: UnsafeRawBufferPointer(buffer)))
        }
    }
}
