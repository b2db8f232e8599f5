public import NIOCore
public import OTPGateProtocol

/// One unit of the request stream, as the pipeline hands it to `ConnectionHandler`.
public enum RequestFrame {
    /// A complete line, without its "\n".
    case line(ByteBuffer)
    /// The current line passed the limit: the stream is no longer framed.
    case tooLong
}

/// Cuts the inbound byte stream into request lines (protocol v1: one JSON object per
/// line), with the length limit in the pipeline, so the connection code only ever sees
/// whole lines. It holds at most `maxLineBytes` plus one read, and after `.tooLong`
/// it discards everything: the connection is answered and closed.
///
/// The bytes of a line it passes on are zeroed in the cumulation buffer once they are
/// copied out: request lines carry one-time and recovery codes.
public struct RequestLineDecoder: ByteToMessageDecoder {
    public typealias InboundOut = RequestFrame

    public let maxLineBytes: Int
    private var broken = false
    /// Where the search for "\n" resumes: the bytes before it were searched already.
    private var searched = 0

    public init(maxLineBytes: Int = ProtocolLimits.maxRequestLineBytes) {
        self.maxLineBytes = maxLineBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if broken {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        let view = buffer.readableBytesView
        guard let newline = view.dropFirst(searched).firstIndex(of: UInt8(ascii: "\n")) else {
            searched = view.count
            if view.count > maxLineBytes { return fail(context: context, buffer: &buffer) }
            return .needMoreData
        }
        let length = newline - view.startIndex
        searched = 0
        guard length <= maxLineBytes else { return fail(context: context, buffer: &buffer) }
        let line = ByteBuffer(bytes: view[view.startIndex..<newline])
        Self.wipe(&buffer, length: length + 1)
        buffer.moveReaderIndex(forwardBy: length + 1)
        context.fireChannelRead(wrapInboundOut(.line(line)))
        return .continue
    }

    /// At end of input a partial line is dropped, as a client that hangs up mid-line
    /// asked for nothing; complete lines before it are still served.
    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        Self.wipe(&buffer, length: buffer.readableBytes)
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }

    private mutating func fail(context: ChannelHandlerContext, buffer: inout ByteBuffer) -> DecodingState {
        broken = true
        Self.wipe(&buffer, length: buffer.readableBytes)
        buffer.moveReaderIndex(to: buffer.writerIndex)
        context.fireChannelRead(wrapInboundOut(.tooLong))
        return .needMoreData
    }

    private static func wipe(_ buffer: inout ByteBuffer, length: Int) {
        guard length > 0 else { return }
        buffer.wipeInPlace(count: length)
    }
}
