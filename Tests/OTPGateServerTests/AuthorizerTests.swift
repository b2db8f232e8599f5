import OTPGateProtocol
@testable import OTPGateServer
import Testing

/// The authorization table of DESIGN.md, case by case.
@Suite("Authorization table")
struct AuthorizerTests {
    func peer(_ uid: UInt32, _ socket: SocketKind, name: String?, admin: Bool = false, privileged: Bool = false) -> Peer {
        Peer(uid: uid, gid: uid, pid: 1, socket: socket, userName: name, isAdmin: admin, isPrivileged: privileged)
    }

    let root = Peer(uid: 0, gid: 0, pid: 1, socket: .public, userName: "root", isAdmin: true, isPrivileged: true)

    func payloads(user: String) -> [Request.Payload] {
        [
            .verify(VerifyRequest(user: user, code: "123456")), .status(StatusRequest(user: user)),
            .enrollBegin(EnrollBeginRequest(user: user)),
            .enrollConfirm(EnrollConfirmRequest(user: user, enrollment: "e", code: "1")),
            .enrollCancel(EnrollCancelRequest(user: user, enrollment: "e")),
            .tokenRemove(TokenRemoveRequest(user: user, token: "t")),
            .recoveryRegenerate(RecoveryRegenerateRequest(user: user)),
        ]
    }

    @Test func adminSocketServesAdminsEverything() {
        let admin = peer(1000, .admin, name: "ann", admin: true)
        for p in payloads(user: "bob") + [.health, .adminList, .adminReset(AdminResetRequest(user: "bob")), .adminAudit(AdminAuditRequest())] {
            #expect(Authorizer.decide(p, peer: admin) == .allowed(asAdmin: true), "\(p.operation)")
        }
    }

    @Test func adminSocketRefusesOthers() {
        let user = peer(1000, .admin, name: "ann")
        for p in [Request.Payload.health, .adminList, .status(StatusRequest(user: "ann"))] {
            guard case .forbidden = Authorizer.decide(p, peer: user) else {
                Issue.record("allowed \(p.operation) on the admin socket for a non-admin")
                continue
            }
        }
    }

    @Test func publicSocketNeverServesAdminOps() {
        for p in [Request.Payload.adminList, .adminReset(AdminResetRequest(user: "x")), .adminUnlock(AdminUnlockRequest(user: "x")), .adminAudit(AdminAuditRequest())] {
            guard case .forbidden = Authorizer.decide(p, peer: root) else {
                Issue.record("root got \(p.operation) on the public socket")
                continue
            }
        }
    }

    @Test func usersActOnlyOnThemselves() {
        let ann = peer(1000, .public, name: "ann")
        for p in payloads(user: "ann") {
            #expect(Authorizer.decide(p, peer: ann) == .allowed(asAdmin: false), "\(p.operation)")
        }
        for p in payloads(user: "bob") {
            guard case .forbidden = Authorizer.decide(p, peer: ann) else {
                Issue.record("ann may \(p.operation) for bob")
                continue
            }
        }
        #expect(Authorizer.decide(.health, peer: ann) == .allowed(asAdmin: false))
        // A uid without a name can only ask for health.
        let nameless = peer(4242, .public, name: nil)
        guard case .forbidden = Authorizer.decide(.status(StatusRequest(user: "4242")), peer: nameless) else {
            Issue.record("a nameless uid got status")
            return
        }
    }

    @Test func privilegedCallersVerifyAndQueryAnyoneButChangeNobody() {
        let locker = peer(999, .public, name: "locker", privileged: true)
        #expect(Authorizer.decide(.verify(VerifyRequest(user: "bob", code: "1")), peer: locker) == .allowed(asAdmin: false))
        #expect(Authorizer.decide(.status(StatusRequest(user: "bob")), peer: locker) == .allowed(asAdmin: false))
        #expect(Authorizer.decide(.verify(VerifyRequest(user: "bob", code: "1")), peer: root) == .allowed(asAdmin: false))
        for p in payloads(user: "bob").dropFirst(2) {
            for caller in [locker, root] {
                guard case .forbidden = Authorizer.decide(p, peer: caller) else {
                    Issue.record("\(caller.userName ?? "-") may \(p.operation) for bob on the public socket")
                    continue
                }
            }
        }
    }
}
