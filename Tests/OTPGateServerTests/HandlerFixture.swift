import Dispatch
import Foundation
import Glibc
import Logging
import OTPCore
import OTPGateProtocol
@testable import OTPGateServer
@testable import OTPGateStore
import Synchronization
import Testing

// A few fixtures copied from Tests/OTPGateStoreTests/TestSupport.swift (TempDir, the
// hand-moved clock, the cheap recovery hasher, the capturing log handler), with the
// wall clock added beside the monotonic one, until the shared test-support target
// takes them (issue 10, item 3).

/// A fresh temporary directory (mode 0700) under /tmp, short enough for socket paths;
/// removed by `cleanup()`.
struct TempDir: Sendable {
    let path: String

    init() throws {
        var template = Array("/tmp/otpgate-srv-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw DaemonError("mkdtemp failed: \(String(cString: strerror(errno)))") }
        path = String(cString: p)
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

/// The daemon's two clocks, moved by hand and together: wall seconds (what
/// `RequestHandler` reads: TOTP steps, enrolment expiry, audit times, `retry_after`)
/// and monotonic milliseconds (what the limiter's waits run on).
final class TestClock: Sendable {
    /// Where the wall clock starts.
    static let start: Int64 = 1_700_000_000
    private let state = Mutex<(wall: Int64, monotonic: Int64)>((TestClock.start, 5_000_000))

    var now: @Sendable () -> Int64 { { [self] in state.withLock { $0.wall } } }
    var monotonic: @Sendable () -> Int64 { { [self] in state.withLock { $0.monotonic } } }
    var wall: Int64 { now() }

    func advance(seconds: Int64) {
        state.withLock { s in
            s.wall += seconds
            s.monotonic += seconds * 1000
        }
    }
}

/// A log handler keeping its lines in memory (per instance), to check what was
/// logged and that no code or secret was.
final class CapturingLog: Sendable {
    let lines = Mutex<[String]>([])

    var logger: Logger {
        var logger = Logger(label: "test") { [self] label in Handler(label: label, sink: self) }
        logger.logLevel = .trace
        return logger
    }

    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    /// The lines that contain `text`.
    func lines(containing text: String) -> [String] { lines.withLock { $0.filter { $0.contains(text) } } }

    struct Handler: LogHandler {
        let label: String
        let sink: CapturingLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            let line = "\(event.level) \(event.message) \(all.map { "\($0)=\($1)" }.sorted().joined(separator: " "))"
            sink.lines.withLock { $0.append(line) }
        }
    }
}

extension RecoveryCodeHasher {
    /// Cheap parameters: enrolment hashes ten recovery codes.
    static let fast = RecoveryCodeHasher(n: 1 << 4, r: 8, p: 1)
}

/// A request handler over a real SQLite store in a temporary directory, on a clock
/// the test moves. Everything the handler does is committed to that store.
final class HandlerFixture: Sendable {
    let dir: TempDir
    let clock = TestClock()
    let log = CapturingLog()
    let config: ServerConfig
    let key: MasterKey
    let store: OTPStore
    let handler: RequestHandler
    /// Holds one request inside the handler when armed (see `RequestGate`).
    let gate = RequestGate()
    /// What `ClockMonitor` is told the kernel says (adjtimex state 1 is synchronised).
    let adjtimex = AdjtimexState()

    /// The admin socket's view of root (every op, no current code needed).
    static let admin = Peer(uid: 0, gid: 0, pid: 1, socket: .admin, userName: "root", isAdmin: true, isPrivileged: true)
    /// sshd or sudo asking on the public socket (the PAM path).
    static let pam = Peer(uid: 0, gid: 0, pid: 2, socket: .public, userName: "root", isAdmin: true, isPrivileged: true)

    init(_ configure: (inout ServerConfig) -> Void = { _ in }) throws {
        dir = try TempDir()
        var config = ServerConfig()
        config.useStateDirectory(dir.path)
        config.issuer = "test"
        configure(&config)
        self.config = config
        key = try MasterKey.generate()
        try KeyFile.write(key, to: config.keyFile)
        let logger = log.logger
        store = try OTPStore(
            path: config.databasePath, key: key, keySource: config.keyFile, logger: logger,
            limiterPolicy: LimiterPolicy(config.limiter), recoveryHasher: .fast, monotonic: clock.monotonic,
            now: clock.wall)
        let adjtimex = adjtimex
        let monitor = ClockMonitor(logger: logger) { (adjtimex.state, 1234) }
        let (gate, now) = (gate, clock.now)
        handler = RequestHandler(
            store: store, config: config, clock: monitor, logger: logger, keySource: config.keyFile,
            now: { gate.pass(); return now() })
    }

    deinit { dir.cleanup() }

    func call(_ payload: Request.Payload, as peer: Peer = HandlerFixture.admin, id: String? = "t") -> Reply {
        // The reply as the client reads it: the line on the wire, secrets included.
        let line = handler.handle(Request(id: id, payload: payload), peer: peer).line()
        return line.withUnsafeBytes { bytes in
            do { return try Reply.parse(line: Array(bytes.dropLast())) } catch { fatalError("the handler wrote a line that does not parse: \(error)") }
        }
    }

    func verify(_ user: String, _ code: String, rhost: String? = nil) -> Reply {
        call(.verify(VerifyRequest(user: user, code: code, service: "sshd", rhost: rhost)), as: Self.pam)
    }

    /// Enrols a token through `enroll.begin` and `enroll.confirm`, confirmed with the
    /// code of the clock's current step (TOTP) or of counter 0 (HOTP).
    /// `code`: a current code of an existing token (needed on the public socket).
    func enroll(
        _ user: String, kind: TokenKind = .totp, name: String? = nil, as peer: Peer = HandlerFixture.admin, code current: String? = nil
    ) throws -> EnrolledToken {
        let begun = try call(.enrollBegin(EnrollBeginRequest(user: user, name: name, kind: kind, code: current)), as: peer)
            .result(EnrollBeginResult.self)
        var token = EnrolledToken(kind: kind, secret: try Base32.decode(begun.secret), clock: clock)
        let code = kind == .totp ? token.code() : token.code(counter: 0)
        let confirmed = try call(.enrollConfirm(EnrollConfirmRequest(user: user, enrollment: begun.enrollment, code: code)), as: peer)
            .result(EnrollConfirmResult.self)
        token.recoveryCodes = confirmed.recoveryCodes ?? []
        token.id = confirmed.token
        token.uriSecret = begun.secret
        return token
    }

    /// The events audited for `user`, oldest first.
    func auditEvents(_ user: String) throws -> [String] {
        try store.auditEvents(user: user, since: nil, limit: 1000).map(\.event)
    }
}

/// The kernel's clock state as the fixture's `ClockMonitor` sees it.
final class AdjtimexState: Sendable {
    private let value = Atomic<Int32>(1)
    var state: Int32 {
        get { value.load(ordering: .relaxed) }
        set { value.store(newValue, ordering: .relaxed) }
    }
}

/// A token's secret, to compute its codes on the fixture's clock.
struct EnrolledToken {
    let kind: TokenKind
    let secret: [UInt8]
    let clock: TestClock
    /// Handed out with the user's first token.
    var recoveryCodes: [String] = []
    var id = ""
    /// The secret as enroll.begin handed it out (Base32), to look for in logs.
    var uriSecret = ""

    /// The TOTP code `steps` steps from the clock's current one.
    func code(steps: Int64 = 0) -> String {
        HOTP.codeString(secret: secret, counter: UInt64(clock.wall / 30 + steps))
    }

    func code(counter: UInt64) -> String {
        HOTP.codeString(secret: secret, counter: counter)
    }

    /// A code that matches no step or counter in `around` of the current one.
    func wrongCode(around: ClosedRange<Int64> = -20...20) -> String {
        let taken = Set(around.map { kind == .totp ? code(steps: $0) : code(counter: UInt64(max(0, $0 + 20))) })
        return (0..<1_000_000).lazy.map { String(format: "%06d", $0) }.first { !taken.contains($0) }!
    }
}

extension Reply {
    /// The wire error code, or nil for a success.
    var error: WireErrorCode? {
        if case .failure(let f) = outcome { return f.code }
        return nil
    }

    var failure: ReplyFailure? {
        if case .failure(let f) = outcome { return f }
        return nil
    }

    var fields: [String: JSONValue] {
        if case .success(let f) = outcome { return f }
        return [:]
    }
}

/// Holds the next request that reaches the handler (its first clock read) until
/// released, and says when one is held: a request in flight, for the tests of
/// graceful shutdown. Only requests are held: they run on the daemon's NIO thread
/// pools ("TP-#n" threads) or the public socket's acceptors ("otpgate-accept"), while
/// the housekeeping that also reads the clock runs in tasks.
final class RequestGate: Sendable {
    private let armed = Atomic<Bool>(false)
    private let entered = DispatchSemaphore(value: 0)
    private let released = DispatchSemaphore(value: 0)

    func arm() { armed.store(true, ordering: .sequentiallyConsistent) }

    func pass() {
        guard Self.onRequestThread(),
            armed.compareExchange(expected: true, desired: false, ordering: .sequentiallyConsistent).exchanged
        else { return }
        entered.signal()
        released.wait()
    }

    /// Whether a request is held, waiting at most `timeout`.
    func waitUntilHeld(timeout: Duration = .seconds(20)) -> Bool {
        entered.wait(timeout: .now() + .seconds(Int(timeout.components.seconds))) == .success
    }

    func release() { released.signal() }

    static func onRequestThread() -> Bool {
        // The calling thread's name, as the kernel has it.
        let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
        return name.hasPrefix("TP-#") || name.hasPrefix(PublicAcceptor.threadName)
    }
}
