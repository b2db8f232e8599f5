import OTPGateConfig
import Testing

@Suite("[tier_listener] settings and the deny list")
struct TierListenerSettingsTests {
    @Test func theTableIsReadAndAbsentMeansNoListener() throws {
        #expect(try ServerConfig(parsing: "", name: "t").tierListener == nil)
        let text = """
            [tier_listener]
            listen = ["127.0.0.1:4707", "[::1]:4708"]
            certificate_file = "/etc/otpgate/t.pem"
            key_file = "/etc/otpgate/t.key"
            ca_file = "/etc/otpgate/ca.pem"
            deny = ["old.example.org", "\(String(repeating: "AB:", count: 31))AB"]
            max_connections_per_relay = 3
            max_requests_per_second = 7
            handshake_timeout = 1000
            line_timeout = 2000
            idle_timeout = 60
            """
        let tier = try #require(try ServerConfig(parsing: text, name: "t").tierListener)
        #expect(tier.listen == [.init(host: "127.0.0.1", port: 4707), .init(host: "::1", port: 4708)])
        #expect(tier.maxConnectionsPerRelay == 3 && tier.maxRequestsPerSecond == 7)
        #expect(tier.handshakeTimeoutMilliseconds == 1000 && tier.lineTimeoutMilliseconds == 2000 && tier.idleTimeout == 60)
        let deny = DenyList(tier.deny)
        #expect(deny.denies(name: "OLD.example.org", fingerprint: ""))
        #expect(deny.denies(name: "x", fingerprint: String(repeating: "ab", count: 32)))
        #expect(!deny.denies(name: "new.example.org", fingerprint: String(repeating: "cd", count: 32)))
    }

    @Test(arguments: [
        ("[tier_listener]\ncertificate_file = \"/a\"", "tier_listener.listen must name at least one"),
        ("[tier_listener]\nlisten = [\"nohost\"]", "not \"host:port\""),
        ("[tier_listener]\nlisten = [\"h:70000\"]", "not \"host:port\""),
        ("[tier_listener]\nlisten = [\"h:1\"]\ndeny = [\"a b\"]", "neither a host name nor a SHA-256 fingerprint"),
        ("[tier_listener]\nlisten = [\"h:1\"]\nkey_file = \"relative\"", "must be an absolute path"),
        ("[tier_listener]\nlisten = [\"h:1\"]\nmax_requests_per_second = 0", "must be between"),
        ("[tier_listener]\nlisten = [\"h:1\"]\nunknown = 1", "unknown"),
    ])
    func badValuesAreRefusedByName(text: String, message: String) {
        let error = #expect(throws: ConfigError.self) { try ServerConfig(parsing: text, name: "t") }
        #expect(error.map { "\($0)".contains(message) } == true, "\(String(describing: error))")
    }

    @Test func aDenyFileWithABadLineIsRefusedWhole() throws {
        var settings = TierListenerSettings()
        settings.deny = ["a.example"]
        settings.denyFile = "/deny"
        let good = try DenyList.load(settings) { _ in "# revoked\nb.example  # stolen laptop\n\n" }
        #expect(good.denies(name: "a.example", fingerprint: "") && good.denies(name: "b.example", fingerprint: ""))
        #expect(throws: ConfigError.self) { try DenyList.load(settings) { _ in "b.example\nnot a name\n" } }
        struct Unreadable: Error {}
        #expect(throws: ConfigError.self) { try DenyList.load(settings) { _ in throw Unreadable() } }
    }
}
