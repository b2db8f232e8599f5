extension Array where Element == UInt8 {
    /// Zeroes, in place, the storage this array shares with every copy of it (a
    /// decrypted secret handed through structs shares one buffer), for when an API
    /// that takes or returns `[UInt8]` held a secret and no holder reads it again.
    /// Holders that do read it afterwards see zeros (and so fail closed: a zero key
    /// matches no code). Unlike `withUnsafeMutableBytes`, it never copies first.
    public func wipeSharedStorage() {
        withUnsafeBufferPointer { buffer in
            SecretBytes.wipe(UnsafeMutableRawBufferPointer(mutating: UnsafeRawBufferPointer(buffer)))
        }
    }
}
