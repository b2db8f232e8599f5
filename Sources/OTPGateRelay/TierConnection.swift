import NIOCore
import OTPCore
import OTPGateServer

/// One open, handshaken TLS connection to a tier node, carrying one request at a
/// time; kept by its `TierEndpoint` between requests.
final class TierConnection: Sendable {
    let channel: any Channel
    private let handler: NIOLoopBound<TierReplyHandler>

    init(channel: any Channel, handler: NIOLoopBound<TierReplyHandler>) {
        self.channel = channel
        self.handler = handler
    }

    /// Sends `line` and waits, on the calling (worker) thread, for the reply until
    /// `deadline`. Whether the connection was still open is decided on its event loop
    /// in the same turn as the write, so `.notSent` means that nothing was written.
    func exchange(_ line: String, until deadline: NIODeadline) -> TierOutcome {
        let loop = channel.eventLoop
        let (channel, handler) = (self.channel, self.handler)
        let started: EventLoopFuture<EventLoopFuture<SecretBytes>?> = loop.submit {
            guard channel.isActive else { return nil }
            let promise = loop.makePromise(of: SecretBytes.self)
            handler.value.expect(promise)
            var buffer = channel.allocator.buffer(capacity: line.utf8.count)
            buffer.writeString(line)
            channel.writeAndFlush(buffer).whenComplete { _ in buffer.wipeInPlace() }
            // At the deadline the exchange fails at once (an unknown outcome) and the
            // connection is closed: the relay never waits past it, not even for the
            // TLS close, which a hung or cut-off node never acknowledges.
            let timer = loop.scheduleTask(deadline: deadline) { handler.value.abandon("no reply within the deadline") }
            promise.futureResult.whenComplete { _ in timer.cancel() }
            return promise.futureResult
        }
        let reply: EventLoopFuture<SecretBytes>
        do {
            guard let sent = try started.wait() else { return .notSent("a kept connection was closed") }
            reply = sent
        } catch {
            return .notSent("the relay's event loop is stopping")
        }
        do {
            return .reply(try reply.wait())
        } catch {
            if NIODeadline.now() >= deadline { return .unknown("no reply within the deadline") }
            return .unknown("\(error)")
        }
    }

    var isActive: Bool { channel.isActive }

    func close() { channel.close(promise: nil) }
}
