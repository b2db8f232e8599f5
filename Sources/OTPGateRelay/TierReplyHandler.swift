import NIOCore
import NIOSSL
import NIOTLS
import OTPCore
import OTPGateServer

/// The relay's end of one TLS connection to a tier node, on its event loop: tells
/// when the handshake is done, and collects the one reply line expected at a time
/// into wiped memory (each buffer read is zeroed once copied: a reply may carry a
/// secret or recovery codes). Bytes nobody asked for, a line too long, or a close
/// fail the exchange and close the connection.
final class TierReplyHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    let handshake: EventLoopPromise<Void>
    private var handshakeDone = false
    private var pending: EventLoopPromise<SecretBytes>?
    private var line = SecretBytes(capacity: 0)
    private let maxLineBytes: Int
    private var context: ChannelHandlerContext?

    init(handshake: EventLoopPromise<Void>, maxLineBytes: Int) {
        self.handshake = handshake
        self.maxLineBytes = maxLineBytes
    }

    /// Waits for the next reply line. One at a time: the link has one request in
    /// flight per connection.
    func expect(_ promise: EventLoopPromise<SecretBytes>) {
        precondition(pending == nil, "one request in flight per tier connection")
        pending = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event, !handshakeDone {
            handshakeDone = true
            handshake.succeed(())
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        defer { buffer.wipeInPlace() }
        guard let promise = pending else {
            fail(TierLinkError("the tier node sent bytes nobody asked for"), context: context)
            return
        }
        let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n"))
        let end = newline.map { $0 + 1 - buffer.readerIndex } ?? buffer.readableBytes
        guard line.count + end <= maxLineBytes else {
            fail(TierLinkError("the tier node's reply exceeds \(maxLineBytes) bytes"), context: context)
            return
        }
        if line.count == 0 { line = SecretBytes(capacity: newline == nil ? 4096 : end) }
        buffer.withUnsafeReadableBytes { line.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0.prefix(end))) }
        guard newline != nil else { return }
        guard end == buffer.readableBytes else {
            fail(TierLinkError("the tier node sent more than one reply line"), context: context)
            return
        }
        let complete = line
        line = SecretBytes(capacity: 0)
        pending = nil
        promise.succeed(complete)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// A connection that never became active (connect failed) ends here.
    func handlerRemoved(context: ChannelHandlerContext) {
        finish(TierLinkError("the connection to the tier node was closed"))
        self.context = nil
    }

    /// The deadline passed: fails the handshake or the exchange at once and closes
    /// the connection. At once, not when the close completes: closing a TLS
    /// connection waits for the peer's close_notify (seconds, on a cut link).
    func abandon(_ why: String) {
        finish(TierLinkError(why))
        context?.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(TierLinkError("the tier node closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(TierLinkError("\(error)"), context: context)
    }

    private func fail(_ error: TierLinkError, context: ChannelHandlerContext) {
        finish(error)
        context.close(promise: nil)
    }

    private func finish(_ error: TierLinkError) {
        if !handshakeDone {
            handshakeDone = true
            handshake.fail(error)
        }
        pending?.fail(error)
        pending = nil
        line.wipe()
    }
}

/// Why an exchange with a tier node failed: for logs and `doctor`, never with a
/// request's content in it.
public struct TierLinkError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
