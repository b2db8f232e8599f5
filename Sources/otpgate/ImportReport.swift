import ArgumentParser
import Foundation
import OTPGateClient
import OTPGateImport
import OTPGateProtocol

/// Sends each user's import (one request, one transaction per user) and reports the
/// outcome as a table or JSON. Users the parser refused are reported, never sent.
struct ImportReport: Encodable {
    struct Row: Encodable {
        var user: String
        var source: String
        /// imported, skipped, refused or failed; `dry_run` says whether it happened.
        var outcome: String
        var dryRun: Bool
        var tokens: [String]
        var scratchCodes: Int
        var existing: Int?
        var replaced: Int?
        var reason: String?
        var issues: [ImportIssue]

        enum CodingKeys: String, CodingKey {
            case user, source, outcome, tokens, existing, replaced, reason, issues
            case dryRun = "dry_run"
            case scratchCodes = "scratch_codes"
        }
    }

    var users: [Row] = []
    /// Issues that belong to no user (unreadable lines, refused files).
    var issues: [ImportIssue] = []

    /// Users sent at once: each import hashes its scratch codes (a scrypt run each),
    /// and the daemon runs that many hashes in parallel.
    static let parallelUsers = 4

    static func run(_ parsed: [ImportedUser], issues: [ImportIssue], options: ImportOptions, global: GlobalOptions) async throws {
        var report = ImportReport(issues: issues)
        let client = global.client(admin: true)
        let rows = try await withThrowingTaskGroup(of: (Int, Row).self) { group in
            var rows = [Row?](repeating: nil, count: parsed.count)
            var next = 0
            func start() {
                guard next < parsed.count else { return }
                let (index, u) = (next, parsed[next])
                next += 1
                group.addTask { (index, try await importOne(u, client: client, options: options)) }
            }
            for _ in 0..<parallelUsers { start() }
            while let (index, row) = try await group.next() {
                rows[index] = row
                start()
            }
            return rows.compactMap { $0 }
        }
        report.users = rows
        report.print(json: global.json)
        if report.users.contains(where: { $0.outcome == "refused" || $0.outcome == "failed" })
            || report.issues.contains(where: { $0.severity == .error })
        {
            throw ExitCode(Failure.refused)
        }
    }

    /// One user: a row saying what happened. A daemon that cannot be reached ends the
    /// whole import (with its exit status); a refusal ends only this user's.
    static func importOne(_ u: ImportedUser, client: OTPGateClient, options: ImportOptions) async throws -> Row {
        var row = Row(
            user: u.user, source: u.source, outcome: "refused", dryRun: options.dryRun, tokens: u.tokens.map(\.name),
            scratchCodes: u.scratchCodes.count, issues: u.issues)
        if u.refused {
            row.reason = u.issues.last { $0.severity == .error }?.message ?? "nothing importable"
            row.tokens = []
            return row
        }
        do {
            let result = try await client.importTokens(u.request(mode: options.mode, dryRun: options.dryRun))
            row.outcome = result.outcome.rawValue
            row.tokens = result.tokens
            row.scratchCodes = result.scratchCodes
            row.existing = result.existing
            row.replaced = result.replaced
            if result.outcome == .skipped {
                row.reason = "already has \(result.existing) token\(result.existing == 1 ? "" : "s") (--replace or --add to import anyway)"
            }
        } catch let error as OTPGateClientError {
            // Only the daemon's own refusal is this user's; anything else ends the run.
            guard error.code.daemonCode != nil || error.code.rawDaemonCode != nil else { throw Failure.exit(error) }
            row.outcome = "failed"
            row.reason = error.message
        }
        return row
    }

    func print(json: Bool) {
        if json { return Output.json(self) }
        if !users.isEmpty {
            Output.table(
                ["USER", "OUTCOME", "TOKENS", "SCRATCH", "SOURCE"],
                users.map { r in
                    let outcome = r.dryRun && (r.outcome == "imported" || r.outcome == "skipped") ? "would be \(r.outcome)" : r.outcome
                    let replaced = (r.replaced ?? 0) > 0 ? " (replacing \(r.replaced!))" : ""
                    return [r.user, outcome + replaced, r.tokens.isEmpty ? "-" : r.tokens.joined(separator: ","), "\(r.scratchCodes)", r.source]
                })
        } else {
            Swift.print("no users found to import")
        }
        let all = issues + users.flatMap(\.issues)
        let reasons = users.compactMap { r in r.reason.map { "\(r.user): \($0)" } }
        if !all.isEmpty || !reasons.isEmpty { Swift.print("") }
        for issue in all { Swift.print(issue.description) }
        for reason in reasons where !all.contains(where: { reason.hasSuffix($0.message) }) { Swift.print(reason) }
        if users.first?.dryRun == true { Swift.print("\n(dry run: nothing was changed)") }
    }
}
