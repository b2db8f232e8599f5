/// One named schema migration: applied once, in one transaction, never edited once
/// shipped (append-only, as the SQLite store's migrations).
public struct PostgresMigration: Sendable, Hashable {
    public let name: String
    /// Any number of SQL statements (functions with `$$` bodies included).
    public let sql: String

    public init(name: String, sql: String) {
        self.name = name
        self.sql = sql
    }
}
