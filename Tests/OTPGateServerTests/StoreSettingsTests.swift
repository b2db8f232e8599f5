import OTPGateConfig
import Testing

/// `[store]` and `[store.postgres]`: what a tier node's config says, and what is refused.
@Suite("Store settings")
struct StoreSettingsTests {
    @Test func aTierNodeIsRead() throws {
        let config = try ServerConfig(parsing: """
            [store]
            backend = "postgres"
            local_users = ["breakglass"]
            [store.postgres]
            host = "db.example.net"
            port = 5433
            user = "otpgate_node_web1"
            password_file = "/etc/otpgate/keys/postgres.password"
            ca_file = "/etc/otpgate/ca.pem"
            server_name = "db.internal"
            pool_size = 16
            deadline = 2000
            single_node = true
            """, name: "t.toml")
        let s = config.store
        #expect(s.backend == .postgres)
        #expect(s.localUsers == ["breakglass", "root"])  // root always
        #expect(s.isLocal("root") && s.isLocal("breakglass") && !s.isLocal("alice"))
        #expect(s.postgres.host == "db.example.net" && s.postgres.port == 5433)
        #expect(s.postgres.user == "otpgate_node_web1")
        #expect(s.postgres.tls == .verifyFull)
        #expect(s.postgres.serverName == "db.internal" && s.postgres.poolSize == 16)
        #expect(s.postgres.deadlineMilliseconds == 2000 && s.postgres.singleNode)
    }

    @Test func sqliteMakesEveryUserLocal() {
        #expect(ServerConfig().store.isLocal("alice"))
    }

    @Test(arguments: [
        ("[store]\nbackend = \"mysql\"", "t.toml:2: 'store.backend' must be one of \"sqlite\", \"postgres\""),
        ("[store]\nbackend = \"postgres\"", "t.toml: store.postgres.user must name this node's database role"),
        ("[store]\nbackend = \"postgres\"\n[store.postgres]\nuser = \"n\"\nhost = \"db\"\ntls = \"disable\"",
         "t.toml: store.postgres.tls = \"disable\" is allowed only for a Unix socket directory"),
        ("[store.postgres]\ntls = \"prefer\"", "t.toml:2: 'store.postgres.tls' must be \"verify-full\" or \"disable\""),
        ("[store.postgres]\ndeadline = 50", "t.toml:2: 'store.postgres.deadline' must be between 100 and 60000"),
        ("[store.postgres]\nsingle_node = \"yes\"", "t.toml:2: 'store.postgres.single_node' must be true or false"),
        ("[store]\nlocal_users = [\"a b\"]", "t.toml:2: 'store.local_users' holds a user name that cannot be one"),
        ("[store.postgres]\nhots = \"x\"", "t.toml:2: 'store.postgres.hots' is not a setting otpgated knows"),
        ("[store..postgres]", "t.toml:1: a table header must look like [name] or [name.sub]"),
    ])
    func errorsNameFileLineAndKey(text: String, expected: String) {
        do {
            _ = try ServerConfig(parsing: text, name: "t.toml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.message.hasPrefix(expected), "got: \(error.message)")
        }
    }

    /// A Unix socket directory may go without TLS (the kernel is the link).
    @Test func aSocketDirectoryMayDisableTLS() throws {
        let config = try ServerConfig(
            parsing: "[store]\nbackend = \"postgres\"\n[store.postgres]\nuser = \"n\"\nhost = \"/run/postgresql\"\ntls = \"disable\"",
            name: "t.toml")
        #expect(config.store.postgres.tls == .disable)
    }
}
