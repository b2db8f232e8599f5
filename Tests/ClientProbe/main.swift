// otpgate-client-probe: a process that embeds OTPGateClient next to a 100 ms timer, as
// a Swift service would, and calls a daemon that never answers (a socket that accepts
// and never replies). OTPGateClientTests runs it; it prints one JSON line.
//
//   otpgate-client-probe stall CALLS TIMEOUT_MS [blocking]
//       CALLS concurrent verify calls; prints each call's duration and error code and
//       the timer's worst lateness. `blocking` makes the calls the way the old client
//       did (a blocking socket on DispatchQueue.global()): the control, which must
//       show the stall.
//   otpgate-client-probe cancel
//       one call with a 30 s timeout, its task cancelled once the daemon has accepted
//       the connection; prints how long the call took after the cancel.
import Dispatch
import Foundation
import Glibc
import OTPGateClient
import OTPGateTestSupport
import Synchronization

/// A listening socket in a fresh directory whose accepted connections are held open
/// and never read from; `accepted` counts them.
final class SilentDaemon: Sendable {
    let path: String
    let accepted = Atomic<Int>(0)
    private let onAccept = Mutex<[CheckedContinuation<Void, Never>]>([])

    init() {
        var template = Array("/tmp/otpgate-probe-XXXXXX".utf8CString)
        let dir = String(cString: mkdtemp(&template)!)
        path = dir + "/silent.sock"
        guard let fd = try? UnixAddress.listening(path, backlog: 512) else { fatalError("cannot listen on \(path)") }
        Thread { [self] in
            var held: [Int32] = []
            while true {
                let c = accept(fd, nil, nil)
                guard c >= 0 else { continue }
                held.append(c)
                accepted.add(1, ordering: .sequentiallyConsistent)
                for waiter in onAccept.withLock({ w in defer { w = [] }; return w }) { waiter.resume() }
            }
        }.start()
    }

    /// Returns once a connection has been accepted.
    func waitForAccept() async {
        await withCheckedContinuation { continuation in
            let now = onAccept.withLock { waiters -> Bool in
                if accepted.load(ordering: .sequentiallyConsistent) > 0 { return true }
                waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}

/// What the timer saw.
final class TimerStats: Sendable {
    let stop = Atomic<Bool>(false)
    let worst = Atomic<Int>(0)
    let ticks = Atomic<Int>(0)
}

/// Ticks every 100 ms on the cooperative pool and keeps the worst lateness.
func startTimer(_ stats: TimerStats) -> Task<Void, Never> {
    Task {
        let clock = ContinuousClock()
        let start = clock.now
        var n = 1
        while !stats.stop.load(ordering: .relaxed) {
            let target = start + .milliseconds(100 * n)
            try? await Task.sleep(until: target, clock: clock)
            let late = clock.now - target
            let ms = Int(late.components.seconds * 1000 + late.components.attoseconds / 1_000_000_000_000_000)
            stats.worst.raise(to: ms)
            stats.ticks.add(1, ordering: .relaxed)
            n += 1
        }
    }
}

extension Atomic where Value == Int {
    func raise(to value: Int) {
        var current = load(ordering: .relaxed)
        while value > current {
            let (exchanged, original) = compareExchange(expected: current, desired: value, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}

/// The old client's way, for the control: a blocking connect and poll on a global
/// queue thread, whose timeout starts only when a thread picks the call up.
func blockingCall(_ path: String, timeoutMS: Int32) async -> String {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            defer { close(fd) }
            _ = UnixAddress.connect(fd, to: path)
            let line = Array("{\"v\":1,\"op\":\"health\"}\n".utf8)
            _ = send(fd, line, line.count, Int32(MSG_NOSIGNAL))
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            continuation.resume(returning: poll(&p, 1, timeoutMS) == 0 ? "timeout" : "answered")
        }
    }
}

func milliseconds(_ d: Duration) -> Int {
    Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
}

func emit(_ object: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

let arguments = Array(CommandLine.arguments.dropFirst())
let daemon = SilentDaemon()

switch arguments.first {
case "stall":
    let calls = Int(arguments[1])!
    let timeoutMS = Int(arguments[2])!
    let blocking = arguments.count > 3 && arguments[3] == "blocking"
    let client = OTPGateClient(
        configuration: .init(socketPath: daemon.path, timeout: .milliseconds(timeoutMS), trustedUIDs: .standard(and: getuid())))
    let stats = TimerStats()
    let timer = startTimer(stats)
    let clock = ContinuousClock()
    let results = await withTaskGroup(of: (Int, String).self) { group in
        for _ in 0..<calls {
            group.addTask {
                let started = clock.now
                var outcome = "success"
                if blocking {
                    outcome = await blockingCall(daemon.path, timeoutMS: Int32(timeoutMS))
                } else {
                    do { _ = try await client.verify(user: "probe", code: "000000") } catch let error as OTPGateClientError {
                        outcome = "\(error.code)"
                    } catch { outcome = "\(error)" }
                }
                return (milliseconds(clock.now - started), outcome)
            }
        }
        var all: [(Int, String)] = []
        for await r in group { all.append(r) }
        return all
    }
    stats.stop.store(true, ordering: .relaxed)
    await timer.value
    emit([
        "durations_ms": results.map(\.0), "outcomes": Array(Set(results.map(\.1))).sorted(),
        "timer_worst_late_ms": stats.worst.load(ordering: .relaxed), "timer_ticks": stats.ticks.load(ordering: .relaxed),
        "accepted": daemon.accepted.load(ordering: .sequentiallyConsistent),
    ])
case "cancel":
    let client = OTPGateClient(
        configuration: .init(socketPath: daemon.path, timeout: .seconds(30), trustedUIDs: .standard(and: getuid())))
    let clock = ContinuousClock()
    let call = Task { () -> (String, ContinuousClock.Instant) in
        do {
            _ = try await client.verify(user: "probe", code: "000000")
            return ("success", clock.now)
        } catch let error as OTPGateClientError {
            return ("\(error.code)", clock.now)
        } catch {
            return ("\(error)", clock.now)
        }
    }
    await daemon.waitForAccept()
    let cancelled = clock.now
    call.cancel()
    let (outcome, ended) = await call.value
    emit(["outcome": outcome, "after_cancel_ms": milliseconds(ended - cancelled)])
default:
    FileHandle.standardError.write(Data("usage: otpgate-client-probe stall CALLS TIMEOUT_MS [blocking] | cancel\n".utf8))
    exit(64)
}
