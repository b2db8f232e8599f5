import Foundation
import Glibc
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// Issue 13 item 10: a fatal signal is fatal, and no crash report prints memory. On
/// main, after `kill -SEGV` the Swift backtracer printed every thread with registers
/// and the bytes they point to, and the daemon went on running.
@Suite(.serialized, .ownThreads)
struct FatalSignalTests {
    @Test(arguments: [SIGSEGV, SIGBUS, SIGILL, SIGABRT])
    func anExternalFatalSignalKillsTheDaemonWithoutAMemoryDump(_ sig: Int32) throws {
        // The environment of the test, not the unit's: SWIFT_BACKTRACE is not set here,
        // so the daemon's own reset of the handlers is what is tested.
        let daemon = try DaemonProcess()
        Glibc.kill(daemon.pid, sig)
        #expect(daemon.waitForExit(timeout: .seconds(10)), "otpgated still runs 10 s after signal \(sig)")
        if daemon.isRunning { daemon.kill() }
        #expect(daemon.wasSignalled && daemon.terminationStatus == sig, "ended with \(daemon.terminationStatus)")
        let log = daemon.log
        for marker in ["Backtracing", "Registers", "Program crashed", "Thread 0"] {
            #expect(!log.contains(marker), "stderr has a crash report (\(marker)):\n\(log)")
        }
    }
}
