import OTPGateConfig
import Testing

/// `mode` and `[relay]`: what a relay's config says, and each value refused.
@Suite("Relay settings")
struct RelaySettingsTests {
    @Test func aRelayIsRead() throws {
        let config = try ServerConfig(parsing: """
            mode = "relay"
            [relay]
            endpoints = ["tier1.example.net:7443", "10.0.0.2:7443", "[fd00::3]:7443"]
            ca_file = "/etc/otpgate/ca.pem"
            certificate_file = "/etc/otpgate/web1.pem"
            key_file = "/etc/otpgate/keys/web1.key"
            deadline = 2000
            self_service_deadline = 8000
            pam_timeout = 3
            connections_per_endpoint = 2
            """, name: "t.toml")
        #expect(config.mode == .relay)
        let r = config.relay
        #expect(r.endpoints == [
            RelayEndpoint(host: "tier1.example.net", port: 7443), RelayEndpoint(host: "10.0.0.2", port: 7443),
            RelayEndpoint(host: "fd00::3", port: 7443),
        ])
        #expect(r.endpoints.map(\.description) == ["tier1.example.net:7443", "10.0.0.2:7443", "[fd00::3]:7443"])
        #expect(r.caFile == "/etc/otpgate/ca.pem" && r.certificateFile == "/etc/otpgate/web1.pem")
        #expect(r.keyFile == "/etc/otpgate/keys/web1.key")
        #expect(r.deadlineMilliseconds == 2000 && r.selfServiceDeadlineMilliseconds == 8000 && r.pamTimeout == 3 && r.connectionsPerEndpoint == 2)
        // root is always local, on a relay as on a tier node.
        #expect(config.relayLocalUsers == ["root"])
    }

    @Test func localUsersAreTheStoresList() throws {
        let config = try ServerConfig(parsing: """
            mode = "relay"
            [store]
            local_users = ["breakglass"]
            [relay]
            endpoints = ["tier1:7443"]
            """, name: "t.toml")
        #expect(config.relayLocalUsers == ["breakglass", "root"])
        // A single host answers everyone itself: the list means nothing to relays there.
        #expect(try ServerConfig(parsing: "[store]\nlocal_users = [\"x\"]", name: "t.toml").relayLocalUsers.isEmpty)
    }

    @Test func theDefaultIsLocal() throws {
        #expect(ServerConfig().mode == .local)
        #expect(try ServerConfig(parsing: "", name: "t.toml").mode == .local)
        #expect(ServerConfig().relay.deadlineMilliseconds < RelaySettings.modulesDefaultTimeout * 1000)
    }

    @Test(arguments: [
        ("mode = \"proxy\"", "t.toml:1: 'mode' must be \"local\" or \"relay\""),
        ("mode = \"relay\"", "t.toml: mode = \"relay\" needs relay.endpoints, the tier's nodes as [\"host:port\", ...]"),
        ("[relay]\nendpoints = [\"tier1\"]",
         "t.toml:2: 'relay.endpoints' holds \"tier1\", which is not host:port (a name or address, and a port from 1 to 65535; [v6]:port for IPv6)"),
        ("[relay]\nendpoints = [\"tier1:0\"]",
         "t.toml:2: 'relay.endpoints' holds \"tier1:0\", which is not host:port (a name or address, and a port from 1 to 65535; [v6]:port for IPv6)"),
        ("[relay]\nendpoints = [\"fd00::1:7443\"]",
         "t.toml:2: 'relay.endpoints' holds \"fd00::1:7443\", which is not host:port (a name or address, and a port from 1 to 65535; [v6]:port for IPv6)"),
        ("[relay]\nendpoints = [\"a b:7443\"]",
         "t.toml:2: 'relay.endpoints' holds \"a b:7443\", which is not host:port (a name or address, and a port from 1 to 65535; [v6]:port for IPv6)"),
        ("[relay]\nendpoints = [\"t:1\", \"t:1\"]", "t.toml:2: 'relay.endpoints' lists t:1 twice"),
        ("[relay]\nendpoints = \"t:1\"", "t.toml:2: 'relay.endpoints' must be an array of strings, like [\"wheel\"]"),
        ("[relay]\nca_file = \"ca.pem\"", "t.toml:2: 'relay.ca_file' must be an absolute path"),
        ("[relay]\ncertificate_file = \"host.pem\"", "t.toml:2: 'relay.certificate_file' must be an absolute path"),
        ("[relay]\nkey_file = \"\"", "t.toml:2: 'relay.key_file' must be an absolute path"),
        ("[relay]\ndeadline = 50", "t.toml:2: 'relay.deadline' must be between 100 and 60000"),
        ("[relay]\ndeadline = 5000",
         "t.toml: relay.deadline (5000 ms) must be below the PAM module's timeout (relay.pam_timeout = 5 s), or the module gives up before the relay can answer 'unavailable'"),
        ("[relay]\ndeadline = 2500\npam_timeout = 2",
         "t.toml: relay.deadline (2500 ms) must be below the PAM module's timeout (relay.pam_timeout = 2 s), or the module gives up before the relay can answer 'unavailable'"),
        ("[relay]\nself_service_deadline = 99", "t.toml:2: 'relay.self_service_deadline' must be between 100 and 60000"),
        ("[relay]\npam_timeout = 61", "t.toml:2: 'relay.pam_timeout' must be between 1 and 60"),
        ("[relay]\nconnections_per_endpoint = 0", "t.toml:2: 'relay.connections_per_endpoint' must be between 1 and 64"),
        ("[relay]\nendpoint = [\"t:1\"]", "t.toml:2: 'relay.endpoint' is not a setting otpgated knows"),
        ("mode = \"relay\"\n[relay]\nendpoints = [\"t:1\"]\n[store]\nbackend = \"postgres\"\n[store.postgres]\nuser = \"n\"",
         "t.toml: mode = \"relay\" holds no store of fleet users: remove store.backend = \"postgres\" (the tier's nodes have it)"),
    ])
    func badValuesAreRefusedClearly(text: String, message: String) {
        #expect(throws: ConfigError(message)) { try ServerConfig(parsing: text, name: "t.toml") }
    }
}
