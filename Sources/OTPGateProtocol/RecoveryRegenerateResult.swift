/// The result of `recovery.regenerate`: the new codes, shown once; the old ones are gone.
public struct RecoveryRegenerateResult: ReplyResult, Hashable, CustomStringConvertible {
    public var recoveryCodes: [String]

    public init(recoveryCodes: [String]) {
        self.recoveryCodes = recoveryCodes
    }

    enum CodingKeys: String, CodingKey {
        case recoveryCodes = "recovery_codes"
    }

    public var description: String { "\(recoveryCodes.count) recovery codes (withheld)" }
}
