/// The control field of a pam.d line, resolved as libpam resolves it
/// (libpam/pam_handlers.c): the four keywords, or `[value=action ...]` with every value
/// left unnamed taking `default`, and `bad` when there is no default.
struct PAMControl: Sendable {
    /// As written (without brackets for the bracket form).
    let text: String
    /// A bracket form libpam cannot parse: it treats every value as `bad`.
    let malformed: Bool
    private let actions: [PAMReturn: PAMAction]

    func action(_ value: PAMReturn) -> PAMAction { actions[value] ?? .bad }

    /// `required`, `requisite`, `sufficient`, `optional` or a bracket form's contents.
    /// nil for `include` and `substack`, which are not controls but inclusions.
    init?(_ token: String, bracketed: Bool) {
        text = token
        var actions: [PAMReturn: PAMAction] = [:]
        var fallback = PAMAction.bad
        var malformed = false
        if bracketed {
            for pair in token.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, let action = PAMAction(parts[1]) else {
                    malformed = true
                    break
                }
                let name = parts[0]  // case-sensitive, as libpam compares them
                if name == "default" {
                    for value in PAMReturn.allCases where actions[value] == nil { actions[value] = action }
                } else if let value = PAMReturn(rawValue: name) {
                    actions[value] = action
                } else {
                    malformed = true
                    break
                }
            }
            if malformed { actions = [:] }
        } else {
            switch token.lowercased() {
            case "required", "requisite":
                actions = [.success: .ok, .newAuthtokReqd: .ok, .ignore: .ignore]
                fallback = token.lowercased() == "required" ? .bad : .die
            case "optional":
                actions = [.success: .ok, .newAuthtokReqd: .ok]
                fallback = .ignore
            case "sufficient":
                actions = [.success: .done, .newAuthtokReqd: .done]
                fallback = .ignore
            case "include", "substack":
                return nil
            default:
                // libpam parses an unknown keyword as a bracket form and fails to.
                malformed = true
            }
        }
        for value in PAMReturn.allCases where actions[value] == nil { actions[value] = fallback }
        self.actions = actions
        self.malformed = malformed
    }

    /// A control that fails on everything: what libpam installs for a line it could not
    /// use (a missing include, an unknown type).
    static let mustFail = PAMControl("[default=bad]", bracketed: true)!

    /// How it reads in a pam.d file.
    var written: String { ["required", "requisite", "sufficient", "optional"].contains(text.lowercased()) ? text : "[\(text)]" }
}
