import Foundation
import Glibc
@testable import OTPGateServer
import Testing

/// The listeners' socket files get their mode without a process-wide umask (which
/// once made other tests' files 0600 while an in-process daemon bound its sockets).
@Suite("Listener socket modes")
struct ListenerSocketModeTests {
    /// This process's umask, read without changing it.
    static func umask() throws -> mode_t {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Umask:") })
        return try #require(mode_t(line.dropFirst("Umask:".count).trimmingCharacters(in: .whitespaces), radix: 8))
    }

    static func mode(_ path: String) -> mode_t {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & 0o7777 : 0o10000
    }

    /// What `bindListening` relies on: Linux creates the file with the socket
    /// inode's mode (set by fchmod before bind) less the umask. The control, bound
    /// without the fchmod, gets 0777 less the umask.
    @Test func linuxCreatesTheFileWithTheModeSetBeforeBind() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let mask = try Self.umask()
        func bound(_ name: String, fchmodTo mode: mode_t?) throws -> mode_t {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            defer { close(fd) }
            if let mode { try #require(fchmod(fd, mode) == 0) }
            let address = try #require(UnixAddress(dir.file(name)))
            try #require(address.withSockaddr { bind(fd, $0, $1) } == 0)
            return Self.mode(dir.file(name))
        }
        #expect(try bound("narrow", fchmodTo: 0o600) == 0o600 & ~mask)
        let control = try bound("plain", fchmodTo: nil)
        #expect(control == 0o777 & ~mask)
        #expect(control != 0o600 & ~mask, "under umask \(String(mask, radix: 8)) the control cannot tell the fchmod's effect")
    }

    @Test func theAdminSocketIsOwnerOnlyAndThePublicOneOpenWhateverTheUmask() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let before = try Self.umask()
        for (kind, expected) in [(SocketKind.admin, mode_t(0o600)), (.public, 0o666)] {
            let socket = ListenerSocket(kind: kind, path: dir.file("\(kind).sock"))
            let fd = try socket.bindListening(backlog: 4)
            defer { close(fd) }
            #expect(Self.mode(socket.path) == expected, "\(kind): \(String(Self.mode(socket.path), radix: 8))")
            // Listening: a client connects.
            #expect(ListenerSocket.answers(socket.path))
            socket.remove()
            #expect(Self.mode(socket.path) == 0o10000, "removed")
        }
        #expect(try Self.umask() == before, "the process's umask was changed")
    }
}
