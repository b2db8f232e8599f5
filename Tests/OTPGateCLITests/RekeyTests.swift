import Foundation
import OTPGateClient
import OTPGateProtocol
import OTPGateTestSupport
import Synchronization
import Testing

/// `otpgate admin rekey` is online: verifies that run meanwhile all succeed, every user
/// still verifies afterwards, and the key file holds the new key (also after a restart).
@Suite(.ownThreads) struct RekeyTests {
    /// The id of the key in a key file, as the store derives it: the first 4 bytes of
    /// SHA-256 over "otpgate master key id\0" and the 32 key bytes, in hex. Computed with
    /// Python's hashlib, independently of the store's own code.
    static func keyID(ofFile path: String) async throws -> String {
        let script = "import hashlib,sys; print(hashlib.sha256(b'otpgate master key id\\0' + open(sys.argv[1], 'rb').read()).hexdigest()[:8])"
        return try await Command.check("/usr/bin/python3", ["-c", script, path]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// One user's verify loop: HOTP counters 1, 2, 3... on the public socket until told to stop.
    struct Outcome: Sendable {
        let token: EnrolledToken
        var accepted = 0
        var failures: [String] = []
        /// Verifies in flight while a rekey ran (started before it ended, ended after it began).
        var overlapping = 0
        var nextCounter: UInt64 = 1
    }

    /// What the verify loops and the rekeys share.
    final class Shared: Sendable {
        let stop = Atomic(false)
        /// When each rekey ran, in uptime nanoseconds (up to .max while it runs).
        let rekeys = Mutex<[ClosedRange<UInt64>]>([])
        /// Verifies answered so far, and who waits for a number of them.
        private let answered = Mutex<(count: Int, waiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)])>((0, []))

        /// Counts one answered verify, and wakes whoever waited for this many.
        func verifyAnswered() {
            let ready = answered.withLock { state in
                state.count += 1
                let (ready, waiting) = (state.waiters.filter { $0.count <= state.count }, state.waiters.filter { $0.count > state.count })
                state.waiters = waiting
                return ready
            }
            for waiter in ready { waiter.continuation.resume() }
        }

        /// Returns once `more` verifies have been answered after the call.
        func untilAnswered(more: Int) async {
            await withCheckedContinuation { continuation in
                let now = answered.withLock { state in
                    if more <= 0 { return true }
                    state.waiters.append((state.count + more, continuation))
                    return false
                }
                if now { continuation.resume() }
            }
        }
    }

    @Test func rekeyWhileVerifiesRun() async throws {
        // One recovery code per user keeps the scrypt work of setting up small.
        let daemon = try await DaemonProcess.started(config: "[policy]\nrecovery_codes = 1\n")
        let oldKey = try await Self.keyID(ofFile: daemon.keyPath)
        var tokens: [EnrolledToken] = []
        for n in 1...6 { tokens.append(try await daemon.admin.enrol(user: "user\(n)", name: "key\(n)", kind: .hotp)) }

        let shared = Shared()
        let client = daemon.client
        let outcomes = try await withThrowingTaskGroup(of: Outcome.self) { group in
            for token in tokens {
                group.addTask {
                    var outcome = Outcome(token: token)
                    var rounds = 0
                    // Keep going until the rekeys are done, and a few rounds after.
                    while rounds < 5 {
                        if shared.stop.load(ordering: .relaxed) { rounds += 1 }
                        let began = DispatchTime.now().uptimeNanoseconds
                        do {
                            let result = try await client.verify(user: token.user, code: token.code(outcome.nextCounter), service: "load")
                            if result.factor == .hotp && result.token == token.name { outcome.accepted += 1 } else {
                                outcome.failures.append("\(token.user): unexpected \(result)")
                            }
                        } catch {
                            outcome.failures.append("\(token.user) counter \(outcome.nextCounter): \(error)")
                        }
                        let ended = DispatchTime.now().uptimeNanoseconds
                        if shared.rekeys.withLock({ $0.contains { $0.lowerBound < ended && began < $0.upperBound } }) {
                            outcome.overlapping += 1
                        }
                        outcome.nextCounter += 1
                        shared.verifyAnswered()
                    }
                    return outcome
                }
            }

            // Once the loops are going (a verify from each, in all), rekey three times
            // (the last one with --json).
            await shared.untilAnswered(more: tokens.count)
            var printed: [String] = []
            for round in 1...3 {
                let json = round == 3
                // Open-ended while it runs, so verifies that end meanwhile count as overlapping.
                let began = DispatchTime.now().uptimeNanoseconds
                shared.rekeys.withLock { $0.append(began...UInt64.max) }
                let run = try await Programs.otpgate(["admin", "rekey", "--socket", daemon.adminSocketPath] + (json ? ["--json"] : []))
                shared.rekeys.withLock { $0[$0.count - 1] = began...DispatchTime.now().uptimeNanoseconds }
                #expect(run.status == 0 && run.stderr.isEmpty, "\(run)\n\(daemon.allLogs)")
                if json {
                    let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
                    #expect(object?["secrets"] as? Int == 6, "\(run)")
                    printed.append(object?["key_id"] as? String ?? "")
                } else {
                    let line = try #require(run.stdout.wholeMatch(of: #/Re-encrypted 6 secrets under key ([0-9a-f]{8})\. Back up the new key file\.\n/#), "\(run)")
                    printed.append(String(line.output.1))
                }
                // Verifies between the rekeys, too.
                await shared.untilAnswered(more: tokens.count)
            }
            shared.stop.store(true, ordering: .relaxed)
            #expect(Set(printed + [oldKey]).count == 4, "each rekey makes a new key: \(oldKey) then \(printed)")
            #expect(try await Self.keyID(ofFile: daemon.keyPath) == printed.last, "the key file holds the key rekey printed")

            var all: [Outcome] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }

        let failures = outcomes.flatMap(\.failures)
        #expect(failures.isEmpty, "every verify during the rekeys succeeded: \(failures.prefix(5))\n\(daemon.allLogs)")
        let accepted = outcomes.map(\.accepted).reduce(0, +)
        #expect(accepted >= 6 * 5, "verifies ran: \(accepted)")
        #expect(outcomes.map(\.overlapping).reduce(0, +) >= 1, "some verifies ran while a rekey did")

        // Afterwards every user verifies, also after a restart that reads the new key file.
        #expect(Set(outcomes.map(\.token.user)) == Set(tokens.map(\.user)))
        for outcome in outcomes {
            let result = try await daemon.client.verify(user: outcome.token.user, code: outcome.token.code(outcome.nextCounter))
            #expect(result.token == outcome.token.name)
        }
        await daemon.stop()
        try await daemon.start()
        for outcome in outcomes {
            let result = try await daemon.client.verify(user: outcome.token.user, code: outcome.token.code(outcome.nextCounter + 1))
            #expect(result.token == outcome.token.name)
        }
        let audit = try await daemon.admin.audit(limit: 10_000)
        #expect(audit.events.filter { $0.event == "admin.rekey" }.count == 3)
    }
}
