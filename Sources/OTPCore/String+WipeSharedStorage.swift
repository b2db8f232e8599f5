extension String {
    /// Zeroes, in place, the UTF-8 storage of a string parsed from a request (a code,
    /// an imported secret), shared by every copy of it, once nothing reads it again.
    /// Strings of up to 15 bytes live inside the value itself, not in the heap, and
    /// are left alone. Only for strings made at run time from input: a literal's
    /// bytes are in read-only memory, and wiping one would crash the process.
    public func wipeSharedStorage() {
        guard utf8.count > 15 else { return }
        _ = utf8.withContiguousStorageIfAvailable { buffer in
            SecretBytes.wipe(UnsafeMutableRawBufferPointer(mutating: UnsafeRawBufferPointer(buffer)))
        }
    }
}
