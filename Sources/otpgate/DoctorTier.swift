import Foundation
import OTPGateConfig
import OTPGateProtocol

/// The doctor's checks of a tier node (`[store] backend = "postgres"`), from what the
/// daemon itself sees: `health` asks the database on each call (PostgresStore's
/// checkHealth), and its `store_detail` reads
/// `<write decision>; schema vNNN; tier limiter policy free_per_host=N ...`.
enum DoctorTier {
    static func findings(settings: DoctorConfig, configPath: String, health: HealthResult) -> [DoctorFinding] {
        guard settings.store.backend == .postgres else { return [] }
        let p = settings.store.postgres
        let database = "\(p.database) at \(p.host):\(p.port) as \(p.user)"
        guard health.store != "unavailable" else {
            return [DoctorFinding(
                .fail, "tier database \(database) cannot be reached by the daemon: \(health.storeDetail ?? "no detail")",
                fix: "check that PostgreSQL runs and that [store.postgres] (host, port, user, password_file, ca_file) reaches it; the node answers every tier user unavailable meanwhile")]
        }
        let parts = (health.storeDetail ?? "").split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        var out = [DoctorFinding(.ok, "tier database \(database) answers the daemon")]
        if let writes = parts.first, writes.hasPrefix("writes allowed") {
            out.append(DoctorFinding(.ok, "tier write checks (synchronous_commit, synchronous_standby_names, recovery): \(writes)"))
        } else {
            out.append(DoctorFinding(
                .fail, "tier write checks (synchronous_commit, synchronous_standby_names, recovery): \(parts.first ?? "not reported")",
                fix: "point the node at the primary, keep synchronous_commit = on and a synchronous standby (Patroni synchronous_mode, synchronous_mode_strict), or declare store.postgres.single_node = true for a database without a standby (docs/OPERATIONS.md)"))
        }
        if let schema = parts.first(where: { $0.hasPrefix("schema v") }) {
            out.append(DoctorFinding(.ok, "tier database \(schema) (the node refuses to start on one it does not know)"))
        } else {
            out.append(DoctorFinding(.warn, "the daemon did not report the tier database's schema version", fix: "upgrade otpgated on this node"))
        }
        guard let policyText = parts.first(where: { $0.hasPrefix("tier limiter policy ") }) else {
            out.append(DoctorFinding(.warn, "the daemon did not report the tier's limiter policy", fix: "upgrade otpgated on this node"))
            return out
        }
        var tier: [String: String] = [:]
        for pair in policyText.dropFirst("tier limiter policy ".count).split(separator: " ") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { tier[String(kv[0])] = String(kv[1]) }
        }
        let l = settings.limiter
        let node: [(String, String)] = [
            ("free_per_host", "\(l.freePerHost)"), ("free_per_user", "\(l.freePerUser)"), ("base_delay", "\(l.baseDelay)"),
            ("max_delay", "\(l.maxDelay)"), ("lockout_failures", "\(l.lockoutFailures)"),
        ]
        let differing = node.filter { tier[$0.0] != $0.1 }
        if differing.isEmpty {
            out.append(DoctorFinding(.ok, "this node's [limiter] matches the tier's policy (\(policyText.dropFirst("tier limiter policy ".count)))"))
        } else {
            let mine = differing.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
            let theirs = differing.map { "\($0.0)=\(tier[$0.0] ?? "?")" }.joined(separator: " ")
            out.append(DoctorFinding(
                .warn, "this node's [limiter] (\(mine)) differs from the tier's policy (\(theirs)); on a tier node the tier's policy applies",
                fix: "make [limiter] in \(configPath) match, or change the tier's policy as an admin: SELECT otpgate.set_limiter_policy(free_per_host, free_per_user, base_delay, max_delay, lockout_failures, 0) (docs/POSTGRES.md)"))
        }
        return out
    }
}
