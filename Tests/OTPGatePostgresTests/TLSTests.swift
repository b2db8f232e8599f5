import Foundation
import Glibc
import OTPGatePostgres
import OTPGatePostgresTestSupport
import PostgresNIO
import OTPGateTestSupport
import Testing

@Suite("PostgreSQL pool: TLS verify-full", .serialized, .ownThreadsUnqueued)
struct TLSTests {
    /// A CA and a server certificate for db.test, made with openssl.
    static func makeCertificates(in dir: String, owner: (uid_t, gid_t)?) throws {
        let openssl = "/usr/bin/openssl"
        func run(_ args: [String]) throws {
            let (status, output) = try PostgresServer.run(openssl, args)
            guard status == 0 else { throw FixtureError("openssl \(args.joined(separator: " ")):\n\(output)") }
        }
        for ca in ["ca", "other-ca"] {
            try run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/\(ca).key", "-out", "\(dir)/\(ca).pem",
                     "-days", "2", "-subj", "/CN=otpgate test \(ca)"])
        }
        try run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(dir)/server.key", "-out", "\(dir)/server.csr", "-subj", "/CN=db.test"])
        // No IP address in the certificate: NIOSSL accepts a certificate whose IP SAN is
        // the connected address whatever server name was asked for.
        try "subjectAltName=DNS:db.test\n".write(toFile: "\(dir)/san.ext", atomically: true, encoding: .utf8)
        try run(["x509", "-req", "-in", "\(dir)/server.csr", "-CA", "\(dir)/ca.pem", "-CAkey", "\(dir)/ca.key", "-CAcreateserial",
                 "-out", "\(dir)/server.crt", "-days", "2", "-extfile", "\(dir)/san.ext"])
        chmod("\(dir)/server.key", 0o600)
        if let owner { chown("\(dir)/server.key", owner.0, owner.1) }
    }

    @Test func verifyFullChecksTheChainAndTheName() async throws {
        var template = Array("/tmp/otpgtls.XXXXXX".utf8CString)
        let dir = String(cString: try #require(mkdtemp(&template)))
        defer { _ = try? PostgresServer.run("/bin/rm", ["-rf", dir]) }
        chmod(dir, 0o755)
        let pw = geteuid() == 0 ? getpwnam("postgres") : nil
        try Self.makeCertificates(in: dir, owner: pw.map { ($0.pointee.pw_uid, $0.pointee.pw_gid) })
        let server = try PostgresServer(config: ["ssl = on", "ssl_cert_file = '\(dir)/server.crt'", "ssl_key_file = '\(dir)/server.key'"])
        try server.psql("CREATE ROLE node1 LOGIN PASSWORD 'tls secret'")
        let passwordFile = dir + "/pw"
        FileManager.default.createFile(atPath: passwordFile, contents: Data("tls secret".utf8), attributes: [.posixPermissions: 0o600])
        let statements = [PostgresStatement(name: "ssl", sql: "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()", access: .readOnly)]

        func attempt(ca: String, serverName: String?) async throws -> Timed {
            let settings = PostgresSettings(
                endpoint: .tcp(host: "127.0.0.1", port: server.port), database: "postgres", user: "node1",
                password: .file(passwordFile), tls: .verifyFull(caFile: "\(dir)/\(ca).pem", serverName: serverName),
                poolSize: 1, deadline: .seconds(3), singleNode: true)
            let pool = try PostgresPool(settings: settings, statements: statements, logger: testLogger)
            defer { pool.shutdown() }
            return await timedRun(pool, "ssl")
        }
        let good = try await attempt(ca: "ca", serverName: "db.test")
        #expect(try good.rows?.first?.decode(String.self, column: 0) == "true", "\(String(describing: good.error))")
        let wrongName = try await attempt(ca: "ca", serverName: "other.test")
        #expect(wrongName.error?.code == .connectFailed, "a certificate for db.test was accepted as other.test")
        let wrongCA = try await attempt(ca: "other-ca", serverName: "db.test")
        #expect(wrongCA.error?.code == .connectFailed, "a certificate from an unknown CA was accepted")
    }
}
