public import Logging
public import OTPCore
public import OTPGateStoreContract
internal import NIOCore
internal import Glibc
internal import PostgresNIO
import Synchronization

/// The store contract on a PostgreSQL database shared by a verifier tier: every call
/// is one function of the schema (docs/POSTGRES.md) run through `PostgresPool`, whose
/// deadline closes the connection rather than cancel. The daemon seals and hashes;
/// the database never sees a plaintext secret or code.
///
/// The database's clock rules: the functions take their time from it (waits, expiry,
/// audit), and `verificationContext` hands it to the caller for the TOTP window. The
/// `now` arguments of the contract are ignored here.
///
/// Limits: the limiter policy is the tier's one row (`limiter_policy_read`), not this
/// node's `[limiter]`; admin functions run only when this node's role is a member of
/// `otpgate_admin` (otherwise a clear refusal); `rekey` across a tier is the staged
/// procedure of docs/POSTGRES.md, not one call; importing is an admin function too.
public final class PostgresStore: StoreContract, TierKeyStore {
    let pool: PostgresPool
    let logger: Logger
    let keyring: Mutex<Keyring>
    public let recoveryHasher: RecoveryCodeHasher
    public let limiterPolicy: LimiterPolicy
    /// A confirmation read by `pendingEnrollment` (the database reserves its attempt
    /// in that read), for the `reserveAttempt` and `confirmEnrollment` of the same
    /// request, by user.
    let confirmations = Mutex<[String: HeldConfirmation]>([:])

    /// Connects, checks the key against the database's key check (writing it on the
    /// first start of a tier), reports the key to the tier and reads the tier's limiter
    /// policy. A wrong key is `keyMismatch`: the node refuses to start.
    ///
    /// `next` is the key staged for a rekey across the tier (`master.key.next`): it is
    /// reported beside `key`, and opens secrets too. When the tier already uses it (a
    /// rekey began or finished), new secrets are sealed under it; the node's key file is
    /// swapped later (TierKeys).
    public init(
        pool: PostgresPool, key: MasterKey, next: MasterKey? = nil, keySource: String, recoveryHasher: RecoveryCodeHasher = .standard,
        logger: Logger
    ) throws(StoreError) {
        self.pool = pool
        self.logger = logger
        self.recoveryHasher = recoveryHasher
        try Self.checkSchema(pool, migrations: PostgresSchema.migrations)
        let check = try Self.run(pool, "key_check_read", [])
        let held = [key] + (next.map { [$0] } ?? [])
        var ring = Keyring(current: key, others: held)
        if let row = check.first {
            let keyID: String = try Self.decode(row, 0)
            let value: ByteBuffer = try Self.decode(row, 1)
            let previousID: String? = try Self.decode(row, 2)
            guard let tierKey = held.first(where: { $0.id.description == keyID }) else {
                let holds = next.map { "\(keySource) holds key \(key.id) and its .next key \($0.id)" } ?? "\(keySource) holds key \(key.id)"
                throw StoreError(.keyMismatch, "the database's key check names key \(keyID), but \(holds): install the tier's key (docs/OPERATIONS.md, Rekey)")
            }
            if let previousID, !held.contains(where: { $0.id.description == previousID }) {
                throw StoreError(
                    .keyMismatch,
                    "a rekey of the tier from key \(previousID) to \(keyID) is under way, but \(keySource) and its .next file do not hold key \(previousID): this node could not open the secrets not yet re-sealed; start it with both keys")
            }
            ring = Keyring(current: tierKey, others: held)
            let plain = try ring.open(Array(value.readableBytesView), for: .keyCheck)
            guard ConstantTime.equal(plain, SecretBinding.keyCheckPlaintext) else {
                throw StoreError(.keyMismatch, "the database's key check does not open with \(keySource)")
            }
        } else {
            let sealed = try Keyring(current: key).seal(SecretBinding.keyCheckPlaintext, for: .keyCheck)
            let made = try Self.run(pool, "key_check_init", [.bytea(sealed), .int64(Int64(Self.geteuidValue()))])
            let winner: String = try Self.decode(try Self.one(made, "key_check_init"), 0)
            guard winner == key.id.description else {
                throw StoreError(.keyMismatch, "another node wrote the database's key check first, with key \(winner), not \(key.id) from \(keySource)")
            }
        }
        do {
            _ = try pool.run("node_report_keys", binds: [.text(PostgresStoreStatements.textArray(held.map(\.id.description)))])
        } catch where error.code == .writesRefused {
            // The node starts and serves nothing that writes; health and doctor say why.
            logger.warning("the shared store refuses writes: every verify is answered unavailable", metadata: ["postgres.reason": "\(error.message)"])
        } catch {
            throw Self.storeError(error, pool: pool)
        }
        self.keyring = Mutex(ring)
        let policy = try Self.one(try Self.run(pool, "limiter_policy_read", []), "limiter_policy_read")
        limiterPolicy = LimiterPolicy(
            freePerHost: Int(try Self.decode(policy, 0) as Int32), freePerUser: Int(try Self.decode(policy, 1) as Int32),
            baseDelay: Int64(try Self.decode(policy, 2) as Int32), maxDelay: Int64(try Self.decode(policy, 3) as Int32),
            lockoutFailures: Int(try Self.decode(policy, 4) as Int32))
    }

    /// A node does not migrate (that takes the owner role: `otpgated --migrate-store`);
    /// it refuses a database that records a migration this build does not know (a newer
    /// otpgate migrated it) or lacks one it needs.
    static func checkSchema(_ pool: PostgresPool, migrations: [PostgresMigration]) throws(StoreError) {
        var names: [String] = []
        for row in try run(pool, "schema_versions", []) { names.append(try decode(row, 1)) }
        let known = Set(migrations.map(\.name))
        let unknown = names.filter { !known.contains($0) }
        guard unknown.isEmpty else {
            throw StoreError(
                .storeNewer,
                "the database has migrations this otpgated does not know (\(unknown.joined(separator: ", "))): a newer otpgate migrated it; upgrade this node")
        }
        let missing = migrations.map(\.name).filter { !names.contains($0) }
        guard missing.isEmpty else {
            throw StoreError(
                .database,
                "the database lacks migrations this otpgated needs (\(missing.joined(separator: ", "))): apply them with otpgated --migrate-store (docs/POSTGRES.md)")
        }
    }

    public var location: String { "postgresql \(pool.settings.endpoint.display)/\(pool.settings.database) as \(pool.settings.user)" }
    public var keyID: KeyID { currentKeyring().current.id }

    func currentKeyring() -> Keyring { keyring.withLock { $0 } }
    /// Not counted here: every call is its own commit, and PostgreSQL's WAL group flush
    /// does the batching (its own `pg_stat_wal` counts the flushes).
    public var writeStatistics: WriteStatistics { WriteStatistics(transactions: 0, writes: 0, largestBatch: 0) }

    // MARK: - Calls

    func run(_ name: String, _ binds: [PostgresValue]) throws(StoreError) -> [PostgresResultRow] {
        try Self.run(pool, name, binds)
    }

    static func run(_ pool: PostgresPool, _ name: String, _ binds: [PostgresValue]) throws(StoreError) -> [PostgresResultRow] {
        do {
            return try pool.run(name, binds: binds)
        } catch {
            throw storeError(error, pool: pool)
        }
    }

    /// The database's refusals keep their meaning (docs/POSTGRES.md, SQLSTATEs);
    /// anything about reaching it, or a write whose outcome was not heard, is
    /// `unavailable`: the request is answered "try later", never a verdict.
    static func storeError(_ error: PostgresStoreError, pool: PostgresPool) -> StoreError {
        switch (error.code, error.sqlState) {
        case (.statementFailed, "OG001"?): return StoreError(.invalidInput, error.message)
        case (.statementFailed, "OG002"?): return StoreError(.notFound, error.message)
        case (.statementFailed, "OG003"?): return StoreError(.conflict, error.message)
        case (.statementFailed, "OG004"?): return StoreError(.expired, error.message)
        case (.statementFailed, "OG005"?): return StoreError(.keyMismatch, error.message)
        case (.statementFailed, "42501"?):
            return StoreError(
                .conflict,
                "the database role \(pool.settings.user) may not run this: admin operations need a role in otpgate_admin (docs/POSTGRES.md)")
        case (.statementFailed, "OG006"?), (.statementFailed, "OG007"?), (.unexpectedResult, _), (.unknownStatement, _),
            (.wrongThread, _), (.invalidSettings, _), (.password, _):
            return StoreError(.database, error.message)
        default:
            return StoreError(.unavailable, error.message)
        }
    }

    static func one(_ rows: [PostgresResultRow], _ what: String) throws(StoreError) -> PostgresResultRow {
        guard let row = rows.first else { throw StoreError(.database, "\(what) returned no row") }
        return row
    }

    static func decode<T: PostgresDecodable>(_ row: PostgresResultRow, _ column: Int) throws(StoreError) -> T {
        do {
            return try row.decode(T.self, column: column)
        } catch {
            throw StoreError(.database, error.message)
        }
    }

    static func geteuidValue() -> UInt32 { geteuid() }

    // MARK: - Values

    static func text(_ s: String?) -> PostgresValue { s.map { .text($0) } ?? .null }
    static func int32(_ v: Int?) -> PostgresValue { v.map { .int32(Int32(clamping: $0)) } ?? .null }
    static func peer(_ audit: AuditEvent?) -> PostgresValue { audit?.peerUID.map { .int64($0) } ?? .null }
    /// The relay a request came through (the node functions' `p_relay`, schema v004).
    static func relay(_ audit: AuditEvent?) -> PostgresValue { text(audit?.relay) }
    static func attempt(_ r: AttemptReservation?) -> PostgresValue { r?.attempt.map { .int32(Int32(clamping: $0)) } ?? .null }

    static func limitState(lockedOut: Bool, lockedUntil: Int64?, now: Int64) -> LimitState {
        if lockedOut { return .lockedOut }
        if let until = lockedUntil, until > now { return .limited(until: until) }
        return .open
    }
}

/// What `pendingEnrollment` read and reserved for one confirmation.
struct HeldConfirmation: Sendable {
    let id: String
    let pending: PendingEnrollment
    let reservation: AttemptReservation
    var handedOut = false
}
