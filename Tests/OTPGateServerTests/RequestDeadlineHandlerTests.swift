import NIOCore
import NIOEmbedded
@testable import OTPGateServer
import Testing

/// The request deadline on an embedded channel, whose clock moves only when told:
/// the idle timeout to the second, bytes that never finish a line (slowloris), the
/// clock stopped while a reply is owed, and running again for a client that does not
/// read its replies.
struct RequestDeadlineHandlerTests {
    func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: RequestDeadlineHandler(timeout: .seconds(30)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    func advance(_ channel: EmbeddedChannel, _ seconds: Int64) {
        channel.embeddedEventLoop.advanceTime(by: .seconds(seconds))
    }

    func reply(_ channel: EmbeddedChannel) throws {
        try channel.writeOutbound(ByteBuffer(string: "{\"ok\":true}\n"))
        _ = try channel.readOutbound(as: ByteBuffer.self)
    }

    @Test func anIdleConnectionClosesAtTheTimeout() throws {
        let c = try channel()
        advance(c, 29)
        #expect(c.isActive)
        advance(c, 1)
        #expect(!c.isActive)
    }

    @Test func bytesThatNeverFinishALineDoNotKeepItOpen() throws {
        let c = try channel()
        for _ in 0..<2 {
            advance(c, 10)
            try c.writeInbound(ByteBuffer(string: "{"))
            #expect(try c.readInbound(as: ByteBuffer.self) != nil, "passed on")
        }
        advance(c, 9)
        #expect(c.isActive)
        advance(c, 1)
        #expect(!c.isActive, "dribbling reset the deadline")
    }

    @Test func theClockStopsWhileARequestWaitsForItsReply() throws {
        let c = try channel()
        advance(c, 20)
        try c.writeInbound(ByteBuffer(string: "{\"op\":\"health\"}\n"))
        advance(c, 3600)
        #expect(c.isActive, "a slow answer is not idleness")
        try reply(c)
        advance(c, 29)
        #expect(c.isActive)
        advance(c, 1)
        #expect(!c.isActive, "idle again after the reply")
    }

    @Test func everyLineReadIsOwedAReply() throws {
        let c = try channel()
        try c.writeInbound(ByteBuffer(string: "{}\n{}\n"))
        try reply(c)
        advance(c, 3600)
        #expect(c.isActive, "one of two replies is still owed")
        try reply(c)
        advance(c, 30)
        #expect(!c.isActive)
    }

    @Test func aClientThatStopsReadingIsIdleAgain() throws {
        let c = try channel()
        try c.writeInbound(ByteBuffer(string: "{}\n{}\n"))
        try reply(c)
        c.isWritable = false
        c.pipeline.fireChannelWritabilityChanged()
        advance(c, 29)
        #expect(c.isActive)
        advance(c, 1)
        #expect(!c.isActive, "replies that are not read keep the connection open")
    }

    @Test func writableAgainStopsTheClockWhileAReplyIsOwed() throws {
        let c = try channel()
        try c.writeInbound(ByteBuffer(string: "{}\n{}\n"))
        try reply(c)
        c.isWritable = false
        c.pipeline.fireChannelWritabilityChanged()
        advance(c, 20)
        c.isWritable = true
        c.pipeline.fireChannelWritabilityChanged()
        advance(c, 3600)
        #expect(c.isActive)
    }
}
