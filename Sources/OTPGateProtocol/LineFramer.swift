/// Cuts a byte stream into protocol lines, with a bound on how much it will hold.
///
/// Both sides need this: the daemon for requests, a client for replies. It keeps no
/// more than `maxLineBytes` plus one read's worth of bytes, so a peer that never sends
/// a newline cannot make it grow without limit.
public struct LineFramer: Sendable {
    public enum Next: Sendable, Hashable {
        /// A complete line, without its "\n".
        case line([UInt8])
        /// More bytes are needed.
        case needMoreData
        /// The current line passed the limit. The stream is no longer framed: answer
        /// (`bad_request` on the daemon side) and close.
        case tooLong
    }

    public let maxLineBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0

    public init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    /// Bytes received but not yet returned as a line.
    public var bufferedByteCount: Int { buffer.count - start }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        // Drop what was consumed before growing, so the buffer stays bounded.
        if start > 0 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    public mutating func next() -> Next {
        if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
            guard newline - start <= maxLineBytes else { return .tooLong }
            let line = Array(buffer[start..<newline])
            start = newline + 1
            return .line(line)
        }
        return bufferedByteCount > maxLineBytes ? .tooLong : .needMoreData
    }
}
