internal import Glibc
internal import Logging
internal import NIOCore
internal import NIOPosix
import OTPGateProtocol

extension OTPGateClient {
    /// One request line out, one reply line back, on a connection of its own, all
    /// before `deadline`. Nothing here blocks a thread: the connect, the write and the
    /// read are events on `eventLoopGroup`, and the caller's task only awaits the
    /// reply, which the first of these completes: the reply line, a failure, the
    /// deadline, or the task's cancellation.
    func exchange(_ line: String, deadline: NIODeadline, logger: Logger) async throws -> [UInt8] {
        let path = configuration.socketPath
        // Checked on the caller's thread before anything is sent (a getpwnam for the
        // `otpgate` user may read /etc/passwd), as pam_otpgate checks the file first.
        let trusted = configuration.trustedUIDs.resolved()
        try Self.checkSocketFile(path, trusted: trusted)

        let eventLoop = eventLoopGroup.next()
        let reply = eventLoop.makePromise(of: [UInt8].self)
        let timer = eventLoop.scheduleTask(deadline: deadline) {
            reply.fail(OTPGateClientError(.timeout, "otpgated did not answer in time"))
        }
        let connected = ClientBootstrap(group: eventLoop)
            .connectTimeout(max(.nanoseconds(0), deadline - .now()))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ReplyLineHandler(reply: reply))
                }
            }
            .connect(unixDomainSocketPath: path)
        connected.whenComplete { result in
            switch result {
            case .failure(let error):
                reply.fail(Self.connectError(error, path: path))
            case .success(let channel):
                Self.sendAfterCheckingPeer(line, on: channel, trusted: trusted, path: path, reply: reply)
            }
        }
        reply.futureResult.whenComplete { _ in
            timer.cancel()
            connected.whenSuccess { $0.close(promise: nil) }
        }
        logger.debug("request sent to otpgated", metadata: ["socket.path": "\(path)"])
        return try await withTaskCancellationHandler {
            try await reply.futureResult.get()
        } onCancel: {
            reply.fail(OTPGateClientError(.cancelled, "the call to otpgated was cancelled"))
        }
    }

    /// The peer's uid comes from the kernel (SO_PEERCRED, recorded when the daemon
    /// listened), so a process that merely reuses a trusted path is caught here.
    private static func sendAfterCheckingPeer(
        _ line: String, on channel: any Channel, trusted: Set<UInt32>, path: String, reply: EventLoopPromise<[UInt8]>
    ) {
        guard let provider = channel as? any SocketOptionProvider else {
            return reply.fail(OTPGateClientError(.untrustedDaemon, "cannot read the credentials of the peer on \(path)"))
        }
        provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
            .whenComplete { (result: Result<PeerCredentials, any Error>) in
                switch result {
                case .success(let cred) where trusted.contains(cred.uid):
                    channel.writeAndFlush(channel.allocator.buffer(string: line)).whenFailure { error in
                        reply.fail(OTPGateClientError(.unreachable, "otpgated closed the connection: \(error)"))
                    }
                case .success(let cred):
                    reply.fail(OTPGateClientError(
                        .untrustedDaemon,
                        "the process on \(path) runs as uid \(cred.uid), not as root or \(TrustedUIDs.daemonUserName); refusing it"))
                case .failure:
                    reply.fail(OTPGateClientError(.untrustedDaemon, "cannot read the credentials of the peer on \(path)"))
                }
            }
    }

    /// The socket file must exist, be a socket, and belong to a trusted uid.
    private static func checkSocketFile(_ path: String, trusted: Set<UInt32>) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            throw connectError(errno: errno, path: path)
        }
        guard st.st_mode & S_IFMT == S_IFSOCK else {
            throw OTPGateClientError(.unreachable, "cannot connect to otpgated at \(path): not a socket")
        }
        guard trusted.contains(st.st_uid) else {
            throw OTPGateClientError(
                .untrustedDaemon,
                "\(path) belongs to uid \(st.st_uid), not to root or \(TrustedUIDs.daemonUserName); refusing it")
        }
    }

    private static func connectError(_ error: any Error, path: String) -> OTPGateClientError {
        switch error {
        case let error as OTPGateClientError: error
        case let error as IOError: connectError(errno: error.errnoCode, path: path)
        case ChannelError.connectTimeout: OTPGateClientError(.timeout, "otpgated did not answer in time")
        case SocketAddressError.unixDomainSocketPathTooLong: OTPGateClientError(.unreachable, "socket path \(path) is too long")
        default: OTPGateClientError(.unreachable, "cannot connect to otpgated at \(path): \(error)")
        }
    }

    private static func connectError(errno err: Int32, path: String) -> OTPGateClientError {
        switch err {
        case EACCES, EPERM:
            OTPGateClientError(.permissionDenied, "no permission to connect to \(path) (the admin socket needs root)")
        default:
            OTPGateClientError(
                .unreachable, "cannot connect to otpgated at \(path): \(String(cString: strerror(err))); is the daemon running?")
        }
    }
}

extension TrustedUIDs {
    /// The uids as numbers, for checks on the event loop (no lookups there).
    func resolved() -> Set<UInt32> {
        var uids = extra
        uids.insert(0)
        if let daemon = Self.daemonUserUID() { uids.insert(daemon) }
        return uids
    }
}
