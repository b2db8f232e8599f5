/// The PostgreSQL schema this build knows, in order (Sources/OTPGatePostgres/SQL,
/// docs/POSTGRES.md): append-only migrations applied as `otpgate_owner`, and the
/// one-time role bootstrap a superuser runs.
public enum PostgresSchema {
    public static let migrations: [PostgresMigration] = [
        PostgresMigration(name: "v001_schema", sql: String(decoding: PackageResources.v001_schema_sql, as: UTF8.self)),
        PostgresMigration(name: "v002_node_functions", sql: String(decoding: PackageResources.v002_node_functions_sql, as: UTF8.self)),
        PostgresMigration(name: "v003_admin_functions", sql: String(decoding: PackageResources.v003_admin_functions_sql, as: UTF8.self)),
        PostgresMigration(name: "v004_audit_relay", sql: String(decoding: PackageResources.v004_audit_relay_sql, as: UTF8.self)),
    ]

    /// A psql script (it uses `\gexec`): run with `psql -f`, not through a connection.
    public static let bootstrapRoles = String(decoding: PackageResources.bootstrap_roles_sql, as: UTF8.self)
}
