import NIOCore
import NIOEmbedded
@testable import OTPGateServer
import Testing

/// The framing in the pipeline: whole lines, the length limit, and a wiped buffer.
struct RequestLineDecoderTests {
    func channel(max: Int = 16) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RequestLineDecoder(maxLineBytes: max)))
        return channel
    }

    func frames(_ channel: EmbeddedChannel) throws -> [String] {
        var out: [String] = []
        while let frame = try channel.readInbound(as: RequestFrame.self) {
            switch frame {
            case .line(let b): out.append(String(buffer: b))
            case .tooLong: out.append("<too long>")
            }
        }
        return out
    }

    @Test func linesSplitAcrossReadsAndSeveralInOneRead() throws {
        let c = try channel()
        try c.writeInbound(ByteBuffer(string: "{\"a\""))
        #expect(try frames(c).isEmpty)
        try c.writeInbound(ByteBuffer(string: ":1}\n{}\n\n{\"b"))
        #expect(try frames(c) == ["{\"a\":1}", "{}", ""])
        try c.writeInbound(ByteBuffer(string: "\":2}\n"))
        #expect(try frames(c) == ["{\"b\":2}"])
    }

    @Test func aLineAtTheLimitPassesOneByteMoreDoesNot() throws {
        let c = try channel(max: 16)
        try c.writeInbound(ByteBuffer(string: String(repeating: "x", count: 16) + "\n"))
        #expect(try frames(c) == [String(repeating: "x", count: 16)])
        try c.writeInbound(ByteBuffer(string: String(repeating: "y", count: 17) + "\n{}\n"))
        #expect(try frames(c) == ["<too long>"], "after an overlong line nothing more is framed")
    }

    @Test func anEndlessLineIsCutOffWithoutWaitingForItsEnd() throws {
        let c = try channel(max: 16)
        try c.writeInbound(ByteBuffer(string: String(repeating: "z", count: 10)))
        #expect(try frames(c).isEmpty)
        try c.writeInbound(ByteBuffer(string: String(repeating: "z", count: 10)))
        #expect(try frames(c) == ["<too long>"])
    }

    @Test func aPartialLineAtEndOfInputIsDropped() throws {
        let c = try channel()
        try c.writeInbound(ByteBuffer(string: "{}\n{\"half"))
        c.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(try frames(c) == ["{}"])
    }
}
