import Foundation
import OTPGateClient
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// The built `otpgate` against a real daemon: the exact text of `status`, `admin list`
/// and `admin show` (times normalised, and checked to be plausible), and their `--json`
/// output read back with JSONSerialization, field by field.
@Suite(.ownThreads) struct OutputTests {
    /// A daemon where a second failure makes a user wait ten minutes, so that a lock
    /// shows in `admin list` and lasts for the whole test.
    static let config = """
        [limiter]
        free_per_user = 2
        base_delay = 600
        """

    /// alice: a HOTP token used once (sshd, from 192.0.2.7) and one wrong code (sudo).
    /// bob: a TOTP token. carol: a HOTP token and two wrong codes, so she waits.
    struct Scene {
        let daemon: DaemonProcess
        let started: Int64
        let alice: EnrolledToken

        init() async throws {
            started = unixNow()
            daemon = try await DaemonProcess.started(config: OutputTests.config)
            alice = try await daemon.admin.enrol(user: "alice", name: "phone", kind: .hotp)
            _ = try await daemon.admin.enrol(user: "bob", name: "laptop", kind: .totp)
            let carol = try await daemon.admin.enrol(user: "carol", name: "phone", kind: .hotp)
            let used = try await daemon.client.verify(user: "alice", code: alice.code(1), service: "sshd", rhost: "192.0.2.7")
            #expect(used.factor == .hotp && used.token == "phone")
            for (user, code) in [("alice", alice.wrongCode()), ("carol", carol.wrongCode()), ("carol", carol.wrongCode())] {
                do {
                    _ = try await daemon.client.verify(user: user, code: code, service: "sudo")
                    Issue.record("a wrong code was accepted")
                } catch {
                    #expect((error as? OTPGateClientError)?.code == .daemon(.invalidCode), "\(error)")
                }
            }
        }

        /// Runs otpgate as root and expects success with nothing on stderr.
        func otpgate(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
            let run = try await Programs.otpgate(arguments)
            #expect(run.status == 0 && run.stderr.isEmpty, "\(run)\n\(daemon.allLogs)", sourceLocation: sourceLocation)
            return run.stdout
        }

        /// When the scene was set up, give or take a second.
        var past: ClosedRange<Int64> { (started - 1)...(unixNow() + 1) }
        /// carol's wait ends about ten minutes after she was limited.
        var tenMinutesOn: ClosedRange<Int64> { (started + 600 - 1)...(unixNow() + 600 + 1) }
        /// The seconds carol has left to wait now (however slowly the test ran).
        var carolsWait: ClosedRange<Int> { Int(started + 600 - unixNow() - 1)...600 }
    }

    static let t = Normalised.placeholder

    @Test func statusPrintsExactlyThisTable() async throws {
        let scene = try await Scene()
        let out = Normalised(try await scene.otpgate(["status", "--user", "alice", "--socket", scene.daemon.socketPath]))
        #expect(out.text == """
            user:               alice
            enrolled:           yes
            recovery codes:     10 left

            NAME   KIND  ALGORITHM  DIGITS  PERIOD  CREATED               LAST USED
            phone  hotp  SHA1       6       -       \(Self.t)  \(Self.t)

            """)
        #expect(out.times.count == 2 && out.timesAreWithin(scene.past), "\(out.times)")

        let bob = Normalised(try await scene.otpgate(["status", "--user", "bob", "--socket", scene.daemon.socketPath]))
        #expect(bob.text == """
            user:               bob
            enrolled:           yes
            recovery codes:     10 left

            NAME    KIND  ALGORITHM  DIGITS  PERIOD  CREATED               LAST USED
            laptop  totp  SHA1       6       30s     \(Self.t)  \(Self.t)

            """)

        // carol is held back; someone the store has never heard of is simply not enrolled.
        let carol = try await scene.otpgate(["status", "--user", "carol", "--socket", scene.daemon.socketPath])
        let wait = try #require(carol.firstMatch(of: #/rate limited:       wait ([0-9]+) s\n/#), "\(carol)")
        #expect(scene.carolsWait.contains(Int(wait.output.1) ?? 0), "\(carol)")
        let nobody = try await scene.otpgate(["status", "--user", "nobody", "--socket", scene.daemon.socketPath])
        #expect(nobody == """
            user:               nobody
            enrolled:           no
            recovery codes:     0 left

            """)

        // A pending enrolment shows (without its id), and whether it was begun without a code.
        _ = try await scene.daemon.admin.enrollBegin(EnrollBeginRequest(user: "dave", name: "planted"))
        let dave = Normalised(try await scene.otpgate(["status", "--user", "dave", "--socket", scene.daemon.socketPath]))
        #expect(dave.text == """
            user:               dave
            enrolled:           no
            recovery codes:     0 left
            pending enrolments: 1

            PENDING  KIND  BEGUN                 EXPIRES               WITHOUT CODE
            planted  totp  \(Self.t)  \(Self.t)  yes

            """)
    }

    @Test func adminListAndShowPrintExactlyTheseTables() async throws {
        let scene = try await Scene()
        let list = Normalised(try await scene.otpgate(["admin", "list", "--socket", scene.daemon.adminSocketPath]))
        #expect(list.text == """
            USER   TOKENS  RECOVERY  FAILURES  LOCKED                LAST USED
            alice  1       10        1         -                     \(Self.t)
            bob    1       10        0         -                     \(Self.t)
            carol  1       10        2         \(Self.t)  \(Self.t)

            """)
        #expect(list.times.count == 4)
        #expect(scene.past.contains(list.times[0].unixSeconds) && scene.past.contains(list.times[1].unixSeconds))
        #expect(scene.tenMinutesOn.contains(list.times[2].unixSeconds), "carol waits until \(list.times[2])")
        #expect(scene.past.contains(list.times[3].unixSeconds))

        let show = Normalised(try await scene.otpgate(["admin", "show", "alice", "--socket", scene.daemon.adminSocketPath]))
        #expect(show.text == """
            user:               alice
            enrolled:           yes
            recovery codes:     10 left

            NAME   KIND  ALGORITHM  DIGITS  PERIOD  CREATED               LAST USED
            phone  hotp  SHA1       6       -       \(Self.t)  \(Self.t)

            recent events:
            TIME                  EVENT           USER   UID  SERVICE  RHOST      DETAIL
            \(Self.t)  enroll.begin    alice  0    -        -          hotp token phone
            \(Self.t)  enroll.confirm  alice  0    -        -          token phone, new recovery codes
            \(Self.t)  verify.ok       alice  0    sshd     192.0.2.7  hotp token phone, drift 0
            \(Self.t)  verify.invalid  alice  0    sudo     -

            """)
        #expect(show.times.count == 6 && show.timesAreWithin(scene.past), "\(show.times)")
        #expect(show.times.suffix(4) == show.times.suffix(4).sorted(), "events oldest first")
    }

    @Test func jsonOutputHasEveryField() async throws {
        let scene = try await Scene()
        func object(_ arguments: [String]) async throws -> [String: Any] {
            let text = try await scene.otpgate(arguments + ["--json"])
            return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
        }
        func time(_ value: Any?) -> Int64? { (value as? String).flatMap(Timestamp.init(rfc3339:))?.unixSeconds }

        // status
        let status = try await object(["status", "--user", "alice", "--socket", scene.daemon.socketPath])
        #expect(Set(status.keys) == ["user", "enrolled", "required", "tokens", "recovery_remaining", "pending_enrollments"])
        #expect((status["pending_enrollments"] as? [Any])?.isEmpty == true)
        #expect(status["user"] as? String == "alice")
        #expect(status["enrolled"] as? Bool == true)
        #expect(status["required"] as? Bool == false)
        #expect(status["recovery_remaining"] as? Int == 10)
        let tokens = try #require(status["tokens"] as? [[String: Any]])
        #expect(tokens.count == 1)
        let token = try #require(tokens.first)
        #expect(Set(token.keys) == ["id", "name", "kind", "algorithm", "digits", "created_at", "last_used_at"], "no period for HOTP")
        #expect((token["id"] as? String)?.count == 16)
        #expect(token["name"] as? String == "phone")
        #expect(token["kind"] as? String == "hotp")
        #expect(token["algorithm"] as? String == "SHA1")
        #expect(token["digits"] as? Int == 6)
        #expect(time(token["created_at"]).map(scene.past.contains) == true)
        #expect(time(token["last_used_at"]).map(scene.past.contains) == true)

        let bob = try await object(["status", "--user", "bob", "--socket", scene.daemon.socketPath])
        let bobToken = try #require((bob["tokens"] as? [[String: Any]])?.first)
        #expect(bobToken["kind"] as? String == "totp" && bobToken["period"] as? Int == 30)
        let carol = try await object(["status", "--user", "carol", "--socket", scene.daemon.socketPath])
        #expect(scene.carolsWait.contains(carol["retry_after"] as? Int ?? 0), "\(carol)")

        // admin list
        let list = try await object(["admin", "list", "--socket", scene.daemon.adminSocketPath])
        #expect(Set(list.keys) == ["users"])
        let users = try #require(list["users"] as? [[String: Any]])
        #expect(users.map { $0["user"] as? String } == ["alice", "bob", "carol"])
        let (a, b, c) = (users[0], users[1], users[2])
        #expect(Set(a.keys) == ["user", "tokens", "recovery_remaining", "failures", "locked_out", "last_used_at"])
        #expect(a["tokens"] as? Int == 1 && a["recovery_remaining"] as? Int == 10 && a["failures"] as? Int == 1)
        #expect(a["locked_out"] as? Bool == false)
        #expect(time(a["last_used_at"]).map(scene.past.contains) == true)
        #expect(b["failures"] as? Int == 0 && b["locked_until"] == nil)
        #expect(c["failures"] as? Int == 2 && c["locked_out"] as? Bool == false)
        #expect(time(c["locked_until"]).map(scene.tenMinutesOn.contains) == true, "\(c)")

        // admin show: the status and the user's events
        let show = try await object(["admin", "show", "alice", "--socket", scene.daemon.adminSocketPath])
        #expect(Set(show.keys) == ["status", "events"])
        #expect((show["status"] as? [String: Any])?["user"] as? String == "alice")
        let events = try #require(show["events"] as? [[String: Any]])
        #expect(events.map { $0["event"] as? String } == ["enroll.begin", "enroll.confirm", "verify.ok", "verify.invalid"])
        #expect(events.allSatisfy { $0["user"] as? String == "alice" && $0["peer_uid"] as? Int == 0 })
        #expect(events.allSatisfy { time($0["time"]).map(scene.past.contains) == true })
        let ok = events[2]
        #expect(Set(ok.keys) == ["time", "event", "user", "peer_uid", "service", "rhost", "detail"])
        #expect(ok["service"] as? String == "sshd" && ok["rhost"] as? String == "192.0.2.7")
        #expect(ok["detail"] as? String == "hotp token phone, drift 0")
        #expect(Set(events[3].keys) == ["time", "event", "user", "peer_uid", "service"], "absent fields are left out")
        let text = events.map { "\($0)" }.joined()
        #expect(!text.contains(scene.alice.code(1)), "no code in the audit log")
    }
}
