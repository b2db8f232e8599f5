/// pam_otpgate's options (pam/pam_otpgate.c `parse_options`, README's table), checked
/// as the module reads them: what it would ignore is a problem doctor names.
struct OTPGateModuleOptions {
    /// The module's compiled-in socket.
    static let defaultSocket = "/run/otpgate/otpgated.sock"
    static let flags: Set<String> = ["nullok", "debug", "use_first_pass", "try_first_pass", "forward_pass", "echo_verification_code"]
    static let valued = ["socket", "timeout", "digits", "prompt", "grace_period"]
    static let timeoutRange = 1...60
    static let digitsRange = 6...8
    /// grace_period= in seconds, 0 for none (the module's MAX_GRACE_PERIOD: a day).
    static let gracePeriodRange = 0...86_400

    private(set) var socket = Self.defaultSocket
    private(set) var flagsSet: Set<String> = []
    private(set) var gracePeriod: Int?
    /// Seconds the module waits for the daemon (`timeout=`; 5 unless valid).
    private(set) var timeout = 5
    /// (argument, why it is wrong, fix)
    private(set) var problems: [(String, String, String)] = []

    init(_ arguments: [String]) {
        for argument in arguments {
            let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let name = parts[0]
            let value = parts.count == 2 ? parts[1] : nil
            if Self.flags.contains(name) && value == nil {
                flagsSet.insert(name)
                continue
            }
            switch (name, value) {
            case ("socket", let v?) where v.hasPrefix("/"):
                socket = v
            case ("socket", _):
                problems.append((argument, "the module ignores it (socket= takes an absolute path) and uses \(Self.defaultSocket)", "socket=/ABSOLUTE/PATH"))
            case ("timeout", let v?) where Self.integer(v, in: Self.timeoutRange) != nil:
                timeout = Self.integer(v, in: Self.timeoutRange)!
            case ("timeout", _):
                problems.append((argument, "the module ignores it (timeout= takes whole seconds, 1 to 60) and waits 5 s", "timeout=5"))
            case ("digits", let v?) where Self.integer(v, in: Self.digitsRange) != nil:
                break
            case ("digits", _):
                problems.append((argument, "the module ignores it (digits= takes 6, 7 or 8)", "digits=6"))
            case ("prompt", _?):
                break
            case ("grace_period", let v?) where Self.integer(v, in: Self.gracePeriodRange) != nil:
                gracePeriod = Self.integer(v, in: Self.gracePeriodRange).flatMap { $0 > 0 ? $0 : nil }
            case ("grace_period", _):
                problems.append((argument, "the module ignores it (grace_period= takes seconds, 0 to \(Self.gracePeriodRange.upperBound))", "grace_period=SECONDS"))
            default:
                let known = Self.flags.sorted() + Self.valued.map { $0 + "=" }
                let guess = known.min { Self.distance(name, $0.replacing("=", with: "")) < Self.distance(name, $1.replacing("=", with: "")) }
                let close = guess.map { Self.distance(name, $0.replacing("=", with: "")) <= 2 } ?? false
                let what = Self.flags.contains(name) ? "the module ignores it (\(name) takes no value)" : "unknown option, the module ignores it"
                problems.append((argument, what, close && !Self.flags.contains(name) ? "did you mean '\(guess!)'?" : "remove it; options: \(known.joined(separator: " "))"))
            }
        }
    }

    func has(_ flag: String) -> Bool { flagsSet.contains(flag) }

    private static func integer(_ text: String, in range: ClosedRange<Int>) -> Int? {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(text), range.contains(n) else { return nil }
        return n
    }

    /// Levenshtein distance, for "did you mean".
    private static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1...max(b.count, 1) where !b.isEmpty {
                let old = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = old
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
}
