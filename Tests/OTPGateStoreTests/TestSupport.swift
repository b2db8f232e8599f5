import Foundation
import Logging
import OTPCore
@testable import OTPGateStore
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

/// The path of a sibling executable built with the tests.
func builtExecutable(_ name: String) -> String {
    let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent(name).path
}

/// Runs the store harness and returns its standard output.
@discardableResult
func runHarness(_ arguments: [String]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: builtExecutable("otpgate-store-harness"))
    p.arguments = arguments
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// A child process whose standard output is read line by line while it runs.
final class Child {
    let process = Process()
    private let out = Pipe()
    private var buffer = Data()

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = out
        try process.run()
    }

    /// The next line, or nil at end of output.
    func readLine() -> String? {
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                buffer = Data(buffer[(nl + 1)...])
                return line
            }
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func wait() -> Int32 {
        process.waitUntilExit()
        return process.terminationStatus
    }
}

func harness(_ arguments: [String]) throws -> Child {
    try Child(builtExecutable("otpgate-store-harness"), arguments)
}
