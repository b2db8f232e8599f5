internal import NIOCore
import OTPGateProtocol

/// The client's end of one exchange: the first complete line from the daemon
/// completes `reply`; a longer line, a close or an error before it fails it. Either
/// way the connection is then closed (one request per connection).
final class ReplyLineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var framer = LineFramer(maxLineBytes: ProtocolLimits.maxReplyLineBytes)
    private let reply: EventLoopPromise<[UInt8]>

    init(reply: EventLoopPromise<[UInt8]>) {
        self.reply = reply
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        framer.append(buffer.readableBytesView)
        switch framer.next() {
        case .needMoreData:
            return
        case .line(let line):
            reply.succeed(line)
        case .tooLong:
            reply.fail(OTPGateClientError(.protocolError, "the reply is longer than the protocol allows"))
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A no-op when the reply is already complete.
        reply.fail(OTPGateClientError(.unreachable, "otpgated closed the connection before answering"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        reply.fail(OTPGateClientError(.unreachable, "otpgated closed the connection: \(error)"))
        context.close(promise: nil)
    }
}
