import Foundation

/// One connection of the load generator and the users it owns (`u % connections ==
/// index`). It sends one `verify` at a time and waits for the answer: closed loop
/// (next request as soon as the answer is in) or open loop (requests on a fixed
/// schedule; when an answer comes late, the next request's latency is counted from
/// when it should have been sent, so queueing shows instead of being hidden).
///
/// Unchecked `Sendable`: a worker runs on its own thread and is read only after
/// that thread has finished.
final class LoadWorker: @unchecked Sendable {
    struct Schedule: Sendable {
        /// Nanoseconds (`Monotonic`): start, start of measuring, end.
        var start: UInt64
        var measureFrom: UInt64
        var end: UInt64
        /// Open loop: nanoseconds between this connection's requests; nil: closed loop.
        var interval: UInt64?
        /// Open loop: this connection's first send after `start`.
        var offset: UInt64 = 0
    }

    let index: Int
    let connections: Int
    let population: Population
    let socketPath: String
    let hotpLookAhead: UInt64
    /// Send `health` instead of `verify`: the daemon's floor without the store.
    var healthOnly = false
    private var picker: RequestMix.Picker
    private var failures: [UInt8]
    private var cursor = 0
    private let owned: Int
    /// The user (local index) whose valid code was accepted last: a replay resends it.
    private var lastAccepted: Int?

    private(set) var samples: [UInt64] = []
    private(set) var outcomes = Outcomes()
    private(set) var sent = 0
    /// TOTP: requests skipped because the user had no fresh step left.
    private(set) var skipped = 0
    private(set) var error: String?
    /// Answers that did not fit the request (the first three).
    private(set) var surprises: [String] = []

    /// A user may fail this many times in a row before the generator sends a valid
    /// code (which clears the count), so the limiter (10 free failures per user by
    /// default) never kicks in and every request takes the path its kind names.
    static let maxConsecutiveFailures: UInt8 = 5

    init(index: Int, connections: Int, population: Population, mix: RequestMix, socketPath: String, hotpLookAhead: Int) {
        self.index = index
        self.connections = connections
        self.population = population
        self.socketPath = socketPath
        self.hotpLookAhead = UInt64(hotpLookAhead)
        picker = RequestMix.Picker(mix)
        owned = population.users > index ? (population.users - index + connections - 1) / connections : 0
        failures = [UInt8](repeating: 0, count: owned)
        // Spread the connections' users over the mix, so not all start alike.
        for _ in 0..<(index % 20) { _ = picker.next() }
    }

    func run(_ schedule: Schedule) {
        guard owned > 0 else { return }
        samples.reserveCapacity(schedule.interval == nil ? 200_000 : Int((schedule.end - schedule.start) / schedule.interval!) + 16)
        do {
            let connection = try LineConnection(path: socketPath)
            var k: UInt64 = 0
            while true {
                var startTime = Monotonic.now()
                if let interval = schedule.interval {
                    let due = schedule.start + schedule.offset + k * interval
                    k += 1
                    guard due < schedule.end else { break }
                    if startTime < due {
                        Monotonic.sleep(until: due)
                        startTime = Monotonic.now()
                    } else {
                        startTime = due  // behind schedule: the wait counts
                    }
                } else if startTime >= schedule.end {
                    break
                }
                guard let request = healthOnly ? Self.healthRequest : nextRequest() else {
                    skipped += 1
                    if schedule.interval == nil { usleep(1000) }
                    continue
                }
                try connection.send(request.line)
                let answer = try connection.receiveLine(Answer.init)
                let done = Monotonic.now()
                sent += 1
                settle(request, answer)
                if startTime >= schedule.measureFrom && startTime < schedule.end {
                    samples.append(done - startTime)
                    record(request, answer)
                }
            }
        } catch {
            self.error = "connection \(index): \(error)"
        }
    }

    // MARK: - Requests

    struct Request {
        var kind: RequestMix.Kind
        var local: Int
        var user: Int
        var counter: UInt64
        var line: [UInt8]
    }

    /// The reply, reduced to what the generator checks.
    enum Answer {
        case ok
        case error(String)

        init(_ line: UnsafeBufferPointer<UInt8>) {
            let text = String(decoding: line, as: UTF8.self)
            if text.contains(#""ok":true"#) {
                self = .ok
            } else if let r = text.range(of: #""error":""#), let e = text[r.upperBound...].firstIndex(of: "\"") {
                self = .error(String(text[r.upperBound..<e]))
            } else {
                self = .error("unreadable")
            }
        }
    }

    private static let healthRequest = Request(
        kind: .valid, local: -1, user: -1, counter: 0, line: Array(#"{"v":1,"op":"health"}"#.utf8) + [0x0A])

    private func nextRequest() -> Request? {
        var kind = picker.next()
        // A replay is the code just accepted, sent again (as an attacker who saw it
        // would): same user, same counter.
        if kind == .replay, let local = lastAccepted, failures[local] < Self.maxConsecutiveFailures {
            lastAccepted = nil
            let user = index + local * connections
            let counter = population.counters[user] - 1
            return Request(
                kind: .replay, local: local, user: user, counter: counter,
                line: Self.line(user: user, code: population.code(of: user, counter: counter)))
        }
        if kind == .replay { kind = .valid }
        for _ in 0..<owned {
            let local = cursor
            cursor = (cursor + 1) % owned
            let user = index + local * connections
            if kind != .valid && failures[local] >= Self.maxConsecutiveFailures { kind = .valid }
            guard let counter = counter(for: kind, user: user) else { continue }
            var code = population.code(of: user, counter: counter)
            if kind == .wrong { code = wrongCode(near: code, user: user) }
            return Request(kind: kind, local: local, user: user, counter: counter, line: Self.line(user: user, code: code))
        }
        return nil
    }

    /// The counter (HOTP) or step (TOTP) a fresh code of `user` is for (a wrong code
    /// is made near it); nil when a TOTP user has no fresh step left right now.
    private func counter(for kind: RequestMix.Kind, user: Int) -> UInt64? {
        let used = population.counters[user]
        switch population.kind {
        case .hotp:
            return used
        case .totp:
            let step = UInt64(Date().timeIntervalSince1970) / UInt64(population.period)
            // A step the daemon still accepts if its clock turns over meanwhile.
            let fresh = max(step, used)
            return fresh <= step + 1 ? fresh : nil
        }
    }

    /// A code that matches none of the counters or steps the daemon would accept
    /// for this user now (so it is wrong, not a lucky guess that moves the token on).
    private func wrongCode(near valid: [UInt8], user: Int) -> [UInt8] {
        let base = population.counters[user]
        let candidates: [UInt64]
        switch population.kind {
        case .hotp:
            candidates = Array(base...(base + hotpLookAhead))
        case .totp:
            let step = UInt64(Date().timeIntervalSince1970) / UInt64(population.period)
            candidates = Array((step - 1)...(step + 2))
        }
        let taken = Set(candidates.map { population.code(of: user, counter: $0) })
        var value = valid.reduce(0) { $0 * 10 + Int($1 - 48) }
        while true {
            value = (value + 500_009) % 1_000_000
            var code = [UInt8](repeating: 48, count: 6)
            var v = value
            for i in stride(from: 5, through: 0, by: -1) {
                code[i] = UInt8(48 + v % 10)
                v /= 10
            }
            if !taken.contains(code) { return code }
        }
    }

    private static let prefix = Array(#"{"v":1,"op":"verify","user":"bench"#.utf8)
    private static let middle = Array(#"","code":""#.utf8)
    private static let suffix = Array(#"","service":"otpgate-bench"}"#.utf8) + [0x0A]

    private static func line(user: Int, code: [UInt8]) -> [UInt8] {
        var out = prefix
        out.reserveCapacity(96)
        out += Array(String(user).utf8)
        out += middle
        out += code
        out += suffix
        return out
    }

    // MARK: - Answers

    /// Updates the users' state from an answer, whether or not it is measured.
    private func settle(_ request: Request, _ answer: Answer) {
        guard request.user >= 0 else { return }
        switch (request.kind, answer) {
        case (.valid, .ok):
            population.counters[request.user] = request.counter + 1
            failures[request.local] = 0
            lastAccepted = request.local
        case (.valid, _):
            break
        case (_, .ok):
            // A wrong code or a replay accepted: a bug (or a lucky collision).
            failures[request.local] = 0
        case (_, .error):
            failures[request.local] += 1
        }
    }

    private func record(_ request: Request, _ answer: Answer) {
        switch answer {
        case .ok: outcomes.accepted += 1
        case .error("invalid_code"): outcomes.invalid += 1
        case .error("replayed_code"): outcomes.replayed += 1
        case .error("rate_limited"): outcomes.rateLimited += 1
        case .error: outcomes.otherErrors += 1
        }
        let expected: Bool
        switch (request.kind, answer) {
        case (.valid, .ok): expected = true
        case (.wrong, .error("invalid_code")): expected = true
        case (.replay, .error("replayed_code")): expected = true
        // A TOTP step that has left the window is just invalid by then.
        case (.replay, .error("invalid_code")): expected = population.kind == .totp
        default: expected = false
        }
        if !expected {
            outcomes.unexpected += 1
            // The first few, so a report says what went wrong, not only how often.
            if outcomes.unexpected <= 3 {
                let got: String
                switch answer {
                case .ok: got = "ok"
                case .error(let code): got = code
                }
                surprises.append("connection \(index): a \(request.kind) code for bench\(request.user) (counter \(request.counter)) got \(got)")
            }
        }
    }
}
