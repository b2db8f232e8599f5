import Foundation
@testable import OTPGateServer
import OTPGateStore
import Testing

@Suite("Config file")
struct ServerConfigTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The shipped example documents every key with its default: parsing it must
    /// give exactly the built-in defaults, and it must mention every key we read.
    @Test func shippedExampleEqualsTheDefaults() throws {
        let path = Self.packageRoot.appendingPathComponent("etc/otpgate/otpgated.toml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let parsed = try ServerConfig(parsing: text, name: path)
        #expect(parsed == ServerConfig())
        let file = try ConfigFile(parsing: text, name: path)
        #expect(file.values.count == 45, "keys in the example: \(file.values.keys.sorted())")
    }

    @Test func valuesAreRead() throws {
        let config = try ServerConfig(parsing: """
            # comment
            [paths]
            state_dir = "/srv/otp"   # trailing comment
            [access]
            admin_groups = ["wheel", "otp-admins"]
            verify_group = "screenlock"
            [policy]
            required_groups = ["staff"]
            window = 2
            issuer = "Host # one"
            [limiter]
            max_delay = 1_800
            [server]
            idle_timeout = 5
            """, name: "t.toml")
        #expect(config.databasePath == "/srv/otp/otpgate.db")
        #expect(config.adminGroups == ["wheel", "otp-admins"])
        #expect(config.verifyGroup == "screenlock")
        #expect(config.requiredGroups == ["staff"])
        #expect(config.window == 2)
        #expect(config.issuer == "Host # one")
        #expect(config.limiter.maxDelay == 1800)
        #expect(config.idleTimeout == 5)
    }

    @Test(arguments: [
        ("[policy]\nwindow = 11", "t.toml:2: 'policy.window' must be between 0 and 10"),
        ("[policy]\nwindow = \"1\"", "t.toml:2: 'policy.window' must be an integer"),
        ("[policy]\nwindow = 1.5", "t.toml:2: the value of 'policy.window' must be"),
        ("[policy]\nwindow = +1", "t.toml:2: the value of 'policy.window' must be"),
        ("[policy]\nwindo = 1", "t.toml:2: 'policy.windo' is not a setting otpgated knows"),
        ("[policy]\nwindow = 1\nwindow = 2", "t.toml:3: 'policy.window' is set twice"),
        ("[paths]\nstate_dir = \"relative\"", "t.toml:2: 'paths.state_dir' must be an absolute path"),
        ("[access]\nadmin_groups = \"wheel\"", "t.toml:2: 'access.admin_groups' must be an array of strings"),
        ("[access]\nadmin_groups = [\"wheel\", 3]", "t.toml:2: the value of 'access.admin_groups' must be"),
        ("[policy\nwindow = 1", "t.toml:1: a table header must look like [name]"),
        ("[[policy]]", "t.toml:1: a table header must look like [name]"),
        ("just words", "t.toml:1: expected 'key = value'"),
        ("[policy]\nissuer = \"unterminated", "t.toml:2: the value of 'policy.issuer' must be"),
        ("[limiter]\nbase_delay = 100\nmax_delay = 10", "t.toml: limiter.base_delay must not exceed limiter.max_delay"),
    ])
    func errorsNameFileLineAndKey(text: String, expected: String) {
        do {
            _ = try ServerConfig(parsing: text, name: "t.toml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.message.hasPrefix(expected), "got: \(error.message)")
        }
    }

    @Test func stateDirectoryPutsEverythingUnderIt() {
        var config = ServerConfig()
        config.useStateDirectory("/tmp/x")
        #expect(config.databasePath == "/tmp/x/store/otpgate.db")
        #expect(config.keyFile == "/tmp/x/master.key")
        #expect(config.socketPath == "/tmp/x/otpgated.sock")
        #expect(config.adminSocketPath == "/tmp/x/otpgated-admin.sock")
    }
}
