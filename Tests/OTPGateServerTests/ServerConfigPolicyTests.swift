@testable import OTPGateServer
import Testing

@Suite("Config: enrolment deadline and grace period")
struct ServerConfigPolicyTests {
    @Test func read() throws {
        let config = try ServerConfig(
            parsing: "[policy]\nenrollment_deadline = \"2027-01-31T00:00:00Z\"\nmax_grace_period = 600\n", name: "t.toml")
        #expect(config.enrollmentDeadline == 1_801_353_600)
        #expect(config.maxGracePeriod == 600)
        let none = try ServerConfig(parsing: "[policy]\nenrollment_deadline = \"\"\n", name: "t.toml")
        #expect(none.enrollmentDeadline == nil)
        #expect(ServerConfig().enrollmentDeadline == nil && ServerConfig().maxGracePeriod == 86_400)
    }

    @Test(arguments: [
        ("[policy]\nenrollment_deadline = \"2027-01-31\"", "t.toml:2: 'policy.enrollment_deadline' must be an RFC 3339 UTC time"),
        ("[policy]\nenrollment_deadline = \"2027-01-31T00:00:00+01:00\"", "t.toml:2: 'policy.enrollment_deadline' must be an RFC 3339 UTC time"),
        ("[policy]\nenrollment_deadline = 1801440000", "t.toml:2: 'policy.enrollment_deadline' must be a string"),
        ("[policy]\nmax_grace_period = 86401", "t.toml:2: 'policy.max_grace_period' must be between 0 and 86400"),
        ("[policy]\nmax_grace_period = -1", "t.toml:2: 'policy.max_grace_period' must be between 0 and 86400"),
    ])
    func errorsNameFileLineAndKey(text: String, expected: String) {
        do {
            _ = try ServerConfig(parsing: text, name: "t.toml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.message.hasPrefix(expected), "got: \(error.message)")
        }
    }
}
