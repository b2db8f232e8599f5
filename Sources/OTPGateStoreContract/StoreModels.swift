public import OTPCore

// The public values the store hands out. None of them carries a secret except
// `VerifiableToken` and `PendingEnrollment`, which the daemon needs to check codes.

/// A token as shown to users and admins.
public struct TokenInfo: Sendable, Hashable {
    public let id: String
    public let user: String
    public let name: String
    public let parameters: OTPParameters
    /// The last accepted time step or counter; nil until a code was accepted.
    public let watermark: UInt64?
    /// Steps (TOTP) or counters (HOTP) between the expected and the matched one at the
    /// last accepted code; a phone whose clock runs slow shows a negative drift.
    public let drift: Int
    public let createdAt: Int64
    public let lastUsedAt: Int64?
    /// TOTP: the step offset the window is centred on, from an import (a peer's
    /// learned time skew) or a resync; logins never change it. 0 for HOTP.
    public var skew: Int = 0
    /// The token's own TOTP window (steps either side); nil means the daemon's.
    public var window: Int? = nil

    package init(id: String, user: String, name: String, parameters: OTPParameters, watermark: UInt64?, drift: Int, createdAt: Int64, lastUsedAt: Int64?, skew: Int = 0, window: Int? = nil) {
        self.id = id
        self.user = user
        self.name = name
        self.parameters = parameters
        self.watermark = watermark
        self.drift = drift
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.skew = skew
        self.window = window
    }
}

/// A token with its decrypted secret, for checking a code. Never logged.
public struct VerifiableToken: Sendable, CustomStringConvertible {
    public let info: TokenInfo
    public let secret: [UInt8]
    public let initialCounter: UInt64

    public var description: String { "token \(info.id) of \(info.user) (secret withheld)" }

    package init(info: TokenInfo, secret: [UInt8], initialCounter: UInt64) {
        self.info = info
        self.secret = secret
        self.initialCounter = initialCounter
    }
}

/// An enrolment begun but not yet confirmed with a first code.
public struct PendingEnrollment: Sendable, CustomStringConvertible {
    public let id: String
    public let user: String
    public let name: String
    public let parameters: OTPParameters
    public let secret: [UInt8]
    public let initialCounter: UInt64
    public let createdAt: Int64
    public let expiresAt: Int64
    /// Begun while the user had no token, so without a current code: confirming it
    /// fails once the user has a token.
    public let begunWithoutCode: Bool

    public var description: String { "enrollment \(id) of \(user) (secret withheld)" }

    package init(id: String, user: String, name: String, parameters: OTPParameters, secret: [UInt8], initialCounter: UInt64, createdAt: Int64, expiresAt: Int64, begunWithoutCode: Bool) {
        self.id = id
        self.user = user
        self.name = name
        self.parameters = parameters
        self.secret = secret
        self.initialCounter = initialCounter
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.begunWithoutCode = begunWithoutCode
    }
}

/// A pending enrolment as `status` shows it: no id, no secret.
public struct PendingEnrollmentInfo: Sendable, Hashable {
    public let name: String
    public let kind: OTPKind
    public let createdAt: Int64
    public let expiresAt: Int64
    public let begunWithoutCode: Bool

    package init(name: String, kind: OTPKind, createdAt: Int64, expiresAt: Int64, begunWithoutCode: Bool) {
        self.name = name
        self.kind = kind
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.begunWithoutCode = begunWithoutCode
    }
}

/// What the limiter says about a user (optionally from one remote host).
public enum LimitState: Sendable, Hashable {
    case open
    /// Wait until `until` (Unix seconds) before the next attempt.
    case limited(until: Int64)
    /// Too many consecutive failures: only an admin unlock helps.
    case lockedOut
}

/// What `OTPStore.reserveAttempt` decided.
public enum Admission: Sendable {
    /// Evaluate the code; record the outcome with this reservation.
    case admitted(AttemptReservation)
    /// Do not evaluate it.
    case refused(LimitState)
}

/// The outcome of trying to accept a matched code.
public enum AcceptResult: Sendable, Hashable {
    case accepted
    /// The watermark had already reached the matched step: someone else used it first.
    case replayed
    case rateLimited(LimitState)
}

/// What one more failure did.
public struct FailureResult: Sendable, Hashable {
    /// Consecutive failures of the user from all hosts.
    public let failures: Int
    public let state: LimitState
    /// True when this failure is the one that locked the user out.
    public let lockedOutNow: Bool

    package init(failures: Int, state: LimitState, lockedOutNow: Bool) {
        self.failures = failures
        self.state = state
        self.lockedOutNow = lockedOutNow
    }
}

/// The outcome of trying a recovery code.
public enum RecoveryResult: Sendable, Hashable {
    case accepted(remaining: Int)
    /// No unused code matched (a used code also ends here: it is gone).
    case noMatch
    case rateLimited(LimitState)
}

/// One row of `admin.list`.
public struct UserSummary: Sendable, Hashable {
    public let user: String
    public let tokens: Int
    public let recoveryRemaining: Int
    public let lockedUntil: Int64?
    public let lockedOut: Bool
    public let failures: Int
    public let lastUsedAt: Int64?

    package init(user: String, tokens: Int, recoveryRemaining: Int, lockedUntil: Int64?, lockedOut: Bool, failures: Int, lastUsedAt: Int64?) {
        self.user = user
        self.tokens = tokens
        self.recoveryRemaining = recoveryRemaining
        self.lockedUntil = lockedUntil
        self.lockedOut = lockedOut
        self.failures = failures
        self.lastUsedAt = lastUsedAt
    }
}

/// One audit record. Never holds a code, secret, recovery code or URI.
public struct AuditEvent: Sendable, Hashable {
    /// What a relay name may be in either backend (the rule of a certificate's CN,
    /// PeerIdentity.isHostName): letters, digits, '.', '-', '_', 1 to 253 bytes.
    public static func isRelayName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return (1...253).contains(bytes.count) && bytes.allSatisfy { b in
            (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x2E || b == 0x2D || b == 0x5F
        }
    }
    public static let relayNameRule = "a relay name is a host name: letters, digits, '.', '-' and '_', 1 to 253 bytes"

    public var id: Int64?
    public var time: Int64
    public var event: String
    public var user: String?
    public var peerUID: Int64?
    public var service: String?
    public var rhost: String?
    public var detail: String?
    /// The relay the request came through: the name in its TLS certificate, as the
    /// tier's link checked it (Peer.host); nil for a caller on the storing host.
    public var relay: String?

    public init(
        time: Int64, event: String, user: String? = nil, peerUID: Int64? = nil, service: String? = nil,
        rhost: String? = nil, detail: String? = nil, relay: String? = nil
    ) {
        self.relay = relay
        self.time = time
        self.event = event
        self.user = user
        self.peerUID = peerUID
        self.service = service
        self.rhost = rhost
        self.detail = detail
    }
}
