/// Walks a stack as libpam's dispatcher does (libpam/pam_dispatch.c:
/// `_pam_dispatch_aux`: the impression and status it keeps, `ok`/`done`/`bad`/`die`/
/// `reset`/jumps, substacks) once for every combination of what the modules could
/// return, and records every way through that ends in PAM_SUCCESS.
///
/// What a module can return: pam_otpgate what DESIGN.md's table says (PAM_IGNORE only
/// with nullok or a grace period), pam_deny a failure, pam_permit success, a module
/// whose file is missing PAM_MODULE_UNKNOWN, any other module anything. Returns that a
/// line treats alike are explored once.
struct PAMStackEvaluator {
    struct Step: Sendable {
        let rule: Int
        let value: PAMReturn
        let action: PAMAction
    }

    /// One way through the stack that ends in success.
    struct Success: Sendable {
        let steps: [Step]

        /// What each pam_otpgate line that ran returned.
        func otpgate(in rules: [PAMRule]) -> [Step] { steps.filter { rules[$0.rule].isOTPGate } }
        func passwordChecked(in rules: [PAMRule]) -> Bool { steps.contains { rules[$0.rule].checksPassword && $0.value == .success } }
    }

    let rules: [PAMRule]
    /// Returns of each rule, by index.
    let returns: [[PAMReturn]]
    /// More ways than this and the walk stops (`complete` false).
    static let limit = 200_000

    private(set) var successes: [Success] = []
    private(set) var explored = 0
    var complete: Bool { explored <= Self.limit }

    init(rules: [PAMRule], moduleExists: (PAMRule) -> Bool) {
        self.rules = rules
        returns = rules.map { rule in
            switch rule.kind {
            case .substack: return []
            case .broken: return [.permDenied]
            case .module:
                if !moduleExists(rule) { return [.moduleUnknown] }
                if rule.isOTPGate {
                    let options = Set(rule.arguments.map { $0.split(separator: "=").first.map(String.init) ?? $0 })
                    return PAMReturn.otpgate(mayIgnore: options.contains("nullok") || options.contains("grace_period"))
                }
                switch rule.moduleName {
                case "pam_deny.so": return [.authErr]
                case "pam_permit.so": return [.success]
                default:
                    // One return per distinct (action, kind of result).
                    var seen: [String: PAMReturn] = [:]
                    var picked: [PAMReturn] = []
                    for value in PAMReturn.anyModule {
                        let key = "\(rule.control.action(value)) \(value == .success ? "s" : value == .ignore ? "i" : "f")"
                        if seen[key] == nil {
                            seen[key] = value
                            picked.append(value)
                        }
                    }
                    return picked
                }
            }
        }
        walk(State(), from: 0, steps: [])
    }

    private struct State {
        /// libpam's impression: 0 undecided, 1 positive, -1 negative.
        var impression = 0
        var status = PAMReturn.permDenied
        var saved: [Int: (Int, PAMReturn)] = [0: (0, .permDenied)]
        var previousLevel = 0
    }

    private mutating func walk(_ start: State, from first: Int, steps: [Step]) {
        var state = start
        var index = first
        // libpam remembers the state where a substack starts, and skips its marker.
        func enter(_ index: Int) {
            let level = rules[index].level
            if state.previousLevel < level { state.saved[level] = (state.impression, state.status) }
            state.previousLevel = level
        }
        while index < rules.count, case .substack = rules[index].kind {
            enter(index)
            index += 1
        }
        guard index < rules.count else {
            if state.status == .success && state.impression == 1 { successes.append(Success(steps: steps)) }
            return
        }
        enter(index)
        let level = rules[index].level
        for value in returns[index] {
            explored += 1
            if explored > Self.limit { return }
            var next = state
            let action = rules[index].control.action(value)
            var at = index
            var decided = false
            switch action {
            case .reset:
                (next.impression, next.status) = next.saved[level] ?? (0, .permDenied)
            case .ok, .done:
                if next.impression == 0 || (next.impression == 1 && next.status == .success) {
                    next.impression = 1
                    next.status = value
                }
                decided = next.impression == 1 && action == .done
            case .bad, .die:
                if next.impression != -1 {
                    next.impression = -1
                    next.status = value == .ignore ? .permDenied : value
                }
                decided = action == .die
            case .ignore:
                break
            case .jump(let count):
                var left = count
                while at + 1 < rules.count && rules[at + 1].level >= level && left > 0 {
                    repeat { at += 1 } while at + 1 < rules.count && rules[at + 1].level > level
                    left -= 1
                }
                if left > 0 {  // a jump past the end: libpam's "bad jump in stack"
                    next.impression = -1
                    next.status = .permDenied
                }
            }
            if decided {
                while at + 1 < rules.count && rules[at + 1].level >= level { at += 1 }
            }
            walk(next, from: at + 1, steps: steps + [Step(rule: index, value: value, action: action)])
        }
    }
}
