import ArgumentParser
import Foundation
import OTPGateClient
import OTPGateProtocol

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage every user's second factor (admin socket; root by default).",
        subcommands: [List.self, Show.self, Reset.self, Unlock.self, Audit.self, Rekey.self, Doctor.self, Import.self, Resync.self])
}

extension Admin {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users with tokens, recovery codes and locks.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let client = global.client(admin: true)
            let result = try await call { try await client.listUsers() }
            if global.json { return Output.json(result) }
            Output.table(
                ["USER", "TOKENS", "RECOVERY", "FAILURES", "LOCKED", "LAST USED"],
                result.users.map { u in
                    [u.user, "\(u.tokens)", "\(u.recoveryRemaining)", "\(u.failures)",
                     u.lockedOut ? "until unlocked" : Output.time(u.lockedUntil), Output.time(u.lastUsedAt)]
                })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one user's tokens and recent audit events.")
        @OptionGroup var global: GlobalOptions
        @Argument var user: String

        struct Combined: Encodable {
            let status: StatusResult
            let events: [AdminAuditResult.Event]
        }

        func run() async throws {
            let client = global.client(admin: true)
            let status = try await call { try await client.status(user: user) }
            let audit = try await call { try await client.audit(user: user, limit: 10) }
            try requireKnownUser(user, status: status, events: audit.events)
            if global.json { return Output.json(Combined(status: status, events: audit.events)) }
            printStatus(status)
            if !audit.events.isEmpty {
                print("\nrecent events:")
                printEvents(audit.events)
            }
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove all of a user's tokens, recovery codes and locks (for a lost phone).")
        @OptionGroup var global: GlobalOptions
        @Argument var user: String
        @Flag(help: "Do not ask for confirmation.")
        var yes = false

        func run() async throws {
            if !yes {
                guard Terminal.isInteractive else {
                    throw Failure.exit("refusing to reset \(user) without --yes when not at a terminal", status: Failure.refused)
                }
                guard Terminal.confirm("Remove every token and recovery code of \(user)?") else {
                    throw Failure.exit("nothing changed", status: Failure.refused)
                }
            }
            let client = global.client(admin: true)
            try await requireKnownUser(user, client: client)
            try await call { try await client.reset(user: user) }
            if global.json { Output.json(["reset": user]) } else { print("\(user) has no second factor now; they can enrol again.") }
        }
    }

    struct Unlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Clear a user's failed attempts and lockout.")
        @OptionGroup var global: GlobalOptions
        @Argument var user: String

        func run() async throws {
            let client = global.client(admin: true)
            try await requireKnownUser(user, client: client)
            try await call { try await client.unlock(user: user) }
            if global.json { Output.json(["unlocked": user]) } else { print("\(user) is unlocked.") }
        }
    }

    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show audit events, oldest first.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this user's events.")
        var user: String?
        @Option(help: "Only events at or after this time (RFC 3339, e.g. 2026-11-21T00:00:00Z, or Unix seconds).")
        var since: String?
        @Option(help: "At most this many (the newest), 1 to 10000.")
        var limit: Int = 100

        func validate() throws {
            if let since, Timestamp(rfc3339: since) == nil && Int64(since) == nil {
                throw ValidationError("--since must be an RFC 3339 UTC time like 2026-11-21T00:00:00Z, or Unix seconds")
            }
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be 1 to 10000") }
        }

        func run() async throws {
            let from = since.flatMap { Timestamp(rfc3339: $0) ?? Int64($0).map(Timestamp.init(unixSeconds:)) }
            let client = global.client(admin: true)
            let result = try await call {
                try await client.audit(user: user, since: from, limit: limit)
            }
            if let user, result.events.isEmpty { try await requireKnownUser(user, client: client) }
            if global.json { Output.json(result) } else { printEvents(result.events) }
        }
    }

    struct Rekey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-encrypt every secret under a new master key, online; the key file is replaced.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let client = global.client(admin: true)
            let result = try await call { try await client.rekey() }
            if global.json { return Output.json(result) }
            print("Re-encrypted \(result.secrets) secrets under key \(result.keyID). Back up the new key file.")
        }
    }
}

/// A user who is neither a local account nor known to the daemon (no token, no
/// recovery code, no audit event) is most likely a typo: the command fails with exit
/// status 1 instead of showing an empty record, or resetting or unlocking nothing.
/// A deleted account that still has tokens or events stays manageable.
func requireKnownUser(_ user: String, status: StatusResult, events: [AdminAuditResult.Event]) throws {
    guard getpwnam(user) == nil, !status.enrolled, status.tokens.isEmpty, status.recoveryRemaining == 0, events.isEmpty else {
        return
    }
    throw Failure.exit(
        "unknown user \(user): not a local account, and otpgated has no tokens, recovery codes or events for it",
        status: Failure.refused)
}

/// The same check before a change. If the daemon will not answer the questions (the
/// wrong socket, say), the change itself goes ahead and reports why it fails.
func requireKnownUser(_ user: String, client: OTPGateClient) async throws {
    guard getpwnam(user) == nil,
        let status = try? await client.status(user: user),
        let audit = try? await client.audit(user: user, limit: 1)
    else { return }
    try requireKnownUser(user, status: status, events: audit.events)
}

/// The RELAY column (the relay a request came through, on a tier node) is shown
/// only when some event has one, so a single host's table stays as it was.
func printEvents(_ events: [AdminAuditResult.Event]) {
    let relays = events.contains { $0.relay != nil }
    Output.table(
        ["TIME", "EVENT", "USER", "UID", "SERVICE", "RHOST"] + (relays ? ["RELAY"] : []) + ["DETAIL"],
        events.map { e in
            [e.time.rfc3339, e.event, e.user ?? "-", e.peerUID.map(String.init) ?? "-", e.service ?? "-", e.rhost ?? "-"]
                + (relays ? [e.relay ?? "-"] : []) + [e.detail ?? ""]
        })
}
