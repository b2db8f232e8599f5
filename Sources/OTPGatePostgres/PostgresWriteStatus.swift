/// Whether this pool may write, and why: what `health` and `doctor` show.
///
/// Decided on every new connection from the server's own answers (FLEET.md): a standby
/// never takes writes; a primary takes them only when an acknowledged commit survives a
/// failover (`synchronous_commit` on or remote_apply and a synchronous standby named),
/// or when the config declares a single node (then only with fsync on and
/// `synchronous_commit` not off, so that a crash loses no acknowledged commit).
public struct PostgresWriteStatus: Sendable, Equatable, CustomStringConvertible {
    public let writesAllowed: Bool
    /// One line: why writes are allowed or refused, with the settings seen.
    public let reason: String
    /// The server is a standby (`pg_is_in_recovery()`).
    public let isStandby: Bool

    public var description: String { reason }

    /// Before any connection has been checked.
    public static let unchecked = PostgresWriteStatus(
        writesAllowed: false, reason: "writes refused: no connection to postgresql has been checked yet", isStandby: false)

    /// The decision from the values a new connection reported.
    static func decide(
        synchronousCommit: String, synchronousStandbyNames: String, inRecovery: Bool, fsync: String, singleNode: Bool
    ) -> PostgresWriteStatus {
        let seen = "synchronous_commit=\(synchronousCommit), synchronous_standby_names='\(synchronousStandbyNames)', fsync=\(fsync)"
        func refused(_ why: String) -> PostgresWriteStatus {
            PostgresWriteStatus(writesAllowed: false, reason: "writes refused: \(why) (\(seen))", isStandby: inRecovery)
        }
        if inRecovery {
            return refused("the server is a standby (pg_is_in_recovery); point store.postgres at the primary")
        }
        if fsync != "on" {
            return refused("fsync is off on the server, so a crash loses acknowledged commits; set fsync = on")
        }
        if singleNode {
            if synchronousCommit == "off" {
                return refused("synchronous_commit is off, so a crash loses acknowledged commits; set it to on")
            }
            return PostgresWriteStatus(
                writesAllowed: true, reason: "writes allowed: single node declared (\(seen))", isStandby: false)
        }
        guard synchronousCommit == "on" || synchronousCommit == "remote_apply" else {
            return refused(
                "synchronous_commit is \(synchronousCommit), so an acknowledged commit may be lost on failover; set it to on or remote_apply, or declare single_node")
        }
        guard !synchronousStandbyNames.allSatisfy({ $0 == " " || $0 == "\t" }) else {
            return refused(
                "no synchronous standby (synchronous_standby_names is empty), so an acknowledged commit may be lost on failover; configure one (Patroni synchronous_mode) or declare single_node")
        }
        return PostgresWriteStatus(writesAllowed: true, reason: "writes allowed: synchronous replication (\(seen))", isStandby: false)
    }

    /// One statement, run unprepared on each new connection before it is used.
    static let checkSQL = """
        SELECT current_setting('synchronous_commit'), current_setting('synchronous_standby_names'), \
        pg_is_in_recovery(), current_setting('fsync')
        """
}
