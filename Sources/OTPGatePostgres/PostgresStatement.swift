/// A statement the pool prepares once on every connection and runs by name.
///
/// `sql` is one SQL statement with `$1 … $n` placeholders (no trailing semicolon needed).
/// The values bound at each call are sent in binary with the type their
/// `PostgresValue` case names, so each must be the type PostgreSQL infers for its
/// placeholder: a function's parameter type, or write `$1::bigint` where in doubt.
public struct PostgresStatement: Sendable, Hashable {
    public enum Access: Sendable, Hashable {
        /// Changes nothing: may run on a standby and while writes are refused; a deadline
        /// on it is `.notDone`.
        case readOnly
        /// May change data: runs only where writes are allowed; a deadline or a broken
        /// connection while it is in flight is `.unknown`.
        case write
    }

    public let name: String
    public let sql: String
    public let access: Access

    public init(name: String, sql: String, access: Access) {
        self.name = name
        self.sql = sql
        self.access = access
    }

}
