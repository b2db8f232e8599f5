import Foundation
import GRDB

// One Codable struct per table, each with its Columns. Kept together in one file
// because each is a few lines of plain data; the logic lives in OTPStore+*.swift.

struct UserRecord: Codable, FetchableRecord, MutablePersistableRecord, Sendable {
    static let databaseTableName = "users"
    enum Columns {
        static let id = Column(CodingKeys.id)
        static let name = Column(CodingKeys.name)
    }
    var id: Int64?
    var name: String
    var createdAt: Int64

    enum CodingKeys: String, CodingKey {
        case id, name
        case createdAt = "created_at"
    }

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

struct TokenRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "tokens"
    enum Columns {
        static let id = Column(CodingKeys.id)
        static let userID = Column(CodingKeys.userID)
        static let name = Column(CodingKeys.name)
        static let secret = Column(CodingKeys.secret)
        static let watermark = Column(CodingKeys.watermark)
        static let createdAt = Column(CodingKeys.createdAt)
    }
    var id: String
    var userID: Int64
    var name: String
    var kind: String
    var algorithm: String
    var digits: Int
    var period: Int64
    var initialCounter: Int64
    var secret: Data
    var watermark: Int64?
    var drift: Int
    var createdAt: Int64
    var lastUsedAt: Int64?
    /// Steps the TOTP window is centred on (import or resync only).
    var skew: Int = 0
    /// The token's own TOTP window; nil for the daemon's.
    var window: Int? = nil

    enum CodingKeys: String, CodingKey {
        case id, name, kind, algorithm, digits, period, secret, watermark, drift, skew, window
        case userID = "user_id"
        case initialCounter = "initial_counter"
        case createdAt = "created_at"
        case lastUsedAt = "last_used_at"
    }
}

extension TokenRecord {
    /// The columns `init(selected:)` reads, in its order.
    static let selection =
        "id, user_id, name, kind, algorithm, digits, period, initial_counter, secret, watermark, drift, created_at, last_used_at, skew, window"

    /// A row of `SELECT \(selection)`, read by position (no Codable decoding).
    init(selected row: Row) {
        self.init(
            id: row[0], userID: row[1], name: row[2], kind: row[3], algorithm: row[4], digits: row[5], period: row[6],
            initialCounter: row[7], secret: row[8], watermark: row[9], drift: row[10], createdAt: row[11],
            lastUsedAt: row[12], skew: row[13], window: row[14])
    }
}

struct EnrollmentRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "enrollments"
    enum Columns {
        static let id = Column(CodingKeys.id)
        static let userID = Column(CodingKeys.userID)
        static let expiresAt = Column(CodingKeys.expiresAt)
    }
    var id: String
    var userID: Int64
    var name: String
    var kind: String
    var algorithm: String
    var digits: Int
    var period: Int64
    var initialCounter: Int64
    var secret: Data
    var createdAt: Int64
    var expiresAt: Int64
    /// Begun while the user had no token (so without a current code).
    var codeless: Bool

    enum CodingKeys: String, CodingKey {
        case id, name, kind, algorithm, digits, period, secret, codeless
        case userID = "user_id"
        case initialCounter = "initial_counter"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
    }
}

struct RecoveryCodeRecord: Codable, FetchableRecord, MutablePersistableRecord, Sendable {
    static let databaseTableName = "recovery_codes"
    enum Columns {
        static let id = Column(CodingKeys.id)
        static let userID = Column(CodingKeys.userID)
        static let usedAt = Column(CodingKeys.usedAt)
    }
    var id: Int64?
    var userID: Int64
    var kdf: String
    var salt: Data
    var hash: Data
    var createdAt: Int64
    var usedAt: Int64?

    enum CodingKeys: String, CodingKey {
        case id, kdf, salt, hash
        case userID = "user_id"
        case createdAt = "created_at"
        case usedAt = "used_at"
    }

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

struct LimiterRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "limiter"
    enum Columns {
        static let userID = Column(CodingKeys.userID)
        static let rhost = Column(CodingKeys.rhost)
    }
    var userID: Int64
    /// "" for the row that counts all of a user's failures.
    var rhost: String
    var failures: Int
    var lastFailureAt: Int64
    var lockedUntil: Int64?

    enum CodingKeys: String, CodingKey {
        case rhost, failures
        case userID = "user_id"
        case lastFailureAt = "last_failure_at"
        case lockedUntil = "locked_until"
    }
}

struct KeyCheckRecord: Codable, FetchableRecord, PersistableRecord, Sendable {
    static let databaseTableName = "key_check"
    var id: Int64 = 1
    var keyID: String
    var value: Data
    var updatedAt: Int64

    enum CodingKeys: String, CodingKey {
        case id, value
        case keyID = "key_id"
        case updatedAt = "updated_at"
    }
}
