import OTPGateProtocol

/// The authorization table of DESIGN.md, as one function.
enum Authorizer {
    enum Decision: Equatable {
        /// Allowed; `asAdmin` lifts the "current code" requirement for changing factors.
        case allowed(asAdmin: Bool)
        case forbidden(String)
    }

    static func decide(_ payload: Request.Payload, peer: Peer) -> Decision {
        let op = payload.operation
        switch peer.socket {
        case .admin:
            return peer.isAdmin
                ? .allowed(asAdmin: true)
                : .forbidden("the admin socket is for root, the daemon's user and members of the admin groups")
        case .public:
            if op.isAdminOnly { return .forbidden("\(op.rawValue) is only served on the admin socket") }
            if op == .health { return .allowed(asAdmin: false) }
            guard let user = payload.user else { return .forbidden("\(op.rawValue) needs a user") }
            if peer.isPrivileged && (op == .verify || op == .verifyPrecheck || op == .verifyCandidates || op == .status) { return .allowed(asAdmin: false) }
            guard let own = peer.userName, own == user else {
                return .forbidden("uid \(peer.uid) may only ask about its own user on this socket")
            }
            return .allowed(asAdmin: false)
        }
    }
}
