/// Why the fixture could not do what a test asked (start the daemon, run a program):
/// one line for the test report.
struct FixtureError: Error, CustomStringConvertible {
    let message: String

    init(_ message: String) {
        self.message = message
    }

    var description: String { message }
}
