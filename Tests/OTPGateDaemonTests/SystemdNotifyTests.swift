import Glibc
import OTPGateTestSupport
import Testing

/// sd_notify as systemd sees it: READY=1 once serving, WATCHDOG=1 every half of
/// WATCHDOG_USEC, STOPPING=1 on SIGTERM (issue 10 item 5). The fixture's own notify
/// socket (DaemonProcess gives every run one) is read here directly.
@Suite(.serialized, .ownThreads)
struct SystemdNotifyTests {
    @Test func readyThenWatchdogPingsThenStopping() throws {
        let daemon = try DaemonProcess(start: false)
        try daemon.launch(environment: ["WATCHDOG_USEC": "400000"])
        let notify = try #require(daemon.notifications)

        var seen: [String] = []
        while seen.filter({ $0 == "WATCHDOG=1" }).count < 3, let message = notify.receive(timeout: .seconds(30)) {
            seen.append(message)
        }
        #expect(seen.first == "READY=1", "\(seen)")
        #expect(seen.filter { $0 == "WATCHDOG=1" }.count >= 3, "\(seen)")
        // Ready means serving.
        daemon.expectOK(try daemon.connect().call("health"))

        daemon.signal(SIGTERM)
        var stopping = false
        while !stopping, let message = notify.receive(timeout: .seconds(10)) { stopping = message == "STOPPING=1" }
        #expect(stopping)
        #expect(daemon.waitForExit(timeout: .seconds(10)))
        #expect(daemon.terminationStatus == 0 && !daemon.wasSignalled)
    }

    @Test func noWatchdogPingsUnlessAskedForThisProcess() throws {
        let daemon = try DaemonProcess(start: false)
        // For another process: not ours to answer.
        try daemon.launch(environment: ["WATCHDOG_USEC": "400000", "WATCHDOG_PID": "1"])
        let notify = try #require(daemon.notifications)
        #expect(notify.receive(timeout: .seconds(30)) == "READY=1")
        // Five intervals of 200 ms: pings would have come by now (the test above is the control).
        #expect(notify.receive(timeout: .seconds(1)) == nil, "a watchdog ping nobody asked this process for")
        #expect(daemon.stop() == 0)
    }
}
