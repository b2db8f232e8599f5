@testable import OTPGateServer
import Testing

/// The keys of issue 13 items 7 and 8: read, bounded, and consistent.
struct AvailabilityConfigTests {
    @Test func theKeysAreRead() throws {
        let config = try ServerConfig(parsing: """
            [server]
            max_connections = 200
            reserved_connections = 20
            uid_write_rate = 3
            uid_write_burst = 7
            [audit]
            max_age_days = 30
            max_events = 5000
            refusal_window = 0
            prune_interval = 60
            """, name: "t.toml")
        #expect(config.reservedConnections == 20)
        #expect(config.uidWriteRate == 3 && config.uidWriteBurst == 7)
        #expect(config.auditMaxAgeDays == 30 && config.auditMaxEvents == 5000)
        #expect(config.refusalAuditWindow == 0 && config.auditPruneInterval == 60)
    }

    @Test func aSmallerMaxConnectionsScalesTheDefaultReserve() throws {
        let config = try ServerConfig(parsing: "[server]\nmax_connections = 40\n", name: "t.toml")
        #expect(config.reservedConnections == 5)
        #expect(try ServerConfig(parsing: "", name: "t.toml").reservedConnections == 128)
    }

    @Test(arguments: [
        ("[server]\nmax_connections = 10\nreserved_connections = 10\n", "server.reserved_connections must be below server.max_connections"),
        ("[server]\nuid_write_rate = 0\n", "'server.uid_write_rate' must be between 1 and 100000"),
        ("[audit]\nmax_age_days = -1\n", "'audit.max_age_days' must be between 0 and 36500"),
        ("[audit]\nprune_interval = 5\n", "'audit.prune_interval' must be between 10 and 86400"),
    ])
    func badValuesAreRefusedByName(text: String, message: String) {
        #expect {
            _ = try ServerConfig(parsing: text, name: "t.toml")
        } throws: { error in
            "\(error)".contains(message)
        }
    }
}
