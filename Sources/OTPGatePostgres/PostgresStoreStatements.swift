/// The statements the PostgreSQL store runs: one call of one function of the schema
/// (docs/POSTGRES.md) each, prepared once per connection. Parameter types follow the
/// functions' signatures exactly (the values are sent in binary); arrays travel as text
/// and are cast by the server.
public enum PostgresStoreStatements {
    static func call(_ name: String, _ function: String, _ arity: Int, table: Bool, _ access: PostgresStatement.Access, casts: [Int: String] = [:]) -> PostgresStatement {
        let args = (1...max(arity, 1)).prefix(arity).map { i in "$\(i)" + (casts[i].map { "::text::\($0)" } ?? "") }.joined(separator: ", ")
        let sql = table ? "SELECT * FROM otpgate.\(function)(\(args))" : "SELECT otpgate.\(function)(\(args))"
        return PostgresStatement(name: name, sql: sql, access: access)
    }

    public static let all: [PostgresStatement] = [
        call("read_user", "read_user", 2, table: true, .readOnly),
        call("reserve_attempt", "reserve_attempt", 2, table: true, .write),
        call("accept_code", "accept_code", 9, table: false, .write),
        call("unused_codes", "unused_codes", 2, table: true, .readOnly),
        call("consume_code", "consume_code", 8, table: true, .write),
        call("record_failure", "record_failure", 8, table: true, .write),
        call("record_not_enrolled", "record_not_enrolled", 5, table: false, .write),
        call("resync_token", "resync_token", 7, table: true, .write),
        call("token_remove", "token_remove", 4, table: false, .write),
        call("recovery_codes_replace", "recovery_codes_replace", 6, table: false, .write, casts: [4: "bytea[]"]),
        call("enrollment_begin", "enrollment_begin", 12, table: true, .write),
        call("enrollment_reserve", "enrollment_reserve", 2, table: true, .write),
        call("enrollment_confirm", "enrollment_confirm", 12, table: true, .write, casts: [10: "bytea[]"]),
        call("enrollment_cancel", "enrollment_cancel", 5, table: false, .write),
        call("enrollment_purge", "enrollment_purge", 1, table: false, .write),
        call("pending_enrollments", "pending_enrollments", 1, table: true, .readOnly),
        call("audit_append", "audit_append", 7, table: false, .write),
        call("audit_query", "audit_query", 3, table: true, .readOnly),
        call("users_list", "users_list", 0, table: true, .readOnly),
        call("user_reset", "user_reset", 2, table: false, .write),
        call("user_unlock", "user_unlock", 2, table: false, .write),
        call("prune_audit", "prune_audit", 2, table: false, .write),
        call("key_check_read", "key_check_read", 0, table: true, .readOnly),
        call("key_check_init", "key_check_init", 2, table: true, .write),
        call("node_report_keys", "node_report_keys", 1, table: false, .write, casts: [1: "text[]"]),
        call("limiter_policy_read", "limiter_policy_read", 0, table: true, .readOnly),
        call("sealed_by_key", "sealed_by_key", 0, table: true, .readOnly),
        call("health", "health", 0, table: true, .readOnly),
        call("schema_versions", "schema_versions", 0, table: true, .readOnly),
        call("import_tokens", "import_tokens", 8, table: true, .write, casts: [3: "jsonb", 6: "bytea[]"]),
        call("rekey_begin", "rekey_begin", 2, table: true, .write),
        call("rekey_sealed", "rekey_sealed", 2, table: true, .readOnly),
        call("rekey_replace", "rekey_replace", 4, table: false, .write),
        call("rekey_finish", "rekey_finish", 1, table: false, .write),
    ]

    /// An array literal of bytea values for a `::text::bytea[]` parameter.
    static func byteaArray(_ values: [[UInt8]]) -> String {
        "{" + values.map { v in "\"\\\\x" + v.map { String($0, radix: 16).leftPadded(2) }.joined() + "\"" }.joined(separator: ",") + "}"
    }

    /// An array literal of plain identifiers (no quotes or commas in them).
    static func textArray(_ values: [String]) -> String { "{" + values.joined(separator: ",") + "}" }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
