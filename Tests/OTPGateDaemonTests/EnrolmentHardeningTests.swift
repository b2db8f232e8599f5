import Foundation
import OTPCore
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// Issue 13, item 5: blind confirmation is bounded like guessing a login, also when
/// forty connections try at once (one by one, and the pending enrolment in
/// `status`, are tested in-process: RequestHandlerEnrollmentTests,
/// RequestHandlerOperationTests).
@Suite("otpgated: enrolment confirmation is limited and audited", .ownThreads)
struct EnrolmentHardeningTests {
    static func begin(_ client: SocketClient, user: String, name: String) throws -> (id: String, secret: [UInt8]) {
        let begin = try client.call("enroll.begin", ["user": user, "kind": "hotp", "name": name])
        let id = try #require(begin.string("enrollment"), "\(begin.text)")
        return (id, try Base32.decode(try #require(begin.string("secret"))))
    }

    @Test func parallelBlindConfirmationsGetThePolicy() throws {
        let daemon = try DaemonProcess(config: """
            [limiter]
            free_per_user = 3
            base_delay = 60
            [server]
            worker_threads = 16
            """)
        let admin = try daemon.connectAdmin()
        let (id, secret) = try Self.begin(admin, user: "bob", name: "phone")
        let wrong = (0..<1000).lazy.map { String(format: "%06d", $0) }.first { c in
            (0...10).allSatisfy { HOTP.codeString(secret: secret, counter: UInt64($0)) != c }
        }!
        let socket = daemon.adminSocketPath
        let outcomes = Parallel.run(40) { _, gate in
            do {
                let client = try SocketClient(path: socket)
                guard try client.call("health").isSuccess else { return "health failed" }
                gate()
                return try client.call("enroll.confirm", ["user": "bob", "enrollment": id, "code": wrong]).error ?? "ok"
            } catch {
                return "\(error)"
            }
        }
        #expect(outcomes.filter { $0 == "invalid_code" }.count == 3, "\(outcomes)")
        #expect(outcomes.filter { $0 == "rate_limited" }.count == 37, "\(outcomes)")
    }

}
