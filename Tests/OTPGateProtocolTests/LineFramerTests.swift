import OTPGateProtocol
import Testing

@Suite("Line framing")
struct LineFramerTests {
    @Test func splitsLinesAcrossReads() {
        var framer = LineFramer(maxLineBytes: 16)
        framer.append(Array("ab".utf8))
        #expect(framer.next() == .needMoreData)
        framer.append(Array("c\nde\n\nf".utf8))
        #expect(framer.next() == .line(Array("abc".utf8)))
        #expect(framer.next() == .line(Array("de".utf8)))
        #expect(framer.next() == .line([]))
        #expect(framer.next() == .needMoreData)
        #expect(framer.bufferedByteCount == 1)
        framer.append(Array("\n".utf8))
        #expect(framer.next() == .line(Array("f".utf8)))
    }

    @Test func lineAtTheLimitIsAccepted() {
        var framer = LineFramer(maxLineBytes: 4)
        framer.append(Array("abcd\n".utf8))
        #expect(framer.next() == .line(Array("abcd".utf8)))
    }

    @Test func longLineIsRefusedBeforeItsNewlineArrives() {
        var framer = LineFramer(maxLineBytes: 4)
        framer.append(Array("abcd".utf8))
        #expect(framer.next() == .needMoreData)
        framer.append(Array("e".utf8))
        #expect(framer.next() == .tooLong)
    }

    @Test func longCompleteLineIsRefused() {
        var framer = LineFramer(maxLineBytes: 4)
        framer.append(Array("ok\nabcde\n".utf8))
        #expect(framer.next() == .line(Array("ok".utf8)))
        #expect(framer.next() == .tooLong)
    }
}
