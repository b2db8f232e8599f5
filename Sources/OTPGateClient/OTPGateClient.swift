import Dispatch
public import OTPGateProtocol

/// An async client for otpgated's Unix sockets, for the `otpgate` CLI and for any
/// local service that wants to check a one-time code.
///
/// ```swift
/// let client = OTPGateClient()                       // the public socket
/// do {
///     let result = try await client.verify(user: "alice", code: "123456", service: "myapp")
///     print("accepted by \(result.factor)")
/// } catch let error as OTPGateClientError where error.code == .daemon(.invalidCode) {
///     print("wrong code")
/// }
/// ```
///
/// Each call opens one connection, sends one request and waits for its reply, all
/// within `timeout`. The blocking socket work runs on a background thread, never on
/// the caller's executor.
public struct OTPGateClient: Sendable {
    public static let defaultSocketPath = "/run/otpgate/otpgated.sock"
    public static let defaultAdminSocketPath = "/run/otpgate/otpgated-admin.sock"

    public let socketPath: String
    public let timeout: Duration

    public init(socketPath: String = OTPGateClient.defaultSocketPath, timeout: Duration = .seconds(10)) {
        self.socketPath = socketPath
        self.timeout = timeout
    }

    /// A client for the admin socket (root only, unless configured otherwise).
    public static func admin(socketPath: String = defaultAdminSocketPath, timeout: Duration = .seconds(30)) -> OTPGateClient {
        OTPGateClient(socketPath: socketPath, timeout: timeout)
    }

    /// Sends any request and returns the daemon's reply, success or failure.
    public func send(_ request: Request) async throws(OTPGateClientError) -> Reply {
        let path = socketPath
        let timeout = timeout
        let result: Result<Reply, OTPGateClientError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(OTPGateClientError) in
                    let socket = try UnixLineSocket(path: path, timeout: timeout)
                    try socket.send(request.line)
                    let line = try socket.receiveLine()
                    switch Result(catching: { () throws(ReplyDecodingError) in try Reply.parse(line: line) }) {
                    case .success(let reply): return reply
                    case .failure(let error):
                        throw OTPGateClientError(.protocolError, "unreadable reply from otpgated: \(error.message)")
                    }
                })
            }
        }
        return try result.get()
    }

    /// Sends a request and decodes a success into `R`; a failure becomes an error.
    func call<R: Decodable>(_ payload: Request.Payload, as type: R.Type) async throws(OTPGateClientError) -> R {
        let reply = try await send(Request(payload: payload))
        switch reply.outcome {
        case .failure(let failure):
            throw OTPGateClientError(failure)
        case .success:
            do {
                return try reply.result(type)
            } catch {
                throw OTPGateClientError(.protocolError, "the reply to \(payload.operation.rawValue) has unexpected fields")
            }
        }
    }

    func callEmpty(_ payload: Request.Payload) async throws(OTPGateClientError) {
        let reply = try await send(Request(payload: payload))
        if case .failure(let failure) = reply.outcome { throw OTPGateClientError(failure) }
    }

    // MARK: - Operations

    public func verify(
        user: String, code: String, service: String? = nil, rhost: String? = nil, tty: String? = nil
    ) async throws(OTPGateClientError) -> VerifyResult {
        try await call(.verify(VerifyRequest(user: user, code: code, service: service, rhost: rhost, tty: tty)), as: VerifyResult.self)
    }

    public func status(user: String) async throws(OTPGateClientError) -> StatusResult {
        try await call(.status(StatusRequest(user: user)), as: StatusResult.self)
    }

    public func enrollBegin(_ request: EnrollBeginRequest) async throws(OTPGateClientError) -> EnrollBeginResult {
        try await call(.enrollBegin(request), as: EnrollBeginResult.self)
    }

    public func enrollConfirm(user: String, enrollment: String, code: String) async throws(OTPGateClientError) -> EnrollConfirmResult {
        try await call(.enrollConfirm(EnrollConfirmRequest(user: user, enrollment: enrollment, code: code)), as: EnrollConfirmResult.self)
    }

    public func enrollCancel(user: String, enrollment: String) async throws(OTPGateClientError) {
        try await callEmpty(.enrollCancel(EnrollCancelRequest(user: user, enrollment: enrollment)))
    }

    public func removeToken(user: String, token: String, code: String? = nil) async throws(OTPGateClientError) -> TokenRemoveResult {
        try await call(.tokenRemove(TokenRemoveRequest(user: user, token: token, code: code)), as: TokenRemoveResult.self)
    }

    public func regenerateRecoveryCodes(user: String, code: String? = nil) async throws(OTPGateClientError) -> RecoveryRegenerateResult {
        try await call(.recoveryRegenerate(RecoveryRegenerateRequest(user: user, code: code)), as: RecoveryRegenerateResult.self)
    }

    public func health() async throws(OTPGateClientError) -> HealthResult {
        try await call(.health, as: HealthResult.self)
    }

    public func listUsers() async throws(OTPGateClientError) -> AdminListResult {
        try await call(.adminList, as: AdminListResult.self)
    }

    public func reset(user: String) async throws(OTPGateClientError) {
        try await callEmpty(.adminReset(AdminResetRequest(user: user)))
    }

    public func unlock(user: String) async throws(OTPGateClientError) {
        try await callEmpty(.adminUnlock(AdminUnlockRequest(user: user)))
    }

    public func audit(user: String? = nil, since: Timestamp? = nil, limit: Int? = nil) async throws(OTPGateClientError) -> AdminAuditResult {
        try await call(.adminAudit(AdminAuditRequest(user: user, since: since, limit: limit)), as: AdminAuditResult.self)
    }

    /// Re-encrypts every secret under a new master key (admin socket).
    public func rekey() async throws(OTPGateClientError) -> AdminRekeyResult {
        try await call(.adminRekey, as: AdminRekeyResult.self)
    }
}
