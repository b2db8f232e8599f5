/// What `verify.precheck` needs to know about a user (see `StoreContract.precheckState`).
public struct PrecheckState: Sendable, Equatable {
    public let enrolled: Bool
    public let limit: LimitState
    public let graceGrantedAt: Int64?

    package init(enrolled: Bool, limit: LimitState, graceGrantedAt: Int64?) {
        self.enrolled = enrolled
        self.limit = limit
        self.graceGrantedAt = graceGrantedAt
    }
}
