import Foundation
import Glibc
import OTPGateTestSupport
import Synchronization

/// One `initdb` per superuser name for the whole test process: every PostgresServer
/// copies that cluster (`cp -a`, ownership and modes kept) instead of running initdb
/// again. initdb costs about 1.7 s of CPU and a copy 0.4 s; a test process starts
/// about twenty servers. Each copy is an independent cluster (its own data directory,
/// WAL and settings); only the bootstrap that initdb does is shared.
///
/// Clusters live on tmpfs (`/dev/shm`) when it is there: creating a cluster's thousand
/// files costs 0.6-1.0 s of kernel time on this machine's ext4 and 0.07 s on tmpfs.
/// `fsync = on` stays set; what these tests kill is the server process, never the
/// machine, so the page cache survives on either, and what a crash loses (WAL buffers
/// in the server's memory, the `synchronous_commit = off` control) is the same. The
/// system tests (Tests/System/pgfixture.py) and the benchmark keep their clusters on
/// disk.
enum InitdbTemplate {
    /// `/dev/shm` if this process can make directories there, else `/tmp`.
    static let scratch: String = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp"

    private static let made = Mutex<[String: String]>([:])
    nonisolated(unsafe) private static var roots: [String] = []

    /// The data directory of a fresh cluster whose superuser is `superuser`, owned by
    /// `runAs` (or this process's user), made on first use.
    static func dataDirectory(superuser: String, runAs: (uid: uid_t, gid: gid_t)?) throws -> String {
        try made.withLock { made -> String in
            if let done = made[superuser] { return done }
            var template = Array("\(scratch)/otpgpg-initdb.XXXXXX".utf8CString)
            guard let dir = mkdtemp(&template) else { throw FixtureError("mkdtemp failed") }
            let root = String(cString: dir)
            if roots.isEmpty { atexit { for r in InitdbTemplate.roots { try? FileManager.default.removeItem(atPath: r) } } }
            roots.append(root)
            var executable = PostgresServer.bin + "/initdb"
            var arguments = ["-D", root + "/data", "-U", superuser, "--auth-local=trust", "--auth-host=scram-sha-256",
                             "-E", "UTF8", "--no-sync", "--no-instructions"]
            if let runAs {
                chown(root, runAs.uid, runAs.gid)
                arguments = ["--reuid=\(runAs.uid)", "--regid=\(runAs.gid)", "--clear-groups", "--", executable] + arguments
                executable = "/usr/bin/setpriv"
            }
            let (status, output) = try PostgresServer.run(executable, arguments)
            guard status == 0 else { throw FixtureError("initdb failed (\(status)):\n\(output)") }
            made[superuser] = root + "/data"
            return root + "/data"
        }
    }

    /// A copy of the template for `superuser` at `destination` (which must not exist).
    static func copy(superuser: String, runAs: (uid: uid_t, gid: gid_t)?, to destination: String) throws {
        let source = try dataDirectory(superuser: superuser, runAs: runAs)
        let (status, output) = try PostgresServer.run("/bin/cp", ["-a", source, destination])
        guard status == 0 else { throw FixtureError("cp -a \(source) \(destination) failed (\(status)):\n\(output)") }
    }
}
