import OTPGateProtocol
@testable import OTPGateServer
import Testing

/// verify.precheck and verify.candidates have the authorization of verify.
@Suite("Authorization of verify.precheck and verify.candidates")
struct AuthorizerPrecheckTests {
    func peer(_ uid: UInt32, name: String?, privileged: Bool = false) -> Peer {
        Peer(uid: uid, gid: uid, pid: 1, socket: .public, userName: name, isAdmin: uid == 0, isPrivileged: privileged)
    }

    func payloads(user: String) -> [Request.Payload] {
        [
            .verifyPrecheck(VerifyPrecheckRequest(user: user, rhost: "h", gracePeriod: 60)),
            .verifyCandidates(VerifyCandidatesRequest(user: user, codes: ["123456"])),
        ]
    }

    @Test func likeVerify() {
        let root = peer(0, name: "root", privileged: true)
        let locker = peer(998, name: "locker", privileged: true)
        let ann = peer(1000, name: "ann")
        for p in payloads(user: "bob") {
            #expect(Authorizer.decide(p, peer: root) == .allowed(asAdmin: false), "\(p.operation)")
            #expect(Authorizer.decide(p, peer: locker) == .allowed(asAdmin: false), "\(p.operation)")
            guard case .forbidden = Authorizer.decide(p, peer: ann) else {
                Issue.record("ann may \(p.operation) for bob")
                continue
            }
            guard case .forbidden = Authorizer.decide(p, peer: peer(1001, name: nil)) else {
                Issue.record("a nameless uid may \(p.operation)")
                continue
            }
        }
        for p in payloads(user: "ann") {
            #expect(Authorizer.decide(p, peer: ann) == .allowed(asAdmin: false), "\(p.operation)")
        }
    }
}
