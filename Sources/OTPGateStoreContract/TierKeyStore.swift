/// What a tier's shared store offers for the staged rekey across the tier
/// (docs/OPERATIONS.md, "Rekey"): which key the tier uses (and, while a rekey runs,
/// the one it replaces), which keys this node holds, and the rekey itself, which
/// refuses before changing anything while a node has not reported the new key.
public protocol TierKeyStore: AnyObject, Sendable {
    /// The tier's key check: its key id and, during a rekey, the previous key's.
    func tierKeyState() throws(StoreError) -> TierKeyState
    /// Seals new secrets under `ring.current`, opens them under any key of `ring`, and
    /// reports `holds` (the keys this node has on disk) to the tier.
    func hold(_ ring: Keyring, reporting holds: [KeyID]) throws(StoreError)
    /// Moves every shared secret to `newKey`; resumes a rekey to `newKey` that a crash
    /// interrupted, and returns at once if it is complete. Returns the secrets now
    /// under `newKey`.
    func rekey(to newKey: MasterKey, now: Int64) throws(StoreError) -> Int
}

/// The key ids of the tier's key check (8 hex digits each).
public struct TierKeyState: Sendable, Hashable {
    public let current: String
    /// Set only while a rekey runs (between its begin and its finish).
    public let previous: String?

    public init(current: String, previous: String?) {
        self.current = current
        self.previous = previous
    }
}
