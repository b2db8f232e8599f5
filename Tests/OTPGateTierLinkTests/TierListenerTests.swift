import Foundation
import OTPCore
import OTPGateConfig
import OTPGateProtocol
import OTPGateStore
import OTPGateStoreContract
import OTPGateTestSupport
import OTPGateTierLink
import Testing

@Suite("The tier's TLS listener for relays", .ownThreads)
struct TierListenerTests {
    static let status = #"{"v":1,"op":"status","user":"alice"}"#

    @Test func aTrustedRelayEnrolsAndVerifies() async throws {
        let tier = try await TierFixture.start()
        let relay = try await tier.relay(try tier.pki.client("relay-a.test"))
        // alice on relay-a enrols herself (a user without a token may, as on one host).
        let begin = try await relay.call(
            envelope(#"{"v":1,"id":"b","op":"enroll.begin","user":"alice","kind":"hotp"}"#, uid: 1000, user: "alice", privileged: false))
        let enrollment = try #require(begin.string("enrollment"), "\(begin)")
        let secret = try Base32.decode(try #require(begin.string("secret")))
        let first = HOTP.codeString(secret: secret, counter: 0, algorithm: .sha1, digits: 6)
        let confirm = try await relay.call(
            envelope(#"{"v":1,"op":"enroll.confirm","user":"alice","enrollment":"\#(enrollment)","code":"\#(first)"}"#, uid: 1000, user: "alice", privileged: false))
        #expect(confirm.string("token") != nil, "\(confirm)")
        // sshd on relay-a verifies; the envelope tries to name another host.
        let code = HOTP.codeString(secret: secret, counter: 1, algorithm: .sha1, digits: 6)
        let verify = try await relay.call(
            envelope(#"{"v":1,"id":"v","op":"verify","user":"alice","code":"\#(code)","service":"sshd"}"#, extra: #""host":"tier.test","#))
        #expect(verify.error == nil, "\(verify)")
        #expect(verify.string("factor") != nil, "\(verify)")
        // Replayed through the link: refused (the same store).
        let replay = try await relay.call(envelope(#"{"v":1,"op":"verify","user":"alice","code":"\#(code)","service":"sshd"}"#))
        #expect(replay.error != nil, "\(replay)")
        let events = try tier.store.auditEvents(user: "alice", since: nil, limit: 100)
        #expect(!events.isEmpty)
        // The verify rows name the relay by its certificate (the limiter key, in rhost),
        // not by the 'host' member the envelope carried.
        let verifies = events.filter { $0.event.hasPrefix("verify.") }
        #expect(verifies.count >= 2, "\(events)")
        for event in verifies { #expect(event.rhost == "relay:relay-a.test/", "\(event)") }
        // Every row of the relayed requests (the enrolment's too) names the relay in
        // its own column, from the certificate, not the 'host' member.
        #expect(events.map(\.relay) == Array(repeating: "relay-a.test", count: events.count), "\(events)")
        // Control: a row a local caller of the tier writes names no relay.
        _ = try tier.store.appendAudit(AuditEvent(time: 0, event: "test.local", user: "alice", peerUID: 0))
        #expect(try tier.store.auditEvents(user: "alice", since: nil, limit: 100).last?.relay == nil)
        // A request with a 'host' member of its own: v1 ignores members it does not
        // know; it is served, and the host stays the certificate's.
        let forged = try await relay.call(envelope(#"{"v":1,"op":"status","user":"alice","host":"tier.test"}"#))
        #expect(forged.error == nil, "\(forged)")
        await relay.close()
        await tier.stop()
    }

    @Test func adminOperationsAreForbiddenAndAnUnprivilegedCallerAsksOnlyAboutItself() async throws {
        let tier = try await TierFixture.start()
        let relay = try await tier.relay(try tier.pki.client("relay-a.test"))
        for op in [#"{"v":1,"op":"admin.list"}"#, #"{"v":1,"op":"admin.unlock","user":"alice"}"#, #"{"v":1,"op":"admin.audit"}"#] {
            let reply = try await relay.call(envelope(op))
            #expect(reply.error == "forbidden", "\(op): \(reply)")
        }
        let other = try await relay.call(envelope(#"{"v":1,"op":"status","user":"bob"}"#, uid: 1000, user: "alice", privileged: false))
        #expect(other.error == "forbidden", "\(other)")
        // Controls: the same caller about itself, and a privileged caller about bob.
        let own = try await relay.call(envelope(Self.status, uid: 1000, user: "alice", privileged: false))
        #expect(own.error == nil, "\(own)")
        let privileged = try await relay.call(envelope(#"{"v":1,"op":"status","user":"bob"}"#))
        #expect(privileged.error == nil, "\(privileged)")
        await relay.close()
        await tier.stop()
    }

    @Test func certificatesFromAnotherCAOrExpiredAreRefused() async throws {
        let tier = try await TierFixture.start()
        for pair in [try tier.pki.foreignClient("relay-x.test"), try tier.pki.expiredClient("relay-y.test")] {
            let relay = try await tier.relay(pair)
            try? await relay.send(envelope(Self.status))
            #expect(await relay.ended(), "\(pair.certificate)")
        }
        // Control: a certificate of the CA is served.
        let trusted = try await tier.relay(try tier.pki.client("relay-a.test"))
        #expect(try await trusted.call(envelope(Self.status)).error == nil)
        await trusted.close()
        await tier.stop()
    }

    @Test func aDeniedRelayIsRefusedAndAReloadClosesItsConnections() async throws {
        let tier = try await TierFixture.start { settings, _ in settings.deny = ["relay-c.test"] }
        let denied = try await tier.relay(try tier.pki.client("relay-c.test"))
        switch await denied.next() {
        case .line(let text): #expect(text.contains("\"forbidden\"") && text.contains("denied"), "\(text)")
        case let other: Issue.record("no refusal line: \(other)")
        }
        #expect(await denied.ended())
        let a = try await tier.relay(try tier.pki.client("relay-a.test"))
        let bPair = try tier.pki.client("relay-b.test")
        let b = try await tier.relay(bPair)
        #expect(try await a.call(envelope(Self.status)).error == nil)
        #expect(try await b.call(envelope(Self.status)).error == nil)
        // relay-b's certificate is revoked by fingerprint, at reload.
        let closed = tier.listener.reload(deny: DenyList(["relay-c.test", try tier.pki.fingerprint(bPair.certificate)]))
        #expect(closed == 1)
        #expect(await b.ended())
        let again = try await tier.relay(bPair)
        switch await again.next() {
        case .line(let text): #expect(text.contains("denied"), "\(text)")
        case let other: Issue.record("no refusal line: \(other)")
        }
        // Control: relay-a's connection, open all along, still works.
        #expect(try await a.call(envelope(Self.status)).error == nil)
        await a.close()
        await tier.stop()
    }

    @Test func badInputAndSlowClientsAreRefusedWhileAnotherRelayIsServed() async throws {
        let tier = try await TierFixture.start { settings, _ in
            // Long enough for a TLS handshake while the whole suite runs in parallel on
            // two cores (300 ms was not, in a fresh-clone run); the control relay below
            // still sits idle past both.
            settings.handshakeTimeoutMilliseconds = 3000
            settings.lineTimeoutMilliseconds = 500
        }
        let control = try await tier.relay(try tier.pki.client("relay-a.test"))
        let bad = try tier.pki.client("relay-b.test")
        #expect(try await control.call(envelope(Self.status)).error == nil)

        // Plain text on the TLS port: the TLS layer refuses it.
        let plain = try await tier.plainClient()
        try await plain.send(envelope(Self.status))
        #expect(await plain.ended())
        #expect(try await control.call(envelope(Self.status)).error == nil)

        // Garbage inside TLS: bad_request, then the connection is closed.
        let garbage = try await tier.relay(bad)
        let reply = try await garbage.call("this is not json\n")
        #expect(reply.error == "bad_request", "\(reply)")
        #expect(await garbage.ended())
        #expect(try await control.call(envelope(Self.status)).error == nil)

        // A line over the limit, with no newline in sight.
        let huge = try await tier.relay(bad)
        try await huge.send(String(repeating: "a", count: RelayEnvelope.maxLineBytes + 100))
        switch await huge.next() {
        case .line(let text): #expect(text.contains("exceeds"), "\(text)")
        case let other: Issue.record("no refusal line: \(other)")
        }
        #expect(await huge.ended())
        #expect(try await control.call(envelope(Self.status)).error == nil)

        // A slow client: half a line, then nothing; closed at the line deadline.
        let slow = try await tier.relay(bad)
        let started = ContinuousClock.now
        try await slow.send(#"{"relay":1,"caller":"#)
        #expect(await slow.ended())
        #expect(ContinuousClock.now - started < .seconds(10))
        // A TCP client that never starts TLS: closed at the handshake deadline.
        let silent = try await tier.plainClient()
        #expect(await silent.ended())
        // Control: relay-a, idle longer than both deadlines, is still served.
        #expect(try await control.call(envelope(Self.status)).error == nil)
        await control.close()
        await tier.stop()
    }

    @Test func perRelayConnectionAndRateLimitsAreReported() async throws {
        let tier = try await TierFixture.start { settings, _ in
            settings.maxConnectionsPerRelay = 2
            settings.maxRequestsPerSecond = 5
        }
        let aPair = try tier.pki.client("relay-a.test")
        let first = try await tier.relay(aPair)
        let second = try await tier.relay(aPair)
        #expect(try await first.call(envelope(Self.status)).error == nil)
        #expect(try await second.call(envelope(Self.status)).error == nil)
        let third = try await tier.relay(aPair)
        switch await third.next() {
        case .line(let text): #expect(text.contains("\"unavailable\"") && text.contains("connections open"), "\(text)")
        case let other: Issue.record("no refusal line: \(other)")
        }
        #expect(await third.ended())
        // Another relay is not held to relay-a's count.
        let b = try await tier.relay(try tier.pki.client("relay-b.test"))
        #expect(try await b.call(envelope(Self.status)).error == nil)

        // Requests as fast as the link goes: relay-a's bucket holds 5 and refills 5 a
        // second. At least 30, and more while none was limited (a loaded machine can
        // answer slower than the refill), up to 300.
        let started = ContinuousClock.now
        var served = 0
        var limited = 0
        var sent = 0
        while sent < 30 || (limited == 0 && sent < 300) {
            sent += 1
            let reply = try await first.call(envelope(Self.status))
            if reply.error == "rate_limited" {
                limited += 1
                #expect(reply.retryAfter == 1)
                #expect(reply.failure?.message.contains("relay-a.test") == true)
            } else {
                #expect(reply.error == nil, "\(reply)")
                served += 1
            }
        }
        let elapsed = ContinuousClock.now - started
        let allowed = 5 + Int((Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18) * 5) + 1
        #expect(limited > 0)
        #expect(served <= allowed, "served \(served) in \(elapsed)")
        // relay-b, with a bucket of its own, is served meanwhile (it used 1 of 5).
        #expect(try await b.call(envelope(Self.status)).error == nil)
        for c in [first, second, b] { await c.close() }
        await tier.stop()
    }

    @Test func aRelaySpendsOnlyItsOwnPerHostPartOfTheLimiter() async throws {
        let tier = try await TierFixture.start()
        let a = try await tier.relay(try tier.pki.client("relay-a.test"))
        let b = try await tier.relay(try tier.pki.client("relay-b.test"))
        let begin = try await a.call(envelope(#"{"v":1,"op":"enroll.begin","user":"carol","kind":"hotp"}"#, uid: 1001, user: "carol", privileged: false))
        let enrollment = try #require(begin.string("enrollment"), "\(begin)")
        let secret = try Base32.decode(try #require(begin.string("secret")))
        let first = HOTP.codeString(secret: secret, counter: 0, algorithm: .sha1, digits: 6)
        let confirm = try await a.call(
            envelope(#"{"v":1,"op":"enroll.confirm","user":"carol","enrollment":"\#(enrollment)","code":"\#(first)"}"#, uid: 1001, user: "carol", privileged: false))
        #expect(confirm.string("token") != nil, "\(confirm)")
        let valid = Set((0...40).map { HOTP.codeString(secret: secret, counter: UInt64($0), algorithm: .sha1, digits: 6) })
        let wrong = try #require((100_000...999_999).lazy.map(String.init).first { !valid.contains($0) })
        let guess = envelope(#"{"v":1,"op":"verify","user":"carol","code":"\#(wrong)","service":"sshd","rhost":"198.51.100.7"}"#)
        // relay-a spends the per-host part of 198.51.100.7 (3 free failures) …
        var limitedOnA = false
        for _ in 0..<6 {
            let reply = try await a.call(guess)
            #expect(reply.error != nil, "\(reply)")
            if reply.error == "rate_limited" { limitedOnA = true; break }
        }
        #expect(limitedOnA)
        // … which is not relay-b's part for the same claimed rhost: its guess is evaluated.
        let onB = try await b.call(guess)
        #expect(onB.error != nil && onB.error != "rate_limited", "\(onB)")
        await a.close()
        await b.close()
        await tier.stop()
    }
}
