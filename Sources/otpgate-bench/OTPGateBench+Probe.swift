import ArgumentParser
import Foundation
import Glibc
import Logging
import OTPCore
import OTPGateProtocol
import OTPGateStore

extension OTPGateBench {
    /// The costs that bound verify throughput and latency, each measured alone.
    struct Probe: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure the parts a verify is made of: fsync, a durable SQLite commit, HMAC, AES-GCM, a socket round trip, a daemon round trip.",
            discussion: """
                fsync: 4 KiB appended to a file, then fdatasync (what a WAL commit does),
                in --dir. Commit: one store write (an audit event) per transaction, one
                thread, through OTPStore with synchronous=FULL. HMAC: one HOTP code (one
                HMAC-SHA1); verify: OTPVerifier as the daemon calls it (HOTP look-ahead 10:
                22 HMACs; TOTP window 1: 3). Unseal: one AES-256-GCM open with the store's
                binding. Socket: 100-byte ping-pong over a Unix stream socketpair between two
                threads. Daemon: health and verify over one connection, one at a time, to a
                real otpgated.
                """)

        @Option(help: "Directory on the disk to measure (fsync, the store, the daemon's state).")
        var dir = "/var/tmp"

        @Option(help: "The otpgated binary (default: next to this one).")
        var otpgated: String?

        @Option(help: "Repetitions of the slow probes (fsync, commit).")
        var count = 2000

        @Flag(help: "Print one JSON object instead of text.")
        var json = false

        func run() throws {
            try BenchEnvironment.refuseTmpfs(dir)
            var template = Array((dir + "/otpgate-probe-XXXXXX").utf8CString)
            guard let p = mkdtemp(&template) else { throw BenchError("mkdtemp in \(dir) failed") }
            let work = String(cString: p)
            defer { try? FileManager.default.removeItem(atPath: work) }
            chmod(work, 0o755)

            var results: [(String, LatencySummary)] = []
            func show(_ name: String, _ s: LatencySummary) {
                results.append((name, s))
                if !json { print(name.padding(toLength: 44, withPad: " ", startingAt: 0) + s.microsLine) }
            }
            if !json { print("== probes in \(work) (µs); machine: \(MachineState.summary())") }
            show("fsync: 4 KiB append + fdatasync", try Self.fsync(in: work, count: count))
            show("fsync: 4 KiB append + fsync", try Self.fsync(in: work, count: count, full: true))
            show("store: one durable commit (1 thread)", try Self.commit(in: work, count: count))
            show("HMAC-SHA1 (one HOTP code)", Self.hmac(count: 200_000))
            show("verify HOTP, look-ahead 10 (22 HMACs)", Self.verifier(kind: .hotp, count: 20_000))
            show("verify TOTP, window 1 (3 HMACs)", Self.verifier(kind: .totp, count: 100_000))
            show("store: verificationContext (read + unseal)", try Self.contextRead(in: work, count: 20_000))
            show("protocol: parse a verify request", Self.parseRequest(count: 50_000))
            show("protocol: encode a verify reply line", Self.encodeReply(count: 50_000))
            // Before and after issue 14.2, alternating in one loop so both see the same
            // moments of a shared machine.
            let paths = Self.jsonBeforeAfter(count: 50_000)
            show("JSON parse, JSONDecoder (before)", paths.parseOld)
            show("JSON parse, JSONReader (now)", paths.parseNew)
            show("reply, JSONEncoder round trips (before)", paths.encodeOld)
            show("reply, JSONValueEncoder+JSONWriter (now)", paths.encodeNew)
            let hotp = Self.hotpBeforeAfter(count: 20_000)
            show("22 HOTP codes, a key set-up each (before)", hotp.old)
            show("verify HOTP, one prepared key (now)", hotp.new)
            show("Unix socket round trip (socketpair)", try Self.socketRoundTrip(count: 100_000))
            let common = try CommonOptions.parse(otpgated.map { ["--otpgated", $0] } ?? [])
            let daemon = try Self.daemonRoundTrips(in: work, otpgated: common.otpgatedPath(), count: count)
            show("daemon: health round trip (1 connection)", daemon.health)
            show("daemon: valid verify round trip (1 conn)", daemon.verify)
            show("daemon: connect, valid verify, close", daemon.fresh)
            show("same, 20 ms apart (as PAM logins come)", daemon.spaced)
            if json {
                var object: [String: Any] = [:]
                for (name, s) in results {
                    object[name] = ["p50_us": Double(s.p50) / 1e3, "p99_us": Double(s.p99) / 1e3, "mean_us": s.mean / 1e3, "count": s.count]
                }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            }
        }

        static func time(_ count: Int, _ body: () throws -> Void) rethrows -> LatencySummary {
            var samples: [UInt64] = []
            samples.reserveCapacity(count)
            for _ in 0..<count {
                let t0 = Monotonic.now()
                try body()
                samples.append(Monotonic.now() - t0)
            }
            return LatencySummary(samples)
        }

        /// Like a WAL: append a page, sync; start over at 4 MiB (as a checkpointed WAL restarts).
        static func fsync(in dir: String, count: Int, full: Bool = false) throws -> LatencySummary {
            let path = dir + "/fsync-probe"
            let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw BenchError("open \(path): \(String(cString: strerror(errno)))") }
            defer { close(fd); unlink(path) }
            let page = [UInt8](repeating: 0x5a, count: 4096)
            var offset: off_t = 0
            return try time(count) {
                guard pwrite(fd, page, page.count, offset) == page.count else { throw BenchError("pwrite failed") }
                offset = (offset + 4096) % (4 << 20)
                guard (full ? Glibc.fsync(fd) : fdatasync(fd)) == 0 else { throw BenchError("fsync failed") }
            }
        }

        static func openStore(_ dir: String) throws -> OTPStore {
            let key = try MasterKey.generate()
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            chmod(dir, 0o755)
            try KeyFile.write(key, to: dir + "/master.key")
            return try OTPStore(
                path: dir + "/store/otpgate.db", key: key, keySource: dir + "/master.key",
                logger: Logger(label: "probe") { _ in SwiftLogNoOpLogHandler() }, now: Int64(Date().timeIntervalSince1970))
        }

        static func commit(in dir: String, count: Int) throws -> LatencySummary {
            let store = try openStore(dir + "/commit")
            let event = AuditEvent(time: Int64(Date().timeIntervalSince1970), event: "probe", user: "probe")
            return try time(count) { _ = try store.appendAudit(event) }
        }

        static func hmac(count: Int) -> LatencySummary {
            let secret = [UInt8](repeating: 7, count: 20)
            var sink = 0
            let s = time(count) { sink &+= Int(HOTP.code(secret: secret, counter: UInt64(sink & 0xffff))[0]) }
            if sink == 42 { print("") }
            return s
        }

        static func verifier(kind: OTPKind, count: Int) -> LatencySummary {
            let secret = [UInt8](repeating: 9, count: 20)
            let parameters = try! OTPParameters(kind: kind)
            return time(count) {
                switch kind {
                case .hotp:
                    _ = try? OTPVerifier.verifyHOTP(code: "000000", secret: secret, parameters: parameters, lookAhead: 10, watermark: 100)
                case .totp:
                    _ = try? OTPVerifier.verifyTOTP(code: "000000", secret: secret, parameters: parameters, at: 1_700_000_000, window: 1, watermark: nil)
                }
            }
        }

        static func contextRead(in dir: String, count: Int) throws -> LatencySummary {
            let population = try Population.create(directory: dir + "/ctx", users: 1000, kind: .hotp, period: 30) { _ in }
            let key = try KeyFile.load(path: population.keyPath)
            let store = try OTPStore(
                path: population.databasePath, key: key, keySource: population.keyPath,
                logger: Logger(label: "probe") { _ in SwiftLogNoOpLogHandler() }, now: Int64(Date().timeIntervalSince1970))
            var i = 0
            return try time(count) {
                _ = try store.verificationContext(user: Population.userName(i % 1000), now: 1_700_000_000)
                i += 1
            }
        }

        /// What OTPGateProtocol costs per verify, in-process: the daemon parses every
        /// request line and encodes every reply.
        static func parseRequest(count: Int) -> LatencySummary {
            let line = Array(#"{"v":1,"op":"verify","user":"bench1234","code":"123456","service":"otpgate-bench"}"#.utf8)
            return time(count) { _ = try? Request.parse(line: line) }
        }

        static func encodeReply(count: Int) -> LatencySummary {
            time(count) {
                _ = Reply.success(id: nil, result: VerifyResult(factor: .totp, token: "phone", recoveryRemaining: 10)).line
            }
        }

        /// The old JSON path (JSONDecoder into JSONValue; a result through JSONEncoder
        /// and JSONDecoder, the reply through JSONEncoder) against the new one, on the
        /// daemon's verify request and reply.
        static func jsonBeforeAfter(count: Int) -> (parseOld: LatencySummary, parseNew: LatencySummary, encodeOld: LatencySummary, encodeNew: LatencySummary) {
            let line = Array(#"{"v":1,"op":"verify","user":"bench1234","code":"123456","service":"otpgate-bench"}"#.utf8)
            let result = VerifyResult(factor: .totp, token: "phone", recoveryRemaining: 10)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            var samples: [[UInt64]] = [[], [], [], []]
            for _ in 0..<count {
                var t = Monotonic.now()
                _ = try? JSONDecoder().decode(JSONValue.self, from: Data(line))
                samples[0].append(Monotonic.now() - t)
                t = Monotonic.now()
                _ = try? JSONValue.parse(line)
                samples[1].append(Monotonic.now() - t)
                t = Monotonic.now()
                if case .object(var fields)? = try? JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(result)) {
                    fields["ok"] = true
                    fields["v"] = 1
                    let text = (try? encoder.encode(JSONValue.object(fields))).map { String(decoding: $0, as: UTF8.self) + "\n" }
                    if text?.isEmpty ?? true { print("") }
                }
                samples[2].append(Monotonic.now() - t)
                t = Monotonic.now()
                _ = Reply.success(id: nil, result: result).line
                samples[3].append(Monotonic.now() - t)
            }
            return (LatencySummary(samples[0]), LatencySummary(samples[1]), LatencySummary(samples[2]), LatencySummary(samples[3]))
        }

        /// HOTP look-ahead 10 as before (each of the 22 codes set its HMAC key up: what
        /// `HOTP.code` still does for one code) against the verifier now (one prepared
        /// key for all 22), alternating.
        static func hotpBeforeAfter(count: Int) -> (old: LatencySummary, new: LatencySummary) {
            let secret = [UInt8](repeating: 9, count: 20)
            let parameters = try! OTPParameters(kind: .hotp)
            var old: [UInt64] = []
            var new: [UInt64] = []
            var sink = 0
            for _ in 0..<count {
                var t = Monotonic.now()
                for counter in UInt64(90)...UInt64(111) { sink &+= Int(HOTP.code(secret: secret, counter: counter)[0]) }
                old.append(Monotonic.now() - t)
                t = Monotonic.now()
                _ = try? OTPVerifier.verifyHOTP(code: "000000", secret: secret, parameters: parameters, lookAhead: 10, watermark: 100)
                new.append(Monotonic.now() - t)
            }
            if sink == 42 { print("") }
            return (LatencySummary(old), LatencySummary(new))
        }

        static func socketRoundTrip(count: Int) throws -> LatencySummary {
            var fds: [Int32] = [0, 0]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { throw BenchError("socketpair failed") }
            defer { close(fds[0]); close(fds[1]) }
            let peer = fds[1]
            let echo = Thread {
                var buffer = [UInt8](repeating: 0, count: 128)
                while true {
                    let n = read(peer, &buffer, buffer.count)
                    if n <= 0 { return }
                    _ = write(peer, buffer, n)
                }
            }
            echo.start()
            let message = [UInt8](repeating: 0x61, count: 100)
            var reply = [UInt8](repeating: 0, count: 128)
            let s = time(count) {
                _ = write(fds[0], message, message.count)
                var got = 0
                while got < message.count { got += max(0, read(fds[0], &reply, reply.count)) }
            }
            shutdown(fds[0], Int32(SHUT_RDWR))
            return s
        }

        static func daemonRoundTrips(
            in dir: String, otpgated: String, count: Int
        ) throws -> (health: LatencySummary, verify: LatencySummary, fresh: LatencySummary, spaced: LatencySummary) {
            let stateDir = dir + "/daemon"
            let population = try Population.create(directory: stateDir, users: 1000, kind: .hotp, period: 30) { _ in }
            try "# probe\n".write(toFile: stateDir + "/probe.toml", atomically: true, encoding: .utf8)
            let daemon = try DaemonProcess(
                executable: otpgated, stateDirectory: stateDir, config: stateDir + "/probe.toml", logPath: stateDir + "/otpgated.log")
            defer { daemon.stop() }
            _ = try daemon.waitUntilReady()
            let connection = try LineConnection(path: daemon.socketPath)
            let health = Array(#"{"v":1,"op":"health"}"#.utf8) + [0x0A]
            for _ in 0..<200 {
                try connection.send(health)
                _ = try connection.receiveLine { _ in 0 }
            }
            let h = try time(count) {
                try connection.send(health)
                _ = try connection.receiveLine { _ in 0 }
            }
            var i = 0
            var failures = 0
            // HOTP: the next counter of the next user.
            func verify(on connection: LineConnection) throws {
                let user = i % 1000
                let counter = population.counters[user]
                let line = #"{"v":1,"op":"verify","user":"\#(Population.userName(user))","code":""#
                    + String(decoding: population.code(of: user, counter: counter), as: UTF8.self) + "\"}\n"
                try connection.send(Array(line.utf8))
                let ok = try connection.receiveLine { String(decoding: $0, as: UTF8.self).contains(#""ok":true"#) }
                if ok { population.counters[user] = counter + 1 } else { failures += 1 }
                i += 1
            }
            let v = try time(count) { try verify(on: connection) }
            // As the PAM module does it: a connection per login.
            let c = try time(count / 2) { try verify(on: LineConnection(path: daemon.socketPath)) }
            // With the daemon idle in between, its threads are asleep when a login
            // comes: every hand-off between them then costs a wake-up.
            var spaced: [UInt64] = []
            for _ in 0..<min(count / 4, 200) {
                usleep(20_000)
                let t0 = Monotonic.now()
                try verify(on: LineConnection(path: daemon.socketPath))
                spaced.append(Monotonic.now() - t0)
            }
            if failures > 0 { throw BenchError("\(failures) valid codes were refused in the verify probe") }
            return (h, v, c, LatencySummary(spaced))
        }
    }
}
