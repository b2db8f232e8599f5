import Foundation
import Glibc
import Testing

/// sd_notify as systemd sees it: READY=1 once serving, WATCHDOG=1 every half of
/// WATCHDOG_USEC, STOPPING=1 on SIGTERM (issue 10 item 5).
@Suite(.serialized)
struct SystemdNotifyTests {
    /// A datagram socket standing in for systemd's notify socket.
    final class NotifySocket {
        let path: String
        let fd: Int32

        init(directory: String) throws {
            path = directory + "/notify.sock"
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                for (i, b) in path.utf8.enumerated() { raw[i] = b }
            }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard rc == 0 else { throw FixtureError("bind \(path): \(String(cString: strerror(errno)))") }
        }

        deinit { close(fd) }

        /// The next datagram, or nil after `timeout`.
        func receive(timeout: Duration) -> String? {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(timeout.components.seconds * 1000)) == 1 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buffer, buffer.count, 0)
            return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : nil
        }
    }

    @Test func readyThenWatchdogPingsThenStopping() throws {
        let daemon = try DaemonProcess(start: false)
        let notify = try NotifySocket(directory: daemon.directory)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: DaemonProcess.binary)
        p.arguments = ["--state-dir", daemon.stateDirectory]
        var environment = ProcessInfo.processInfo.environment
        for key in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "CREDENTIALS_DIRECTORY", "WATCHDOG_PID"] { environment[key] = nil }
        environment["NOTIFY_SOCKET"] = notify.path
        environment["WATCHDOG_USEC"] = "400000"
        p.environment = environment
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) }; p.waitUntilExit() }

        var seen: [String] = []
        while seen.filter({ $0 == "WATCHDOG=1" }).count < 3, let message = notify.receive(timeout: .seconds(30)) {
            seen.append(message)
        }
        #expect(seen.first == "READY=1", "\(seen)")
        #expect(seen.filter { $0 == "WATCHDOG=1" }.count >= 3, "\(seen)")
        // Ready means serving.
        daemon.expectOK(try daemon.connect().call("health"))

        kill(p.processIdentifier, SIGTERM)
        var stopping = false
        while !stopping, let message = notify.receive(timeout: .seconds(10)) { stopping = message == "STOPPING=1" }
        #expect(stopping)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }

    @Test func noWatchdogPingsUnlessAskedForThisProcess() throws {
        let daemon = try DaemonProcess(start: false)
        let notify = try NotifySocket(directory: daemon.directory)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: DaemonProcess.binary)
        p.arguments = ["--state-dir", daemon.stateDirectory]
        var environment = ProcessInfo.processInfo.environment
        for key in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "CREDENTIALS_DIRECTORY"] { environment[key] = nil }
        environment["NOTIFY_SOCKET"] = notify.path
        // For another process: not ours to answer.
        environment["WATCHDOG_USEC"] = "400000"
        environment["WATCHDOG_PID"] = "1"
        p.environment = environment
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) }; p.waitUntilExit() }
        #expect(notify.receive(timeout: .seconds(30)) == "READY=1")
        #expect(notify.receive(timeout: .seconds(2)) == nil, "a watchdog ping nobody asked this process for")
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
    }
}
