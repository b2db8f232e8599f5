public import Logging
internal import NIOCore
internal import NIOPosix
public import OTPGateProtocol

/// An async client for otpgated's Unix sockets, for the `otpgate` CLI and for any
/// local service that wants to check a one-time code.
///
/// ```swift
/// let client = OTPGateClient()  // the public socket, 10 s per call
/// do {
///     let result = try await client.verify(user: "alice", code: "123456", service: "myapp")
///     print("accepted: \(result.factor.rawValue)")
/// } catch let error as OTPGateClientError where error.code == .daemon(.invalidCode) {
///     print("wrong code")
/// } catch {
///     print("refused: \(error)")  // fail closed: anything but a success is a "no"
/// }
/// ```
///
/// Each call opens one connection, sends one request and waits for its reply. The
/// timeout is one deadline, taken when the call starts, for connecting, sending and
/// receiving together; cancelling the calling task ends the call at once with
/// `.cancelled`. No call blocks a thread: the socket work runs on SwiftNIO's shared
/// event loops, or on a group the caller passes (`init(configuration:eventLoopGroup:)`).
///
/// Before anything is sent, the socket file and the process that accepted the
/// connection must belong to a trusted uid (`Configuration.trustedUIDs`: root and the
/// `otpgate` user by default, as pam_otpgate requires).
public struct OTPGateClient: Sendable {
    public static let defaultSocketPath = "/run/otpgate/otpgated.sock"
    public static let defaultAdminSocketPath = "/run/otpgate/otpgated-admin.sock"

    /// What a client connects to and how long it waits.
    public struct Configuration: Sendable, Hashable {
        public var socketPath: String
        /// For each call, from its start to the reply.
        public var timeout: Duration
        /// Who may own the socket file and the daemon process.
        public var trustedUIDs: TrustedUIDs

        public init(
            socketPath: String = OTPGateClient.defaultSocketPath, timeout: Duration = .seconds(10),
            trustedUIDs: TrustedUIDs = .standard
        ) {
            self.socketPath = socketPath
            self.timeout = timeout
            self.trustedUIDs = trustedUIDs
        }
    }

    public let configuration: Configuration
    let eventLoopGroup: any EventLoopGroup
    /// Used by calls that are not given a logger of their own.
    let backgroundLogger: Logger

    public var socketPath: String { configuration.socketPath }
    public var timeout: Duration { configuration.timeout }

    /// A client on SwiftNIO's shared event loop group. Without a logger it logs nothing.
    public init(configuration: Configuration = Configuration(), backgroundLogger: Logger? = nil) {
        self.init(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, backgroundLogger: backgroundLogger)
    }

    public init(socketPath: String, timeout: Duration = .seconds(10)) {
        self.init(configuration: Configuration(socketPath: socketPath, timeout: timeout))
    }

    init(configuration: Configuration, group: any EventLoopGroup, backgroundLogger: Logger?) {
        self.configuration = configuration
        self.eventLoopGroup = group
        self.backgroundLogger = backgroundLogger ?? Logger(label: "otpgate-client", factory: { _ in SwiftLogNoOpLogHandler() })
    }

    /// A client for the admin socket (root only, unless configured otherwise).
    public static func admin(socketPath: String = defaultAdminSocketPath, timeout: Duration = .seconds(30)) -> OTPGateClient {
        OTPGateClient(socketPath: socketPath, timeout: timeout)
    }

    /// Sends any request and returns the daemon's reply, success or failure. Throws
    /// `OTPGateClientError` when no reply in protocol v1 arrived.
    public func send(_ request: Request, logger: Logger? = nil) async throws -> Reply {
        let deadline = NIODeadline.now() + TimeAmount(configuration.timeout)
        var logger = logger ?? backgroundLogger
        logger[metadataKey: "request.op"] = "\(request.payload.operation.rawValue)"
        guard !Task.isCancelled else { throw OTPGateClientError(.cancelled, "the call to otpgated was cancelled") }
        do {
            let line = try await exchange(request.line, deadline: deadline, logger: logger)
            do {
                return try Reply.parse(line: line)
            } catch {
                throw OTPGateClientError(.protocolError, "unreadable reply from otpgated: \(error.message)")
            }
        } catch let error as OTPGateClientError {
            logger.debug("otpgated call failed", metadata: ["error.code": "\(error.code)"])
            throw error
        }
    }

    /// Sends a request and decodes a success into `R`; a failure becomes an error.
    func call<R: Decodable>(_ payload: Request.Payload, as type: R.Type, logger: Logger?) async throws -> R {
        let reply = try await send(Request(payload: payload), logger: logger)
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

    func callEmpty(_ payload: Request.Payload, logger: Logger?) async throws {
        let reply = try await send(Request(payload: payload), logger: logger)
        if case .failure(let failure) = reply.outcome { throw OTPGateClientError(failure) }
    }
}
