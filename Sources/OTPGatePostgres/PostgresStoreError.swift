/// The one error type of `OTPGatePostgres`.
///
/// `code` is stable; `outcome` says what the caller may conclude about its statement:
/// `.notDone` when it certainly did not take effect (never sent, refused, or failed with
/// an error that rolled it back), `.unknown` when a write was sent and its result never
/// heard (the deadline fired, the connection broke): it may have committed, so the daemon
/// answers `unavailable` and must not report success or failure. Messages are lower case,
/// name the server or the statement and, where there is one, the fix; they never contain
/// a bound value or a password.
public struct PostgresStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// Could not open a connection (refused, no route, authentication, TLS, timeout).
        case connectFailed = "connect_failed"
        /// The call's deadline passed; the leased connection was closed (never cancelled).
        case deadlineExceeded = "deadline_exceeded"
        /// The connection broke while the statement was in flight.
        case connectionLost = "connection_lost"
        /// Writes are refused on this connection: a standby, or acknowledged commits could
        /// be lost on failover (see `PostgresWriteStatus`).
        case writesRefused = "writes_refused"
        /// The server answered the statement with an error (the statement was rolled back).
        case statementFailed = "statement_failed"
        /// The caller named a statement that was not registered with the pool.
        case unknownStatement = "unknown_statement"
        /// The pool was shut down.
        case poolClosed = "pool_closed"
        /// Settings that cannot work (checked before any connection is made).
        case invalidSettings = "invalid_settings"
        /// The password file or credential failed its checks.
        case password = "password"
        /// The database records a migration this binary does not know (a newer otpgate).
        case migrationRefused = "migration_refused"
        /// A migration failed and was rolled back.
        case migrationFailed = "migration_failed"
        /// The rows were not what the caller decoded them as (column count or type).
        case unexpectedResult = "unexpected_result"
        /// A blocking call was made on an event loop thread, where it would deadlock.
        case wrongThread = "wrong_thread"
    }

    public enum Outcome: String, Sendable {
        /// The statement did not take effect.
        case notDone = "not_done"
        /// A write that may or may not have committed.
        case unknown = "unknown"
    }

    public let code: Code
    public let outcome: Outcome
    public let message: String
    /// The server's SQLSTATE when the server sent an error (`statementFailed`, some
    /// `connectFailed`), e.g. "40001" or "28P01".
    public let sqlState: String?

    public init(_ code: Code, _ message: String, outcome: Outcome = .notDone, sqlState: String? = nil) {
        self.code = code
        self.outcome = outcome
        self.message = message
        self.sqlState = sqlState
    }

    public var description: String { message }

    /// True when the caller cannot know whether a write took effect.
    public var outcomeUnknown: Bool { outcome == .unknown }
}
