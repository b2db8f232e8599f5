/// Something that speaks the line protocol to otpgated: a socket of this process
/// (`SocketClient`) or a relay running as another user (`UserClient`).
package protocol LineClient: AnyObject {
    /// Writes all of `bytes`, or throws.
    func send(_ bytes: [UInt8]) throws
    func readLine(timeout: Duration) -> LineReader.Outcome
}
