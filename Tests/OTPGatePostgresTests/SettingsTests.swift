import Foundation
import Glibc
import OTPGatePostgres
import OTPGatePostgresTestSupport
import PostgresNIO
import OTPGateTestSupport
import Testing

@Suite("PostgreSQL settings and the password file", .serialized, .ownThreadsUnqueued)
struct SettingsTests {
    func refusal(_ settings: PostgresSettings) -> String? {
        do throws(PostgresStoreError) { try settings.validate(); return nil } catch { return error.message }
    }

    @Test func validationNamesTheKeyAndTheFix() {
        let base = PostgresSettings(endpoint: .tcp(host: "127.0.0.1"), database: "otpgate", user: "node1")
        #expect(refusal(base) == nil)
        var remote = base
        remote.endpoint = .tcp(host: "db.example.net")
        #expect(refusal(remote)?.contains("TLS is off for the remote host db.example.net") == true)
        remote.tls = .verifyFull(caFile: "/etc/otpgate/ca.pem")
        #expect(refusal(remote) == nil)
        var address = base
        address.endpoint = .tcp(host: "10.0.0.5")
        address.tls = .verifyFull(caFile: "/etc/otpgate/ca.pem")
        #expect(refusal(address)?.contains("server_name") == true)
        var pool = base
        pool.poolSize = 0
        #expect(refusal(pool)?.contains("pool_size") == true)
        var deadline = base
        deadline.deadline = .zero
        #expect(refusal(deadline)?.contains("store.postgres.deadline") == true)
        var socket = base
        socket.endpoint = .socket(directory: "relative")
        #expect(refusal(socket)?.contains("absolute") == true)
        var user = base
        user.user = ""
        #expect(refusal(user)?.contains("user") == true)
    }

    @Test func passwordFileIsCheckedLikeTheMasterKeyAndWorksOverTCP() async throws {
        let server = try PostgresServer()
        try server.psql("CREATE ROLE node1 LOGIN PASSWORD 'correct horse'")
        let dir = server.root + "/secrets"
        mkdir(dir, 0o700)
        let file = dir + "/pg-password"
        FileManager.default.createFile(atPath: file, contents: Data("correct horse\n".utf8), attributes: [.posixPermissions: 0o644])
        var settings = PostgresSettings(
            endpoint: .tcp(host: "127.0.0.1", port: server.port), database: "postgres", user: "node1",
            password: .file(file), poolSize: 1, deadline: .seconds(2), singleNode: true)
        let statements = [PostgresStatement(name: "me", sql: "SELECT current_user::text", access: .readOnly)]
        do throws(PostgresStoreError) {
            _ = try PostgresPool(settings: settings, statements: statements, logger: testLogger)
            Issue.record("a mode 0644 password file was accepted")
        } catch {
            #expect(error.code == .password)
            #expect(error.message.contains("mode 0644") && error.message.contains("chmod 600") && error.message.contains(file))
            #expect(!error.message.contains("correct horse"))
        }
        let link = dir + "/link"
        symlink(file, link)
        settings.password = .file(link)
        #expect(throws: PostgresStoreError.self) { try PostgresPool(settings: settings, statements: statements, logger: testLogger) }

        chmod(file, 0o600)
        settings.password = .file(file)
        let pool = try PostgresPool(settings: settings, statements: statements, logger: testLogger)
        defer { pool.shutdown() }
        let me = await timedRun(pool, "me")
        #expect(try me.rows?.first?.decode(String.self, column: 0) == "node1", "\(String(describing: me.error))")

        // A wrong password: a clear connect error, nothing sent, the password not in it.
        FileManager.default.createFile(atPath: file, contents: Data("wrong".utf8), attributes: [.posixPermissions: 0o600])
        let wrong = try PostgresPool(settings: settings, statements: statements, logger: testLogger)
        defer { wrong.shutdown() }
        let refused = await timedRun(wrong, "me")
        #expect(refused.error?.code == .connectFailed)
        #expect(refused.error?.sqlState == "28P01", "\(String(describing: refused.error))")
        #expect(refused.error?.message.contains("password authentication failed") == true)

        // A systemd credential: the same file under $CREDENTIALS_DIRECTORY.
        FileManager.default.createFile(atPath: dir + "/otpgate.pg", contents: Data("correct horse".utf8), attributes: [.posixPermissions: 0o400])
        settings.password = .credential("otpgate.pg")
        let credential = try PostgresPool(settings: settings, statements: statements, credentialsDirectory: dir, logger: testLogger)
        defer { credential.shutdown() }
        #expect(await timedRun(credential, "me").error == nil)
        do throws(PostgresStoreError) {
            _ = try PostgresPool(settings: settings, statements: statements, credentialsDirectory: nil, logger: testLogger)
            Issue.record("a credential without CREDENTIALS_DIRECTORY was accepted")
        } catch {
            #expect(error.message.contains("CREDENTIALS_DIRECTORY"))
        }
    }
}
