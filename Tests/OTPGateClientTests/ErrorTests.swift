import Foundation
import Glibc
import Synchronization
import OTPGateClient
import OTPGateProtocol
import Testing

/// What a call throws when no usable answer comes: every path one `OTPGateClientError`
/// with a stable code and a message that names the socket.
@Suite struct ErrorTests {
    @Test func aMissingSocketIsUnreachable() async throws {
        let client = OTPGateClient(socketPath: "/nonexistent/otpgated.sock")
        let error = await #expect(throws: OTPGateClientError.self) { try await client.health() }
        #expect(error?.code == .unreachable)
        #expect(error?.message == "cannot connect to otpgated at /nonexistent/otpgated.sock: No such file or directory; is the daemon running?")
    }

    @Test func aDaemonFailureCarriesItsCodeAlsoOneThisClientDoesNotKnow() async throws {
        let limited = try AnsweringSocket(
            reply: #"{"v":1,"ok":false,"error":"rate_limited","message":"too many attempts","retry_after":7}"#)
        let client = OTPGateClient.trustingMe(limited.path)
        let error = await #expect(throws: OTPGateClientError.self) { try await client.verify(user: "alice", code: "123456") }
        #expect(error?.code == .daemon(.rateLimited) && error?.retryAfter == 7 && error?.message == "too many attempts")
        #expect(error?.code.daemonCode == .rateLimited && error?.isUnavailable == false)
        #expect(limited.received.count == 1 && limited.received[0].contains(#""op":"verify""#))

        let future = try AnsweringSocket(reply: #"{"v":1,"ok":false,"error":"quota_exceeded","message":"later"}"#)
        let unknown = await #expect(throws: OTPGateClientError.self) {
            try await OTPGateClient.trustingMe(future.path).health()
        }
        #expect(unknown?.code == .daemon(rawCode: "quota_exceeded") && unknown?.code.daemonCode == nil)
        #expect(unknown?.code.rawDaemonCode == "quota_exceeded" && "\(unknown!.code)" == "quota_exceeded")
    }

    @Test func aReplyThatIsNotProtocolV1IsAProtocolError() async throws {
        let garbage = try AnsweringSocket(reply: "hello")
        let error = await #expect(throws: OTPGateClientError.self) { try await OTPGateClient.trustingMe(garbage.path).health() }
        #expect(error?.code == .protocolError && error?.isUnavailable == true)
        #expect(error?.message.hasPrefix("unreadable reply from otpgated: ") == true)
    }

    @Test func aTaskCancelledBeforeTheCallSendsNothing() async throws {
        let daemon = try AnsweringSocket(reply: TrustTests.health)
        let client = OTPGateClient.trustingMe(daemon.path)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await client.health()
        }
        let error = await #expect(throws: OTPGateClientError.self) { try await task.value }
        #expect(error?.code == .cancelled)
        #expect(daemon.received.isEmpty)
    }
}

extension OTPGateClient {
    /// For a socket this test process made: its owner is whoever runs the tests.
    static func trustingMe(_ path: String) -> OTPGateClient {
        OTPGateClient(configuration: .init(socketPath: path, timeout: .seconds(5), trustedUIDs: .standard(and: getuid())))
    }
}
