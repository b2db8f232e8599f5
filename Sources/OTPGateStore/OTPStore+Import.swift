import Foundation
import GRDB
import OTPCore

extension OTPStore {
    /// Most tokens one user may bring in one import.
    public static let maxImportedTokens = 16

    /// Stores the tokens (and scratch codes) another tool kept for `user`, in one
    /// transaction with one audit event per token (`audit` builds it from the token's
    /// name; it must not hold a secret). A user who already has tokens is left alone
    /// under `.skip`; `.replace` removes their tokens, recovery and scratch codes and
    /// pending enrolments first; `.add` keeps them (a name clash is a conflict).
    ///
    /// With `dryRun` nothing is written: the same checks run in a read transaction
    /// and the outcome says what a real run would do.
    public func importTokens(
        user: String, tokens: [ImportedToken], scratchCodes: ScratchCodeBatch?, mode: ImportMode, dryRun: Bool,
        now: Int64, audit: (@Sendable (String) -> AuditEvent)? = nil
    ) throws(StoreError) -> ImportOutcome {
        try Self.validateUser(user)
        guard !tokens.isEmpty || (scratchCodes?.count ?? 0) > 0 else {
            throw StoreError(.invalidInput, "nothing to import for \(user)")
        }
        guard !tokens.isEmpty else {
            throw StoreError(.invalidInput, "scratch codes without a token cannot be imported (user \(user))")
        }
        if let scratchCodes, scratchCodes.user != user {
            throw StoreError(.invalidInput, "these scratch codes were hashed for another user")
        }
        guard tokens.count <= Self.maxImportedTokens else {
            throw StoreError(.invalidInput, "at most \(Self.maxImportedTokens) tokens per user in one import")
        }
        var names = Set<String>()
        for t in tokens {
            try Self.validateTokenName(t.name)
            guard names.insert(t.name).inserted else {
                throw StoreError(.invalidInput, "two imported tokens of \(user) are both named '\(t.name)'")
            }
            guard t.secret.count >= Self.minSecretBytes else {
                throw StoreError(
                    .invalidInput,
                    "the secret of token '\(t.name)' has \(t.secret.count * 8) bits; otpgate keeps secrets of at least \(Self.minSecretBytes * 8)")
            }
            guard t.initialCounter <= UInt64(Int64.max), (t.watermark ?? 0) <= UInt64(Int64.max) else {
                throw StoreError(.invalidInput, "the counter of token '\(t.name)' is beyond what the store keeps")
            }
            guard abs(t.skew) <= Self.maxSkew else {
                throw StoreError(.invalidInput, "the time skew of token '\(t.name)' is over \(Self.maxSkew) steps")
            }
            if let w = t.window, !(0...OTPVerifier.maxWindow).contains(w) {
                throw StoreError(.invalidInput, "the window of token '\(t.name)' must be 0 to \(OTPVerifier.maxWindow)")
            }
        }

        // The outcome, decided from what the user has now (same for the dry run).
        func decide(_ db: Database) throws -> (ImportOutcome, Int64?) {
            let uid = try Self.userID(db, user)
            let existing = try uid.map { try Self.tokenRecords(db, userID: $0) } ?? []
            if !existing.isEmpty && mode == .skip { return (.skipped(existing: existing.count), uid) }
            if mode == .add, let clash = existing.first(where: { names.contains($0.name) }) {
                throw StoreError(.conflict, "user \(user) already has a token named '\(clash.name)'")
            }
            let replaced = mode == .replace ? existing.count : 0
            return (.imported(tokens: tokens.map(\.name), replaced: replaced, scratchCodes: scratchCodes?.count ?? 0), uid)
        }

        if dryRun { return try read { db in try decide(db).0 } }

        var ids: [String] = []
        for _ in tokens { ids.append(try StoreIdentifier.random(length: 16)) }
        let tokenIDs = ids
        return try write { db in
            let (outcome, existingUID) = try decide(db)
            guard case .imported = outcome else { return outcome }
            let uid = try existingUID ?? Self.ensureUser(db, user, now: now)
            if mode == .replace {
                try TokenRecord.filter(TokenRecord.Columns.userID == uid).deleteAll(db)
                try RecoveryCodeRecord.filter(RecoveryCodeRecord.Columns.userID == uid).deleteAll(db)
                try EnrollmentRecord.filter(EnrollmentRecord.Columns.userID == uid).deleteAll(db)
                try Self.deleteScratchCodes(db, userID: uid)
            }
            // Sealed inside the transaction, so a concurrent rekey cannot leave them
            // under the old key.
            let ring = self.currentKeyring()
            for (t, id) in zip(tokens, tokenIDs) {
                let sealed = try ring.seal(t.secret, for: SecretBinding.token(id, user: user))
                let p = t.parameters
                try TokenRecord(
                    id: id, userID: uid, name: t.name, kind: p.kind.rawValue, algorithm: p.algorithm.rawValue,
                    digits: p.digits, period: p.period, initialCounter: Int64(t.initialCounter), secret: Data(sealed),
                    watermark: t.watermark.map { Int64($0) }, drift: t.skew, createdAt: now, lastUsedAt: nil,
                    skew: p.kind == .totp ? t.skew : 0, window: p.kind == .totp ? t.window : nil
                ).insert(db)
                try Self.insertAudit(db, audit?(t.name))
            }
            if let batch = scratchCodes {
                for hash in batch.hashes {
                    try db.execute(
                        sql: "INSERT INTO scratch_codes (user_id, kdf, salt, hash, created_at) VALUES (?, ?, ?, ?, ?)",
                        arguments: [uid, batch.kdf, Data(batch.salt), Data(hash), now])
                }
            }
            return outcome
        }
    }

    /// Secrets under 80 bits (google-authenticator's size) are refused: below that a
    /// few observed codes pin the key down. The sealed column's CHECK holds the same line.
    public static let minSecretBytes = 10
    /// A day of 1-second steps is past any clock a person would still call working.
    public static let maxSkew = 100_000

    static func validateTokenName(_ name: String) throws(StoreError) {
        guard !name.isEmpty, name.utf8.count <= 64,
            !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
        else { throw StoreError(.invalidInput, "a token name has 1 to 64 bytes and no control characters") }
    }

    static func deleteScratchCodes(_ db: Database, userID: Int64) throws {
        try db.cachedStatement(sql: "DELETE FROM scratch_codes WHERE user_id = ?").execute(arguments: [userID])
    }

    static func unusedScratchCodes(_ db: Database, userID: Int64) throws -> Int {
        try unusedCodes(db, in: .scratch, userID: userID)
    }

    /// How many unused imported scratch codes `user` has.
    public func scratchCodesRemaining(user: String) throws(StoreError) -> Int {
        try read { db in
            guard let uid = try Self.userID(db, user) else { return 0 }
            return try Self.unusedScratchCodes(db, userID: uid)
        }
    }

    /// Uses up one imported scratch code, if `input` (8 digits) is an unused one of
    /// `user`. As with recovery codes (`consumeRecoveryCode`): the hash is bound to the
    /// user, the slow hash runs outside the write, the use is a compare-and-set (of
    /// parallel uses exactly one wins), a success clears the failure counts and a miss
    /// is left to the caller to count. With a `reservation` the limiter has already
    /// admitted the attempt; without one, a rate-limited user's input is not evaluated.
    public func consumeScratchCode(
        user: String, input: String, rhost: String? = nil, now: Int64, audit: AuditEvent? = nil,
        reservation: AttemptReservation? = nil
    ) throws(StoreError) -> RecoveryResult {
        let normalized = input.contains(" ") ? nil : try? OneTimeCode.normalize(input, digits: ScratchCodeBatch.digits)
        return try consumeHashedCode(
            in: .scratch, normalized: normalized, equalise: false, user: user, rhost: rhost, now: now, audit: audit,
            reservation: reservation)
    }

    /// Moves a token to where a resync found its codes: the watermark forward to
    /// `watermark` (never back: a compare-and-set, `.replayed` when it would not move
    /// forward) and, for TOTP, the window's centre to `skew`. Clears the failure
    /// counts, like an accepted code; refused while the user is limited.
    public func resyncToken(
        user: String, tokenID: String, watermark: UInt64, skew: Int, drift: Int, now: Int64, audit: AuditEvent? = nil
    ) throws(StoreError) -> AcceptResult {
        guard watermark <= UInt64(Int64.max), abs(skew) <= Self.maxSkew else {
            throw StoreError(.invalidInput, "the resync result is beyond what the store keeps")
        }
        let (result, cleared) = try write { db -> (AcceptResult, (Int64, Int64)?) in
            guard let uid = try Self.userID(db, user) else { throw StoreError(.notFound, "user \(user) has no tokens") }
            let state = try self.storedLimitState(db, userID: uid, rhost: nil, now: now)
            guard state == .open else { return (.rateLimited(state), nil) }
            try db.execute(
                sql: """
                    UPDATE tokens SET watermark = ?, skew = ?, drift = ?, last_used_at = ?
                    WHERE id = ? AND user_id = ? AND (watermark IS NULL OR watermark < ?)
                    """,
                arguments: [Int64(watermark), skew, drift, now, tokenID, uid, Int64(watermark)])
            guard db.changesCount == 1 else {
                guard try TokenRecord.exists(db, key: tokenID) else {
                    throw StoreError(.notFound, "token \(tokenID) of \(user) does not exist")
                }
                return (.replayed, nil)
            }
            let sequence = try Self.clearFailures(db, userID: uid, store: self)
            try Self.insertAudit(db, audit)
            return (.accepted, (uid, sequence))
        }
        if let (uid, sequence) = cleared { limiter.cleared(userID: uid, sequence: sequence) }
        return result
    }
}
