import Foundation
import GRDB
public import OTPCore

extension OTPStore {
    /// At most this many unconfirmed enrolments per user at once.
    public static let maxPendingEnrollments = 5


    /// Starts an enrolment: stores the new secret (sealed) until it is confirmed with
    /// a first code or expires at `now + ttl`. One begun while the user has no token
    /// (no current code could be asked for) is marked so, and can only be confirmed
    /// while the user still has none.
    public func beginEnrollment(
        user: String, name: String, parameters: OTPParameters, secret: [UInt8], initialCounter: UInt64 = 0,
        now: Int64, ttl: Int64, audit: AuditEvent? = nil
    ) throws(StoreError) -> PendingEnrollment {
        try Self.validateUser(user)
        try Self.validateTokenName(name)
        guard ttl > 0 else { throw StoreError(.invalidInput, "an enrolment must expire after a positive time") }
        guard initialCounter <= UInt64(Int64.max) else {
            throw StoreError(.invalidInput, "the initial counter is beyond what the store keeps")
        }
        let id = try StoreIdentifier.random(length: 26)
        return try write { db in
            let uid = try Self.ensureUser(db, user, now: now)
            try EnrollmentRecord.filter(EnrollmentRecord.Columns.expiresAt <= now - expiredEnrollmentGrace).deleteAll(db)
            guard try EnrollmentRecord.filter(EnrollmentRecord.Columns.userID == uid && EnrollmentRecord.Columns.expiresAt > now)
                .fetchCount(db) < Self.maxPendingEnrollments
            else {
                throw StoreError(
                    .conflict,
                    "user \(user) already has \(Self.maxPendingEnrollments) unconfirmed enrolments; confirm or cancel one first")
            }
            if try TokenRecord.filter(TokenRecord.Columns.userID == uid && TokenRecord.Columns.name == name).fetchCount(db) > 0 {
                throw StoreError(.conflict, "user \(user) already has a token named '\(name)'")
            }
            let codeless = try TokenRecord.filter(TokenRecord.Columns.userID == uid).fetchCount(db) == 0
            // Sealed inside the transaction, so a concurrent rekey cannot leave it
            // under the old key.
            let sealed = try self.currentKeyring().seal(secret, for: SecretBinding.enrollment(id, user: user))
            let record = EnrollmentRecord(
                id: id, userID: uid, name: name, kind: parameters.kind.rawValue,
                algorithm: parameters.algorithm.rawValue, digits: parameters.digits, period: parameters.period,
                initialCounter: Int64(initialCounter), secret: Data(sealed), createdAt: now, expiresAt: now + ttl,
                codeless: codeless)
            try record.insert(db)
            try Self.insertAudit(db, audit)
            return PendingEnrollment(
                id: id, user: user, name: name, parameters: parameters, secret: secret,
                initialCounter: initialCounter, createdAt: now, expiresAt: now + ttl, begunWithoutCode: codeless)
        }
    }

    /// A pending enrolment of `user`, with its secret, to check the first code against.
    public func pendingEnrollment(id: String, user: String, now: Int64) throws(StoreError) -> PendingEnrollment {
        let record = try read { db in try Self.fetchEnrollment(db, id: id, user: user, now: now) }
        return try pending(record, user: user)
    }

    func pending(_ r: EnrollmentRecord, user: String) throws(StoreError) -> PendingEnrollment {
        let secret = try currentKeyring().open(Array(r.secret), for: SecretBinding.enrollment(r.id, user: user))
        guard let kind = OTPKind(rawValue: r.kind), let algorithm = OTPAlgorithm(rawValue: r.algorithm),
            let parameters = try? OTPParameters(kind: kind, algorithm: algorithm, digits: r.digits, period: r.period)
        else { throw StoreError(.database, "enrolment \(r.id) has parameters this version does not know") }
        return PendingEnrollment(
            id: r.id, user: user, name: r.name, parameters: parameters, secret: secret,
            initialCounter: UInt64(r.initialCounter), createdAt: r.createdAt, expiresAt: r.expiresAt,
            begunWithoutCode: r.codeless)
    }

    /// The unexpired enrolments of `user`, oldest first, without ids or secrets.
    public func pendingEnrollments(user: String, now: Int64) throws(StoreError) -> [PendingEnrollmentInfo] {
        try read { db in
            guard let uid = try Self.userID(db, user) else { return [] }
            return try EnrollmentRecord
                .filter(EnrollmentRecord.Columns.userID == uid && EnrollmentRecord.Columns.expiresAt > now)
                .order(Column("created_at"), Column("rowid"))
                .fetchAll(db)
                .map { r in
                    PendingEnrollmentInfo(
                        name: r.name, kind: OTPKind(rawValue: r.kind) ?? .totp, createdAt: r.createdAt,
                        expiresAt: r.expiresAt, begunWithoutCode: r.codeless)
                }
        }
    }

    static func fetchEnrollment(_ db: Database, id: String, user: String, now: Int64) throws -> EnrollmentRecord {
        guard let uid = try userID(db, user),
            let r = try EnrollmentRecord.filter(EnrollmentRecord.Columns.id == id && EnrollmentRecord.Columns.userID == uid)
                .fetchOne(db)
        else { throw StoreError(.notFound, "user \(user) has no enrolment \(id)") }
        guard r.expiresAt > now else { throw StoreError(.expired, "enrolment \(id) of \(user) has expired; begin again") }
        return r
    }

    /// Turns a pending enrolment into a token, in one transaction. The code that
    /// confirmed it matched `counter`, which becomes the token's watermark (so that
    /// code cannot be used again to log in). `recoveryCodes` are stored only when
    /// the user has no unused ones; the result says whether they were. `audit`
    /// builds the audit event from the outcome; it commits with the change. An
    /// enrolment begun without a code, for a user who has a token by now, is removed
    /// instead and the call throws `conflict`.
    public func confirmEnrollment(
        id: String, user: String, counter: UInt64, drift: Int, recoveryCodes: RecoveryCodeBatch?, now: Int64,
        audit: (@Sendable (TokenInfo, Bool) -> AuditEvent)? = nil
    ) throws(StoreError) -> (token: TokenInfo, storedRecoveryCodes: Bool) {
        guard counter <= UInt64(Int64.max) else {
            throw StoreError(.invalidInput, "counter \(counter) is beyond what the store keeps")
        }
        let tokenID = try StoreIdentifier.random(length: 16)
        let outcome = try write { db -> (token: TokenInfo, storedRecoveryCodes: Bool)? in
            let e = try Self.fetchEnrollment(db, id: id, user: user, now: now)
            if e.codeless, try TokenRecord.filter(TokenRecord.Columns.userID == e.userID).fetchCount(db) > 0 {
                try e.delete(db)
                return nil
            }
            let ring = self.currentKeyring()
            let secret = try ring.open(Array(e.secret), for: SecretBinding.enrollment(e.id, user: user))
            defer { secret.wipeSharedStorage() }
            let sealed = try ring.seal(secret, for: SecretBinding.token(tokenID, user: user))
            let token = TokenRecord(
                id: tokenID, userID: e.userID, name: e.name, kind: e.kind, algorithm: e.algorithm,
                digits: e.digits, period: e.period, initialCounter: e.initialCounter, secret: Data(sealed),
                watermark: Int64(counter), drift: drift, createdAt: now, lastUsedAt: now)
            try token.insert(db)
            try e.delete(db)
            var stored = false
            if let batch = recoveryCodes, try Self.unusedRecoveryCodes(db, userID: e.userID) == 0 {
                try Self.insert(batch, userID: e.userID, user: user, db: db, now: now)
                stored = true
            }
            let info = try Self.info(token, user: user)
            try Self.insertAudit(db, audit?(info, stored))
            return (info, stored)
        }
        guard let outcome else { throw StoreError(.conflict, StoreError.outrankedMessage(user: user)) }
        return outcome
    }

    /// Cancels a pending enrolment. Returns false when there was none.
    @discardableResult
    public func cancelEnrollment(id: String, user: String, audit: AuditEvent? = nil) throws(StoreError) -> Bool {
        try write { db in
            guard let uid = try Self.userID(db, user),
                try EnrollmentRecord.filter(EnrollmentRecord.Columns.id == id && EnrollmentRecord.Columns.userID == uid)
                    .deleteAll(db) == 1
            else { return false }
            try Self.insertAudit(db, audit)
            return true
        }
    }

    /// Deletes every enrolment that expired more than `grace` seconds before `now`;
    /// returns how many.
    @discardableResult
    public func purgeExpiredEnrollments(now: Int64, grace: Int64 = expiredEnrollmentGrace) throws(StoreError) -> Int {
        try write { db in try EnrollmentRecord.filter(EnrollmentRecord.Columns.expiresAt <= now - grace).deleteAll(db) }
    }
}
