import Foundation
import Logging
import OTPCore
@testable import OTPGateStore
import OTPGateTestSupport
import Synchronization

/// A fresh temporary directory (mode 0700), removed by `cleanup()`.
struct TempDir {
    let path: String

    init() throws {
        var template = Array("/tmp/otpgate-test-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw StoreError(.database, "mkdtemp failed") }
        path = String(cString: p)
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

/// A log handler that keeps every line in memory, to prove nothing secret is logged.
final class CapturingLogHandler: LogHandler, Sendable {
    static let lines = Mutex<[String]>([])
    let label: String
    private let meta = Mutex<Logger.Metadata>([:])
    private let level = Mutex<Logger.Level>(.trace)

    init(label: String) { self.label = label }

    var metadata: Logger.Metadata {
        get { meta.withLock { $0 } }
        set { meta.withLock { $0 = newValue } }
    }
    var logLevel: Logger.Level {
        get { level.withLock { $0 } }
        set { level.withLock { $0 = newValue } }
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let line = "\(event.level) \(event.message) \(all.map { "\($0)=\($1)" }.sorted().joined(separator: " "))"
        Self.lines.withLock { $0.append(line) }
    }

    static func logger() -> Logger { Logger(label: "test") { CapturingLogHandler(label: $0) } }
}

/// A monotonic clock the test moves by hand (milliseconds).
final class TestClock: Sendable {
    private let value = Mutex<Int64>(1_000_000)
    var read: @Sendable () -> Int64 { { [self] in value.withLock { $0 } } }
    func advance(seconds: Int64) { value.withLock { $0 += seconds * 1000 } }
}

/// A store in a temporary directory with a fresh key file, whose limiter runs on
/// `clock` (advance it to let waits pass).
struct StoreFixture {
    let dir: TempDir
    let key: MasterKey
    let store: OTPStore
    let clock = TestClock()
    var dbPath: String { dir.file("state/otpgate.db") }
    var keyPath: String { dir.file("master.key") }

    init(policy: LimiterPolicy = .standard, hasher: RecoveryCodeHasher = .fast, now: Int64 = 1_700_000_000) throws {
        dir = try TempDir()
        key = try MasterKey.generate()
        try KeyFile.write(key, to: dir.file("master.key"))
        store = try OTPStore(
            path: dir.file("state/otpgate.db"), key: key, keySource: dir.file("master.key"),
            logger: CapturingLogHandler.logger(), limiterPolicy: policy, recoveryHasher: hasher, monotonic: clock.read,
            now: now)
    }

    func reopen(key: MasterKey? = nil) throws(StoreError) -> OTPStore {
        try OTPStore(
            path: dbPath, key: key ?? self.key, keySource: keyPath, logger: CapturingLogHandler.logger(), now: 1_700_000_000)
    }

    /// Enrols `user` with a new TOTP token (confirmed at step `counter`); returns its id and secret.
    func enroll(
        _ user: String, name: String = "phone", counter: UInt64 = 100, now: Int64 = 1_700_000_000,
        recovery: RecoveryCodeBatch? = nil
    ) throws -> (token: TokenInfo, secret: [UInt8]) {
        let secret = try OTPSecret.generate()
        let pending = try store.beginEnrollment(
            user: user, name: name, parameters: .standard, secret: secret, now: now, ttl: 600)
        let (token, _) = try store.confirmEnrollment(
            id: pending.id, user: user, counter: counter, drift: 0, recoveryCodes: recovery, now: now)
        return (token, secret)
    }
}

extension RecoveryCodeHasher {
    /// Cheap parameters so tests that need many hashes stay fast; the standard
    /// parameters are exercised in their own test.
    static let fast = RecoveryCodeHasher(n: 1 << 4, r: 8, p: 1)
}

/// Runs the store harness to its end and returns its standard output.
@discardableResult
func runHarness(_ arguments: [String]) throws -> String {
    let run = try Command.run(Programs.path("otpgate-store-harness"), arguments)
    guard run.status == 0 else { throw FixtureError("otpgate-store-harness \(arguments): \(run)") }
    return run.stdout
}

/// The store harness running beside a test: its output read line by line while it
/// runs, its stdin the starting gate of the racing modes.
final class Harness {
    private let child: PipedChild

    init(_ arguments: [String]) throws {
        child = try PipedChild(Programs.path("otpgate-store-harness"), arguments)
    }

    /// The next line, or nil at the end of its output (or after a minute of silence).
    func readLine() -> String? {
        if case .line(let bytes) = child.readLine(timeout: .seconds(60)) { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }

    /// Opens the gate of `accept` and `fail` (which wait for a line on stdin).
    func go() throws {
        try child.send(Array("go\n".utf8))
    }

    /// SIGKILL; returns the lines it had written that were not read yet (every one of
    /// them was acknowledged before the kill).
    @discardableResult
    func kill() -> [String] {
        child.process.killAndWait()
        var rest: [String] = []
        while let line = readLine() { rest.append(line) }
        return rest
    }

    /// Its exit status (once it has ended by itself).
    func wait() -> Int32 {
        let (end, stderr) = child.finish(timeout: .seconds(60))
        if !stderr.isEmpty { print("otpgate-store-harness stderr: \(stderr)") }
        return end.signalled ? -1 : end.status
    }
}

func harness(_ arguments: [String]) throws -> Harness {
    try Harness(arguments)
}
