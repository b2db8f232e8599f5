public import OTPGateProtocol

/// What answers a parsed request for a known peer: on a single host or a tier node the
/// `RequestHandler` over its store; on a relay (`mode = "relay"`) the relay, which
/// forwards to the verifier tier. Called on a worker thread, never on an event loop:
/// it may block, up to its own deadline. Never throws: every failure is an answer.
public protocol RequestResponder: Sendable {
    func handle(_ request: Request, peer: Peer) -> Answer
}

extension RequestHandler: RequestResponder {}
