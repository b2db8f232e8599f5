import Foundation
import Glibc
import OTPGateProtocol
import OTPGateTestSupport
import Testing

/// Hostile and broken clients: each gets a clear answer (or is dropped), changes
/// nothing, and never stops the daemon from serving everyone else.
@Suite("otpgated bad input", .ownThreads)
struct BadInputTests {
    static let shortIdle = """
        [server]
        idle_timeout = 1
        """

    /// Framing errors: `bad_request` without an id, then the connection is closed.
    @Test func framingErrorsAreAnsweredThenTheConnectionCloses() throws {
        let daemon = try DaemonProcess(config: Self.shortIdle)
        let health = Array(#"{"v":1,"op":"health","id":"x"}"#.utf8)
        let cases: [(String, [UInt8])] = [
            ("a line over 8192 bytes, answered before its newline", Array(repeating: UInt8(ascii: "x"), count: 8193)),
            ("a request padded to 8193 bytes", health + Array(repeating: 0x20, count: 8193 - health.count) + [0x0A]),
            ("invalid UTF-8", Array(#"{"v":1,"op":"health","id":""#.utf8) + [0xFF, 0xFE] + Array("\"}\n".utf8)),
            ("an overlong UTF-8 encoding", Array(#"{"v":1,"op":"health","id":""#.utf8) + [0xC0, 0xAF] + Array("\"}\n".utf8)),
            ("not JSON", Array("{\"v\":1,\n".utf8)),
            ("a JSON array", Array("[1,2,3]\n".utf8)),
            ("a JSON string", Array("\"health\"\n".utf8)),
            ("a JSON number", Array("42\n".utf8)),
            ("JSON null", Array("null\n".utf8)),
            ("an empty line", [0x0A]),
            ("a NUL byte", Array("{\"v\":1,\0\"op\":\"health\"}\n".utf8)),
        ]
        for (what, bytes) in cases {
            let client = try daemon.connect()
            try client.send(bytes)
            let reply = try client.readReply()
            #expect(reply.error == "bad_request", "\(what): \(reply.text)")
            #expect(reply.id == nil, "\(what): no id can be trusted")
            #expect(!(reply.failure?.message.isEmpty ?? true))
            #expect(client.closesWithoutReply(within: .seconds(3)), "\(what): the connection must close")
            daemon.expectServing()
        }
        // Exactly at the limit is fine.
        let exact = health + Array(repeating: 0x20, count: 8192 - health.count)
        let client = try daemon.connect()
        try client.send(exact + [0x0A])
        daemon.expectOK(try client.readReply())
    }

    /// Errors inside a well-formed object: a precise code, the id echoed, and the
    /// same connection goes on serving.
    @Test func requestErrorsKeepTheConnectionOpen() throws {
        let daemon = try DaemonProcess(config: Self.shortIdle)
        let longID = String(repeating: "i", count: 129)
        let cases: [(String, String, WireErrorCode)] = [
            ("unknown op", #"{"v":1,"id":"r","op":"frobnicate"}"#, .unknownOp),
            ("v 2", #"{"v":2,"id":"r","op":"health"}"#, .unsupportedVersion),
            ("v as a string", #"{"v":"1","id":"r","op":"health"}"#, .unsupportedVersion),
            ("v missing", #"{"id":"r","op":"health"}"#, .unsupportedVersion),
            ("v 1.5", #"{"v":1.5,"id":"r","op":"health"}"#, .unsupportedVersion),
            ("op missing", #"{"v":1,"id":"r"}"#, .badRequest),
            ("op not a string", #"{"v":1,"id":"r","op":7}"#, .badRequest),
            ("missing field", #"{"v":1,"id":"r","op":"verify","user":"alice"}"#, .badRequest),
            ("null required field", #"{"v":1,"id":"r","op":"verify","user":"alice","code":null}"#, .badRequest),
            ("user as a number", #"{"v":1,"id":"r","op":"verify","user":1000,"code":"123456"}"#, .badRequest),
            ("digits as a string", #"{"v":1,"id":"r","op":"enroll.begin","user":"root","digits":"6"}"#, .badRequest),
            ("digits 9", #"{"v":1,"id":"r","op":"enroll.begin","user":"root","digits":9}"#, .badRequest),
            ("digits 6.5", #"{"v":1,"id":"r","op":"enroll.begin","user":"root","digits":6.5}"#, .badRequest),
            ("period 0", #"{"v":1,"id":"r","op":"enroll.begin","user":"root","period":0}"#, .badRequest),
            ("unknown kind", #"{"v":1,"id":"r","op":"enroll.begin","user":"root","kind":"sms"}"#, .badRequest),
            ("code over 64 bytes", #"{"v":1,"id":"r","op":"verify","user":"root","code":"\#(String(repeating: "1", count: 65))"}"#, .badRequest),
            ("control character in user", #"{"v":1,"id":"r","op":"status","user":"ro\u0001ot"}"#, .badRequest),
            ("empty user", #"{"v":1,"id":"r","op":"status","user":""}"#, .badRequest),
            ("boolean as a number", #"{"v":1,"id":"r","op":"enroll.begin","user":"root","digits":true}"#, .badRequest),
        ]
        let client = try daemon.connect()
        for (what, line, code) in cases {
            let reply = try client.call(line: line)
            #expect(reply.error == code.rawValue, "\(what): \(reply.text)")
            #expect(reply.id == "r", "\(what): the id is echoed")
            // The same connection still works, and so does another one.
            #expect(try client.call("health", id: "next").isSuccess, "\(what)")
            daemon.expectServing()
        }
        // An invalid id cannot be echoed.
        let badID = try client.call(line: #"{"v":1,"id":"\#(longID)","op":"health"}"#)
        #expect(badID.error == "bad_request" && badID.id == nil, "\(badID.text)")
        let numericID = try client.call(line: #"{"v":1,"id":7,"op":"health"}"#)
        #expect(numericID.error == "bad_request" && numericID.id == nil, "\(numericID.text)")
        // Unknown members are ignored; \r\n line ends are accepted.
        daemon.expectOK(try client.call(line: #"{"v":1,"op":"health","future":{"x":[1]}}"# + "\r"))

        // None of it changed anything.
        let admin = try daemon.connectAdmin()
        #expect(daemon.expectOK(try admin.call("admin.list")).array("users")?.isEmpty == true)
        #expect(daemon.expectOK(try admin.call("admin.audit")).array("events")?.isEmpty == true)
    }

    @Test func stalledHalfLineIsClosedAfterTheIdleTimeout() throws {
        let daemon = try DaemonProcess(config: Self.shortIdle)
        let stalled = try daemon.connect()
        try stalled.send(Array(#"{"v":1,"op":"hea"#.utf8))
        let sent = ContinuousClock.now
        // Meanwhile another client is served, while the stalled one is still open.
        let other = try daemon.connect()
        daemon.expectOK(try other.call("health"))
        #expect(stalled.readLine(timeout: .zero) == .timedOut || ContinuousClock.now - sent > .milliseconds(900))
        #expect(stalled.closesWithoutReply(within: .seconds(4)), "closed without a reply")
        let waited = ContinuousClock.now - sent
        #expect(waited >= .milliseconds(800) && waited < .seconds(3), "closed after about idle_timeout = 1 s, not \(waited)")
        daemon.expectServing()
    }

    /// PROTOCOL.md: "A connection with no complete request for a while is closed".
    /// A client that sends one byte now and then, never finishing a line, must not
    /// hold its connection (and a slot of max_connections) for ever.
    @Test func dribblingClientIsClosedAfterTheIdleTimeout() throws {
        let daemon = try DaemonProcess(config: Self.shortIdle)
        let slow = try daemon.connect()
        var closed = false
        for byte in Array(#"{"v":1,"op":"h"#.utf8) where !closed {
            if (try? slow.send([byte])) == nil { closed = true; break }
            if slow.readLine(timeout: .milliseconds(300)) == .closed { closed = true }
        }
        #expect(closed, "after 4 s of one byte every 0.3 s, with idle_timeout = 1 s, the connection is still open")
    }

    @Test func clientsThatDisconnectMidRequestDoNotDisturbOthers() throws {
        let daemon = try DaemonProcess(config: Self.shortIdle)
        let admin = try daemon.connectAdmin()
        let token = try admin.enroll(user: "alice")

        // Half a line, then gone.
        let half = try daemon.connect()
        try half.send(Array(#"{"v":1,"op":"verify","user":"al"#.utf8))
        half.close()
        daemon.expectServing()

        // A whole request, then gone before the reply: the daemon's write fails.
        let gone = try daemon.connect()
        try gone.send("verify", ["user": "alice", "code": token.code(1)])
        gone.close()
        daemon.expectServing()
        // The request may or may not have been served; either way the state is
        // consistent: counter 1 is either used (replayed) or still good.
        // A fresh connection: with idle_timeout = 1 the first one may have timed out.
        let again = try daemon.connectAdmin()
        let reply = try again.call("verify", ["user": "alice", "code": token.code(1)])
        #expect(reply.isSuccess || reply.error == "replayed_code", daemon.diagnostics(reply))
        daemon.expectOK(try again.call("verify", ["user": "alice", "code": token.code(2)]))

        // Half-closed after the last request (what socat does): every reply still comes.
        let polite = try daemon.connect()
        try polite.send("health", id: "1")
        try polite.send("status", ["user": "root"], id: "2")
        polite.shutdownWrite()
        #expect(try polite.readReply().id == "1")
        #expect(try polite.readReply().id == "2")
        #expect(polite.closesWithoutReply(within: .seconds(3)))
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let daemon = try DaemonProcess(config: Self.shortIdle)
        let client = try daemon.connect()
        let batch = (1...20).flatMap { n -> [UInt8] in
            n % 2 == 0
                ? SocketClient.requestLine("status", ["user": "root"], id: "\(n)")
                : SocketClient.requestLine("verify", ["user": "nosuchuser", "code": "123456"], id: "\(n)")
        }
        try client.send(batch)
        for n in 1...20 {
            let reply = try client.readReply()
            #expect(reply.id == "\(n)")
            #expect(n % 2 == 0 ? reply.isSuccess : reply.error == "not_enrolled", "\(reply.text)")
        }
    }

    @Test func aThousandIdleConnectionsDoNotStopService() throws {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 4096 {
            limit.rlim_cur = min(4096, limit.rlim_max)
            setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
        let daemon = try DaemonProcess()
        let admin = try daemon.connectAdmin()
        let token = try admin.enroll(user: "alice")
        let baseline = daemon.openDescriptors

        var idle: [SocketClient] = []
        for _ in 0..<1000 { idle.append(try daemon.connect()) }
        // Wait until the daemon has accepted them all (each is one descriptor there).
        var accepted = false
        for _ in 0..<250 where !accepted {
            accepted = daemon.openDescriptors >= baseline + 1000
            if !accepted { usleep(20_000) }
        }
        #expect(accepted, "the daemon holds \(daemon.openDescriptors - baseline) of 1000 connections")

        let fresh = try daemon.connect()
        daemon.expectOK(try fresh.call("health"))
        daemon.expectOK(try fresh.call("verify", ["user": "alice", "code": token.code(1)]))
        // The idle ones still work too.
        daemon.expectOK(try idle[0].call("health"))
        daemon.expectOK(try idle[999].call("health"))

        for client in idle { client.close() }
        // And they are released.
        var released = false
        for _ in 0..<250 where !released {
            released = daemon.openDescriptors <= baseline + 5
            if !released { usleep(20_000) }
        }
        #expect(released, "\(daemon.openDescriptors - baseline) descriptors still open after the clients left")
        daemon.expectServing()
    }
}
