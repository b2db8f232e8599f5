import NIOCore

/// Closes a connection that has neither completed a request line nor been sent a
/// reply for `timeout`. Unlike a plain read-idle timer, bytes that never finish a
/// line do not keep the connection alive, so a client dribbling one byte at a time
/// cannot hold it open (slowloris). While a complete request waits for its reply the
/// clock stops: a request the daemon is slow to answer (ten scrypt hashes on a busy
/// machine, a long queue for the next commit) is not idleness; but a client that
/// stops reading its replies (the channel is not writable) is idle again.
final class RequestDeadlineHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    /// Complete request lines read and not yet answered (one reply line each).
    private var unanswered = 0

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let lines = unwrapInboundIn(data).readableBytesView.lazy.filter { $0 == UInt8(ascii: "\n") }.count
        if lines > 0 {
            unanswered += lines
            disarm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // A reply (or a bad_request for a line that never ended: then none was counted).
        unanswered = max(0, unanswered - 1)
        if unanswered == 0 { arm(context) }
        context.write(data, promise: promise)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !context.channel.isWritable {
            arm(context)
        } else if unanswered > 0 {
            disarm()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    private func disarm() {
        deadline?.cancel()
        deadline = nil
    }

    private func arm(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }
}
