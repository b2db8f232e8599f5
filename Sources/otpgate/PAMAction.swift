/// What a pam.d control tells libpam to do with one return value (pam.d(5)).
enum PAMAction: Equatable, Sendable, CustomStringConvertible {
    case ignore, ok, done, bad, die, reset
    /// Skip this many of the following modules (a substack counts as one).
    case jump(Int)

    init?(_ text: String) {
        switch text {
        case "ignore": self = .ignore
        case "ok": self = .ok
        case "done": self = .done
        case "bad": self = .bad
        case "die": self = .die
        case "reset": self = .reset
        default:
            guard let n = Int(text), n > 0, text.allSatisfy(\.isASCII) else { return nil }
            self = .jump(n)
        }
    }

    var description: String {
        switch self {
        case .ignore: "ignore"
        case .ok: "ok"
        case .done: "done"
        case .bad: "bad"
        case .die: "die"
        case .reset: "reset"
        case .jump(let n): "\(n)"
        }
    }

    /// Whether this action makes the whole stack fail (bad, die).
    var fails: Bool { self == .bad || self == .die }
}
