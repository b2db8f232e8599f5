public import Glibc

/// Processes for the PostgreSQL fixture, started with posix_spawn: the child gets
/// /dev/null as stdin, `output` (a file) as stdout and stderr, and no other descriptor
/// (closefrom(3)). Why not Foundation's `Process` or a pipe: tests run in parallel, a
/// postmaster started while another test reads psql's pipe inherited that pipe's write
/// end, and the reader then waited for end of file forever (seen here).
public enum Spawn {
    private static let addCloseFrom: @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32 = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            fatalError("glibc has no posix_spawn_file_actions_addclosefrom_np")
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// Starts `executable`; `append` keeps what `output` already holds.
    public static func start(_ executable: String, _ arguments: [String], output: String, append: Bool = false) throws -> pid_t {
        let out = open(output, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0o644)
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard out >= 0, null >= 0 else { throw FixtureError("cannot open \(output)") }
        defer {
            close(out)
            close(null)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, null, 0)
        posix_spawn_file_actions_adddup2(&actions, out, 1)
        posix_spawn_file_actions_adddup2(&actions, out, 2)
        _ = addCloseFrom(&actions, 3)
        // As from a shell: no blocked signals (the spawning thread's mask is inherited:
        // pgbench -T never ended with it) and SIGPIPE at its default.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw FixtureError("cannot start \(executable): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Waits for `pid` and returns its exit status (128 + signal when killed).
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Whether `pid` (a child of ours) has ended; reaps it if so.
    public static func hasEnded(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == pid
    }

    /// Runs to the end and returns the exit status and everything it wrote; killed and
    /// refused after `timeout` seconds (a psql whose commit waits for a standby that
    /// does not exist would otherwise block its test, and a thread of the pool, forever).
    public static func run(_ executable: String, _ arguments: [String], timeout: Double = 60) throws -> (Int32, String) {
        var template = Array("/tmp/otpgout.XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw FixtureError("mkstemp failed") }
        close(fd)
        let path = String(cString: template)
        defer { unlink(path) }
        let pid = try start(executable, arguments, output: path)
        let until = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { throw FixtureError("waitpid failed for \(executable)") }
            if ContinuousClock.now > until {
                kill(pid, SIGKILL)
                _ = wait(pid)
                throw FixtureError("\(executable) \(arguments.joined(separator: " ")) did not finish in \(timeout) s:\n\(readFile(path) ?? "")")
            }
            usleep(2_000)
        }
        status = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (status, readFile(path) ?? "")
    }

    public static func readFile(_ path: String) -> String? {
        guard let f = fopen(path, "re") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
