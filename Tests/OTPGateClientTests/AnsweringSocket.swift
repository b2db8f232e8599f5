import Foundation
import Glibc
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
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let path = directory + "/d.sock"
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard fd >= 0, bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
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
