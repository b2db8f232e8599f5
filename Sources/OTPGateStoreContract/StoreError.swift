/// The one error type of `OTPGateStore`.
///
/// `code` is stable (the daemon maps it to wire errors); `message` is lower case,
/// specific, names the file or the record concerned and, where there is one, the fix.
/// Messages never contain a secret, a code or a recovery code.
public struct StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// No key where one was expected.
        case keyMissing = "key_missing"
        /// A key file that is unsafe or malformed (mode, owner, symlink, length).
        case keyInvalid = "key_invalid"
        /// A well-formed key that is not the one the store was written with.
        case keyMismatch = "key_mismatch"
        /// A ciphertext that does not authenticate or names an unknown key.
        case decryptionFailed = "decryption_failed"
        /// A database path or directory that is unsafe (symlink, writable by others).
        case unsafePath = "unsafe_path"
        /// A store that should exist (beside an existing key) is missing or empty.
        case storeMissing = "store_missing"
        /// The store is older than its generation file says (a restored copy).
        case storeRolledBack = "store_rolled_back"
        /// The store has migrations this version does not know: a newer otpgate wrote it.
        case storeNewer = "store_newer"
        case notFound = "not_found"
        case conflict = "conflict"
        case invalidInput = "invalid_input"
        case expired = "expired"
        /// SQLite itself failed (I/O error, corruption, full disk).
        case database = "database"
        case crypto = "crypto"
        /// The store could not be reached in time, or a write's outcome was never
        /// heard (a shared database away, a deadline passed): answer "try later",
        /// never success.
        case unavailable = "unavailable"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

extension StoreError {
    /// Thrown by `confirmEnrollment` for an enrolment begun without a code when the
    /// user has a token by now (the enrolment is then removed).
    public static func outrankedMessage(user: String) -> String {
        "this enrolment was begun while \(user) had no token, and \(user) has one now: begin again, with a current code"
    }
}
