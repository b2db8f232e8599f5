import GRDB

extension OTPStore {
    /// The tokens, limiter state and recovery-code count of `user`, in one read
    /// transaction: what a verify needs before it can decide, for the price of one
    /// snapshot instead of three.
    public func verificationContext(user: String, rhost: String? = nil, now: Int64) throws(StoreError) -> VerificationContext {
        let (rows, limit, remaining) = try read { db -> ([TokenRecord], LimitState, Int) in
            guard let uid = try Self.userID(db, user) else { return ([], .open, 0) }
            return (
                try Self.tokenRecords(db, userID: uid),
                try self.limitState(db, userID: uid, rhost: rhost, now: now),
                try Self.unusedRecoveryCodes(db, userID: uid)
            )
        }
        return VerificationContext(tokens: try unseal(rows, user: user), limit: limit, recoveryRemaining: remaining)
    }
}
