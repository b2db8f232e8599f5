import Foundation
import Glibc
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import OTPCore
import OTPGateConfig
import OTPGateProtocol
@testable import OTPGateRelay
import OTPGateServer
import Synchronization
import OTPGateTestSupport
import Testing

/// The relay against real TLS servers in this process: what it sends, which endpoint
/// it asks, the one deadline, and the rule that a request once written is never asked
/// again elsewhere.
@Suite("Relay", .serialized, .ownThreadsUnqueued)
struct RelayTests {
    static let ok = #"{"ok":true,"v":1}"#
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let alice = Peer(uid: 1000, gid: 1000, pid: 1, socket: .public, userName: "alice", isAdmin: false, isPrivileged: false)
    let root = Peer(uid: 0, gid: 0, pid: 1, socket: .admin, userName: "root", isAdmin: true, isPrivileged: true)

    func relay(
        _ endpoints: [Int], deadline: Int = 1500, kept: Int = 4, certificate: String = "relay", local: RequestHandler? = nil
    ) throws -> Relay {
        var settings = RelaySettings()
        settings.endpoints = endpoints.map { RelayEndpoint(host: "127.0.0.1", port: $0) }
        settings.caFile = TestCA.shared.ca
        settings.certificateFile = TestCA.shared.certificate(certificate)
        settings.keyFile = TestCA.shared.key(certificate)
        settings.deadlineMilliseconds = deadline
        settings.connectionsPerEndpoint = kept
        return Relay(
            settings: settings, tls: try RelayTLS.clientContext(settings), group: group, local: local, localUsers: [],
            logger: Logger(label: "relay-test"))
    }

    func verify(_ code: String = "123456", id: String? = "r1") -> Request {
        Request(id: id, payload: .verify(VerifyRequest(user: "alice", code: code, service: "sshd")))
    }

    func text(_ answer: Answer) -> String {
        answer.line().withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// "ok", the error code, or "unparsable".
    func code(_ answer: Answer) -> String {
        answer.line().withUnsafeBytes { bytes in
            guard let reply = try? Reply.parse(line: bytes.dropLast()) else { return "unparsable" }
            if reply.isSuccess { return "ok" }
            guard case .failure(let failure) = reply.outcome else { return "unparsable" }
            return failure.rawCode
        }
    }

    /// A TCP socket bound to a free port on 127.0.0.1, and that port.
    static func boundLoopbackSocket() -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// A port nothing listens on: connecting is refused at once.
    static func refusedPort() -> Int {
        let (fd, port) = boundLoopbackSocket()
        close(fd)
        return port
    }

    /// A port that accepts TCP connections (the kernel's backlog) and never says a
    /// word: a node whose daemon hangs, or a black hole.
    static func silentPort() -> (fd: Int32, port: Int) {
        let bound = boundLoopbackSocket()
        listen(bound.fd, 16)
        return bound
    }

    /// A port whose listener resets every connection as soon as it is accepted (a node
    /// going down, a firewall sending RST): the relay sees the TCP connect succeed and
    /// the channel close before the TLS handshake starts. Stopped by closing `fd`.
    static func resettingPort() -> (fd: Int32, port: Int) {
        let bound = silentPort()
        Thread {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            while true {
                let client = accept(bound.fd, nil, nil)
                guard client >= 0 else { return }
                setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                close(client)
            }
        }.start()
        return bound
    }

    @Test func aNodeThatResetsEveryConnectionIsUnavailableNeverACrash() throws {
        // Before, the relay looked the reply handler up with `try!` after connect: a
        // channel already closed by the reset had none, and the relay process died.
        let (fd, port) = Self.resettingPort()
        defer { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
        let relay = try relay([port], kept: 0)
        defer { relay.close() }
        var codes: [String: Int] = [:]
        for n in 0..<1000 { codes[code(relay.handle(verify(id: "r\(n)"), peer: alice)), default: 0] += 1 }
        #expect(codes == ["unavailable": 1000])
    }

    @Test func aRequestGoesInAnEnvelopeAndTheReplyComesBackByteForByte() throws {
        let tier = try TestTier(.answer(#"{"id":"r1","ok":true,"secret":"JBSWY3DPEHPK3PXP","v":1}"#))
        defer { tier.stop() }
        let relay = try relay([tier.port])
        defer { relay.close() }
        let answer = relay.handle(verify(), peer: alice)
        #expect(text(answer) == #"{"id":"r1","ok":true,"secret":"JBSWY3DPEHPK3PXP","v":1}"# + "\n")
        #expect(answer.reply == nil)  // never parsed into Strings on the relay
        let sent = try RelayEnvelope.parse(line: Array(tier.lines[0].utf8))
        #expect(sent.caller == RelayCaller(uid: 1000, user: "alice", privileged: false))
        #expect(sent.request == verify())
    }

    @Test func connectionsAreKeptAndReused() throws {
        let tier = try TestTier(.answer(Self.ok))
        defer { tier.stop() }
        let relay = try relay([tier.port], kept: 1)
        defer { relay.close() }
        for n in 0..<5 { #expect(code(relay.handle(verify(id: "r\(n)"), peer: alice)) == "ok") }
        #expect(tier.lines.count == 5)
        #expect(tier.connections == 1)
    }

    @Test func aRefusedEndpointPassesTheRequestToTheNext() throws {
        let second = try TestTier(.answer(Self.ok))
        defer { second.stop() }
        let relay = try relay([Self.refusedPort(), second.port])
        defer { relay.close() }
        #expect(code(relay.handle(verify(), peer: alice)) == "ok")
        #expect(second.lines.count == 1)
    }

    @Test func aFailedHandshakePassesTheRequestToTheNext() throws {
        // The first node's certificate comes from a CA the relay does not trust.
        let stranger = try TestTier(.answer(Self.ok), certificate: "stranger")
        let second = try TestTier(.answer(Self.ok))
        defer { stranger.stop(); second.stop() }
        let relay = try relay([stranger.port, second.port])
        defer { relay.close() }
        #expect(code(relay.handle(verify(), peer: alice)) == "ok")
        #expect(stranger.lines.isEmpty && second.lines.count == 1)
    }

    @Test func aSilentFirstNodeLeavesTimeForTheSecondWithinTheDeadline() throws {
        let (fd, port) = Self.silentPort()
        defer { close(fd) }
        let second = try TestTier(.answer(Self.ok))
        defer { second.stop() }
        let relay = try relay([port, second.port], deadline: 1200)
        defer { relay.close() }
        let start = ContinuousClock.now
        #expect(code(relay.handle(verify(), peer: alice)) == "ok")
        #expect(ContinuousClock.now - start < .milliseconds(1200))
        #expect(second.lines.count == 1)
    }

    @Test func aWrittenRequestWithNoReplyIsUnavailableAndNeverAskedElsewhere() throws {
        let first = try TestTier(.silent)
        let second = try TestTier(.answer(Self.ok))
        defer { first.stop(); second.stop() }
        let relay = try relay([first.port, second.port], deadline: 800)
        defer { relay.close() }
        let start = ContinuousClock.now
        let answer = relay.handle(verify(), peer: alice)
        let took = ContinuousClock.now - start
        #expect(code(answer) == "unavailable")
        #expect(text(answer).contains("the tier did not answer; try the next code"))
        #expect(took >= .milliseconds(750) && took < .milliseconds(1300), "\(took)")
        // The first node has the request (it may have spent the code); the second,
        // which would have said ok, was never asked.
        #expect(first.lines.count == 1)
        #expect(second.lines.isEmpty)
    }

    @Test func aHungNodeIsUnavailableWithinTheDeadlineNotWhenItsTLSCloseCompletes() throws {
        // The node stops (its loop blocked 3 s) after reading: it neither answers nor
        // acknowledges the TLS close. Waiting for the close would take until it wakes.
        let tier = try TestTier(.hang(milliseconds: 3000))
        defer { tier.stop() }
        let relay = try relay([tier.port], deadline: 600)
        defer { relay.close() }
        let start = ContinuousClock.now
        #expect(code(relay.handle(verify(), peer: alice)) == "unavailable")
        let took = ContinuousClock.now - start
        #expect(took >= .milliseconds(550) && took < .milliseconds(1100), "\(took)")
    }

    @Test func aNodeThatClosesAfterReadingIsAnUnknownOutcomeToo() throws {
        let first = try TestTier(.closeAfterReading)
        let second = try TestTier(.answer(Self.ok))
        defer { first.stop(); second.stop() }
        let relay = try relay([first.port, second.port])
        defer { relay.close() }
        #expect(code(relay.handle(verify(), peer: alice)) == "unavailable")
        #expect(first.lines.count == 1 && second.lines.isEmpty)
    }

    @Test func aKeptConnectionFoundClosedIsReplacedWithoutLosingTheRequest() throws {
        let tier = try TestTier(.answer(Self.ok))
        defer { tier.stop() }
        let relay = try relay([tier.port], kept: 1)
        defer { relay.close() }
        #expect(code(relay.handle(verify(id: "a"), peer: alice)) == "ok")
        // The node closes the kept connection between requests (a restart, an idle
        // timeout); once the relay has seen the close, the next request finds the
        // connection closed before writing and opens a new one: nothing lost.
        tier.dropConnections()
        let seen = ContinuousClock.now + .seconds(5)
        while relay.endpoints[0].keptActive != [false], ContinuousClock.now < seen { usleep(1000) }
        #expect(relay.endpoints[0].keptActive == [false])
        #expect(code(relay.handle(verify(id: "b"), peer: alice)) == "ok")
        #expect(tier.connections == 2 && tier.lines.count == 2)
    }

    @Test func aNodeThatClosesAfterReadingOnAKeptConnectionIsUnknown() throws {
        let tier = try TestTier(.answer(Self.ok))
        defer { tier.stop() }
        let relay = try relay([tier.port], kept: 1)
        defer { relay.close() }
        #expect(code(relay.handle(verify(id: "a"), peer: alice)) == "ok")
        tier.behaviour.withLock { $0 = .closeAfterReading }
        #expect(code(relay.handle(verify(id: "b"), peer: alice)) == "unavailable")  // written, then closed
        tier.behaviour.withLock { $0 = .answer(Self.ok) }
        #expect(code(relay.handle(verify(id: "c"), peer: alice)) == "ok")
        #expect(tier.connections == 2)
    }

    @Test func noNodeReachableIsUnavailableAtOnce() throws {
        let relay = try relay([Self.refusedPort(), Self.refusedPort()])
        defer { relay.close() }
        let start = ContinuousClock.now
        let answer = relay.handle(verify(), peer: alice)
        #expect(code(answer) == "unavailable")
        #expect(text(answer).contains("no tier node could be reached"))
        #expect(ContinuousClock.now - start < .milliseconds(500))
    }

    @Test func theTierRefusesARelayItDoesNotTrust() throws {
        let tier = try TestTier(.answer(Self.ok))
        defer { tier.stop() }
        // A relay whose own certificate comes from another CA: TLS 1.3 finishes the
        // client's side of the handshake before the server checks the client, so the
        // refusal arrives after the request was written: unavailable, and the node
        // never read a line.
        let relay = try relay([tier.port], certificate: "stranger")
        defer { relay.close() }
        #expect(code(relay.handle(verify(), peer: alice)) == "unavailable")
        #expect(tier.lines.isEmpty)
    }

    @Test func adminOperationsAreRefusedOnARelay() throws {
        let tier = try TestTier(.answer(Self.ok))
        defer { tier.stop() }
        let relay = try relay([tier.port])
        defer { relay.close() }
        let answer = relay.handle(Request(payload: .adminList), peer: root)
        #expect(code(answer) == "forbidden")
        #expect(text(answer).contains("admin operations run on a tier node"))
        #expect(tier.lines.isEmpty)
    }

    @Test func healthIsTheRelaysOwnAndSaysWhetherTheTierAnswers() throws {
        let tier = try TestTier(.answer(#"{"clock_synced":true,"ok":true,"store":"ok","time":1700000000,"uptime":5,"v":1,"version":"x"}"#))
        defer { tier.stop() }
        let up = try relay([tier.port])
        defer { up.close() }
        let health = try Reply.parse(line: Array(text(up.handle(Request(payload: .health), peer: alice)).utf8.dropLast()))
            .result(HealthResult.self)
        #expect(health.mode == "relay" && health.store == "ok" && health.tier == "127.0.0.1:\(tier.port)")
        #expect(health.tierTime == 1_700_000_000 && health.version == RequestHandler.version)
        let down = try relay([Self.refusedPort()])
        defer { down.close() }
        let unreachable = try Reply.parse(line: Array(text(down.handle(Request(payload: .health), peer: alice)).utf8.dropLast()))
            .result(HealthResult.self)
        #expect(unreachable.mode == "relay" && unreachable.store == "unavailable" && unreachable.tier == nil)
        #expect(unreachable.storeDetail?.contains("no tier node answered") == true)
    }
}
