public import NIOCore
public import NIOPosix
public import OTPCore
public import OTPGateProtocol

/// What answers a parsed request for a known peer: on a single host or a tier node the
/// `RequestHandler` over its store; on a relay (`mode = "relay"`) the relay, which
/// forwards to the verifier tier. Called on a worker thread, never on an event loop:
/// it may block, up to its own deadline. Never throws: every failure is an answer.
public protocol RequestResponder: Sendable {
    func handle(_ request: Request, peer: Peer) -> Answer
}

extension RequestHandler: RequestResponder {}

extension RequestResponder {
    /// On a worker: the reply line for `request`, in wiped memory, or `unavailable`
    /// when the pool is stopping; then the request's own strings (codes) are wiped.
    /// Shared by the local sockets' and the tier link's connection handlers.
    public func answerLine(_ request: Request, peer: Peer, state: NIOThreadPool.WorkItemState) -> SecretBytes {
        let line: SecretBytes
        if case .active = state {
            line = handle(request, peer: peer).line()
        } else {
            line = Answer(Reply.failure(id: request.id, code: .unavailable, message: "the daemon is shutting down")).line()
        }
        // Parsed from the line, so its strings are the daemon's own heap memory.
        request.wipeSecrets()
        return line
    }
}

extension ChannelHandlerContext {
    /// Writes a reply line that may carry a secret, an otpauth URI or recovery codes:
    /// the buffer is sized to the line (so it never grows and leaves no copy behind)
    /// and wiped once the kernel has it; `line` wipes itself when released. Then
    /// closes the channel if asked.
    public func writeWiped(_ line: SecretBytes, thenClose: Bool) -> EventLoopFuture<Void> {
        let allocator = channel.allocator
        let buffer = line.withUnsafeBytes { bytes in
            var buffer = allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            return buffer
        }
        let written = writeAndFlush(NIOAny(buffer))
        let channel = self.channel
        written.whenComplete { _ in
            buffer.wipeInPlace()
            if thenClose { channel.close(promise: nil) }
        }
        return written
    }
}
