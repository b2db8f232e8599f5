public import Logging
public import NIOCore
public import NIOSSL
import OTPCore
public import OTPGateConfig
public import OTPGateProtocol
public import OTPGateServer

/// The relay (`mode = "relay"`): answers this host's local callers as a single host
/// would, by asking the verifier tier (docs/RELAY.md). It holds no fleet secret:
/// replies pass through as the tier wrote them, in wiped memory.
///
/// - users listed as local (`[store] local_users`) are answered by `local`, the
///   handler over this host's own store (break-glass: they work with the tier away);
/// - `health` is answered here: this relay, and whether the tier answers;
/// - admin operations are refused: they run on a tier node;
/// - everything else goes to the tier in a `RelayEnvelope`, the caller taken from the
///   kernel's credentials of the local connection.
///
/// One deadline, from the moment `handle` is called, bounds the whole request:
/// connecting, the TLS handshake, sending and receiving (`relay.deadline` for what a
/// login waits for, `relay.self_service_deadline` for enrolment and the like). Endpoints are asked in
/// order, and the next one only while no byte of the request can have reached one
/// before it; once written, any failure is an unknown outcome, answered
/// `unavailable` and never asked again elsewhere (it could count a failure twice or
/// spend a code twice).
public final class Relay: RequestResponder {
    let endpoints: [TierEndpoint]
    let deadline: TimeAmount
    let selfServiceDeadline: TimeAmount
    let local: RequestHandler?
    let localUsers: Set<String>
    let logger: Logger
    let startedAt: Int64
    let now: @Sendable () -> Int64
    let clockSynced: @Sendable () -> Bool

    public init(
        settings: RelaySettings, tls: NIOSSLContext, group: any EventLoopGroup, local: RequestHandler?,
        localUsers: [String], logger: Logger, now: @escaping @Sendable () -> Int64 = RequestHandler.systemTime,
        clockSynced: @escaping @Sendable () -> Bool = { true }
    ) {
        self.endpoints = settings.endpoints.map {
            TierEndpoint($0, tls: tls, group: group, kept: settings.connectionsPerEndpoint)
        }
        self.deadline = .milliseconds(Int64(settings.deadlineMilliseconds))
        self.selfServiceDeadline = .milliseconds(Int64(settings.selfServiceDeadlineMilliseconds))
        self.local = local
        self.localUsers = local == nil ? [] : Set(localUsers)
        self.logger = logger
        self.now = now
        self.clockSynced = clockSynced
        self.startedAt = now()
    }

    public func handle(_ request: Request, peer: Peer) -> Answer {
        let op = request.operation
        let deadline = NIODeadline.now() + (Self.onTheLoginPath(op) ? self.deadline : selfServiceDeadline)
        // The local users' factors live only here, so their admin operations too.
        if let user = request.payload.user, localUsers.contains(user), let local {
            return local.handle(request, peer: peer)
        }
        if op.isAdminOnly {
            return Answer(.failure(
                id: request.id, code: .forbidden,
                message: "\(op.rawValue) is not served on a relay: admin operations run on a tier node (otpgate admin there)"))
        }
        if op == .health { return health(request, peer: peer, deadline: deadline) }
        let envelope = RelayEnvelope(
            caller: RelayCaller(uid: peer.uid, user: peer.userName, privileged: peer.isPrivileged), request: request)
        let line = envelope.line
        defer { line.wipeSharedStorage() }
        switch ask(line, deadline: deadline, op: op) {
        case .reply(let reply): return .forwarded(line: reply)
        case .notSent:
            return Answer(.failure(id: request.id, code: .unavailable, message: "no tier node could be reached; try again later"))
        case .unknown:
            return Answer(.failure(id: request.id, code: .unavailable, message: "the tier did not answer; try the next code"))
        }
    }

    /// What a PAM module (or a service checking a code) waits for, under its timeout;
    /// the rest is self-service, which the user's CLI waits for much longer.
    static func onTheLoginPath(_ op: WireOperation) -> Bool {
        switch op {
        case .verify, .verifyPrecheck, .verifyCandidates, .status, .health: true
        default: false
        }
    }

    /// The endpoints in order, under the no-retry rule. Opening a connection to one of
    /// several gets a share of the time left, so that a node whose link is cut
    /// (packets dropped, no refusal) leaves time for the next.
    func ask(_ line: String, deadline: NIODeadline, op: WireOperation) -> TierOutcome {
        var reasons: [String] = []
        for (i, endpoint) in endpoints.enumerated() {
            let left = deadline - .now()
            guard left > .zero else { break }
            let share = TimeAmount.nanoseconds(left.nanoseconds / Int64(endpoints.count - i))
            let outcome = endpoint.exchange(line, connectBy: .now() + share, deadline: deadline)
            switch outcome {
            case .reply: return outcome
            case .unknown(let why):
                logger.warning(
                    "tier node did not answer; unknown outcome, answered unavailable",
                    metadata: ["tier.endpoint": "\(endpoint.address)", "request.op": "\(op.rawValue)", "error": "\(why)"])
                return outcome
            case .notSent(let why):
                logger.warning(
                    "tier node unreachable; asking the next",
                    metadata: ["tier.endpoint": "\(endpoint.address)", "request.op": "\(op.rawValue)", "error": "\(why)"])
                reasons.append("\(endpoint.address): \(why)")
            }
        }
        if reasons.isEmpty { reasons.append("no time left") }
        return .notSent(reasons.joined(separator: "; "))
    }

    /// This relay's health: its own version and clock, and the tier's store as the
    /// first node that answers says (`unavailable` when none does).
    func health(_ request: Request, peer: Peer, deadline: NIODeadline) -> Answer {
        let envelope = RelayEnvelope(
            caller: RelayCaller(uid: peer.uid, user: peer.userName, privileged: peer.isPrivileged),
            request: Request(payload: .health))
        let time = now()
        var result = HealthResult(
            version: RequestHandler.version, uptime: Int(time - startedAt), clockSynced: clockSynced(), store: "unavailable",
            time: time, mode: "relay")
        var detail: String
        for endpoint in endpoints {
            guard deadline > .now() else { break }
            guard case .reply(let line) = endpoint.exchange(envelope.line, connectBy: deadline, deadline: deadline) else { continue }
            let tier = line.withUnsafeBytes { bytes in try? Reply.parse(line: bytes.dropLast()).result(HealthResult.self) }
            guard let tier else { continue }
            result.store = tier.store
            result.storeDetail = tier.storeDetail
            result.tier = endpoint.address.description
            result.tierTime = tier.time
            return Answer(.success(id: request.id, result: result))
        }
        detail = "no tier node answered (\(endpoints.map(\.address.description).joined(separator: ", ")))"
        result.storeDetail = detail
        return Answer(.success(id: request.id, result: result))
    }

    /// Closes the kept connections (when the daemon stops).
    public func close() {
        for endpoint in endpoints { endpoint.closeAll() }
    }
}
