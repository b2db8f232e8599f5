import NIOCore

/// Holds what a new connection receives until the daemon is ready to serve it, then
/// replays it in order.
///
/// The daemon wraps a connection in `NIOAsyncChannel` only once it has read the
/// peer's credentials and admitted it: an `NIOAsyncChannel` created in the child
/// initializer and then dropped (a connection accepted just as the listener closes)
/// is a fatal error in swift-nio. Until then, bytes and the half-close event would
/// reach the end of the pipeline and be lost; this handler keeps them. It holds at
/// most `limit` bytes and closes a connection that sends more before being served.
final class HoldInboundHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum Held {
        case read(NIOAny)
        case event(Any)
    }

    private var held: [Held] = []
    private var heldBytes = 0
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        heldBytes += unwrapInboundIn(data).readableBytes
        guard heldBytes <= limit else {
            context.close(promise: nil)
            return
        }
        held.append(.read(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelEvent {
            held.append(.event(event))
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Passes on everything held and steps out of the pipeline. Call on the event loop,
    /// after the handler that consumes the data was added behind this one.
    func release(context: ChannelHandlerContext) {
        let events = held
        held = []
        for e in events {
            switch e {
            case .read(let data): context.fireChannelRead(data)
            case .event(let event): context.fireUserInboundEventTriggered(event)
            }
        }
        if !events.isEmpty { context.fireChannelReadComplete() }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
