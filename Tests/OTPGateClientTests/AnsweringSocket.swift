import Foundation
import Glibc
import OTPGateTestSupport
import Synchronization

/// A Unix socket in a fresh directory that answers every connection with `reply` once
/// a line has arrived, and records the lines. Runs in this process, so its peer uid is
/// the test's; `chownSocket` changes only the socket file's owner.
final class AnsweringSocket: Sendable {
    let directory: String
    var path: String { directory + "/d.sock" }
    private let lines = Lines()
    private let fd: Int32

    /// The request lines received so far.
    var received: [String] { lines.all }

    init(reply: String) throws {
        var template = Array("/tmp/otpgate-client-test-XXXXXX".utf8CString)
        directory = String(cString: mkdtemp(&template)!)
        chmod(directory, 0o755)
        fd = try UnixAddress.listening(directory + "/d.sock")
        let listener = fd
        Thread { [lines] in
            while true {
                let c = accept(listener, nil, nil)
                guard c >= 0 else { return }
                var line: [UInt8] = []
                var byte: UInt8 = 0
                while recv(c, &byte, 1, 0) == 1 && byte != UInt8(ascii: "\n") { line.append(byte) }
                lines.append(String(decoding: line, as: UTF8.self))
                let out = Array((reply + "\n").utf8)
                _ = send(c, out, out.count, Int32(MSG_NOSIGNAL))
                close(c)
            }
        }.start()
    }

    func chownSocket(to uid: UInt32) { chown(path, uid, UInt32.max) }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        try? FileManager.default.removeItem(atPath: directory)
    }
}

final class Lines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}
