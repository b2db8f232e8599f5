import GRDB

extension OTPStore {
    /// The tokens and recovery-code count of `user`, in one read transaction: what a
    /// verify needs before it can decide, for the price of one snapshot instead of
    /// two. Whether the attempt may be evaluated is `reserveAttempt`'s to say.
    public func verificationContext(user: String, rhost: String? = nil, now: Int64) throws(StoreError) -> VerificationContext {
        let (rows, remaining) = try read { db -> ([TokenRecord], Int) in
            guard let uid = try Self.userID(db, user) else { return ([], 0) }
            return (try Self.tokenRecords(db, userID: uid), try Self.unusedRecoveryCodes(db, userID: uid))
        }
        return VerificationContext(tokens: try unseal(rows, user: user), recoveryRemaining: remaining)
    }
}
