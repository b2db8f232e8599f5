import OTPGateProtocol
@testable import OTPGateServer
import OTPGateStore
import Testing

/// Refused requests are audited once per window per uid, with the rest counted and
/// written as one `forbidden.repeated` event (the window is 60 s of the monotonic
/// clock; the test takes milliseconds of it). With a window of 0 every one is audited.
@Suite("RequestHandler: refusals")
struct RequestHandlerRefusalTests {
    static let mallory = Peer(uid: 4242, gid: 4242, pid: 9, socket: .public, userName: "mallory", isAdmin: false, isPrivileged: false)

    @Test func refusalsAreAuditedOncePerWindowWithTheRestCounted() throws {
        let f = try HandlerFixture { $0.refusalAuditWindow = 60 }
        for _ in 0..<3 {
            let reply = f.call(.status(StatusRequest(user: "alice")), as: Self.mallory)
            #expect(reply.error == .forbidden)
        }
        #expect(f.log.lines(containing: "request refused").count == 1)
        var events = try f.store.auditEvents(limit: 100)
        #expect(events.map(\.event) == ["forbidden"])
        #expect(events.first?.user == "alice")
        #expect(events.first?.peerUID == 4242)
        #expect(events.first?.detail == "status on the public socket")

        f.handler.flushRefusals(all: true)
        events = try f.store.auditEvents(limit: 100)
        #expect(events.map(\.event) == ["forbidden", "forbidden.repeated"])
        #expect(events.last?.detail?.hasPrefix("2 more refused requests from uid 4242 between ") == true, "\(events.last?.detail ?? "")")
    }

    @Test func aWindowOfZeroAuditsEveryRefusal() throws {
        let f = try HandlerFixture { $0.refusalAuditWindow = 0 }
        for _ in 0..<3 { #expect(f.call(.adminList, as: Self.mallory).error == .forbidden) }
        #expect(try f.store.auditEvents(limit: 100).map(\.event) == ["forbidden", "forbidden", "forbidden"])
    }
}
