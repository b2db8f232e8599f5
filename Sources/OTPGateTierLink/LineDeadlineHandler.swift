import NIOCore

/// Bounds the time a request line may take to arrive: armed by the first bytes of a
/// line (after the TLS layer, so counting request bytes only), disarmed when the line
/// is complete (`lineCompleted`). A client that trickles a line (slowloris) is closed
/// at the deadline; one that sends nothing is left to the idle timeout.
final class LineDeadlineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let deadline: TimeAmount
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    /// Whether a line started and has not been completed.
    private var started = false

    init(deadline: TimeAmount) {
        self.deadline = deadline
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !started {
            started = true
            let channel = context.channel
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: deadline) { channel.close(promise: nil) }
        }
        context.fireChannelRead(data)
    }

    /// A whole line arrived: the next bytes start the next line's clock.
    func lineCompleted() {
        timer?.cancel()
        timer = nil
        started = false
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }
}
