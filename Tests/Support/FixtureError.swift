import Glibc

/// Why a test fixture could not do what a test asked (start the daemon, run a
/// program, connect, read a reply): one line for the test report.
package struct FixtureError: Error, CustomStringConvertible {
    package let message: String

    package init(_ message: String) {
        self.message = message
    }

    package var description: String { message }
}

/// strerror(3) of `code` (errno by default), for fixture messages.
package func errnoText(_ code: Int32? = nil) -> String {
    String(cString: strerror(code ?? errno))
}
