// A child process for the store's multi-process tests: it opens the same database
// file as the test and performs one kind of operation, printing "ack ..." (flushed)
// only after each operation returned, i.e. after its transaction committed.
//
//   otpgate-store-harness accept DB KEY USER TOKEN COUNTER   (prints "ready", waits for a line on stdin)
//   otpgate-store-harness fail DB KEY USER COUNT              (prints "ready", waits for a line on stdin)
//   otpgate-store-harness fail-forever DB KEY USER
//   otpgate-store-harness fail-threads DB KEY USER THREADS   (each thread: one user USER-n, forever)
//   otpgate-store-harness enroll-forever DB KEY USER
//   otpgate-store-harness populate DB KEY USERS
//   otpgate-store-harness rotate DB KEY

import Foundation
import Logging
import OTPCore
import OTPGateStore

/// Unbuffered, so a line is out before the next operation starts.
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

let args = CommandLine.arguments
guard args.count >= 4 else {
    FileHandle.standardError.write(Data("usage: see the comment at the top of main.swift\n".utf8))
    exit(2)
}
let (command, db, keyPath) = (args[1], args[2], args[3])
let logger = Logger(label: "harness") { StreamLogHandler.standardError(label: $0) }
let now = Int64(Date().timeIntervalSince1970)

func open() throws -> OTPStore {
    let key = try KeyRotation.loadKey(keyFile: keyPath, storePath: db)
    return try OTPStore(
        path: db, key: key, keySource: keyPath, logger: logger,
        limiterPolicy: LimiterPolicy(lockoutFailures: 1_000_000), recoveryHasher: RecoveryCodeHasher(n: 16, r: 8, p: 1),
        now: now)
}

/// Says the store is open and waits for the test's "go" on stdin, so that all
/// children start together.
func waitForGo() {
    say("ready")
    _ = readLine()
}

do {
    switch command {
    case "accept":
        let store = try open()
        waitForGo()
        let result = try store.acceptCode(user: args[4], tokenID: args[5], counter: UInt64(args[6])!, drift: 0, now: now)
        say(result == .accepted ? "accepted" : result == .replayed ? "replayed" : "limited")
    case "fail":
        let store = try open()
        waitForGo()
        for i in 0..<Int(args[5])! {
            _ = try store.recordFailure(user: args[4], rhost: "h\(i % 3)", now: now)
            say("ack \(i)")
        }
    case "fail-forever":
        let store = try open()
        var i = 0
        while true {
            _ = try store.recordFailure(user: args[4], now: now)
            i += 1
            say("ack \(i)")
        }
    case "fail-threads":
        // Many threads at once, so their failures share group-commit transactions.
        let store = try open()
        let threads = Int(args[5])!
        for t in 0..<threads {
            Thread {
                var i = 0
                while true {
                    do {
                        _ = try store.recordFailure(user: "\(args[4])-\(t)", now: now)
                    } catch {
                        FileHandle.standardError.write(Data("harness: \(error)\n".utf8))
                        exit(1)
                    }
                    i += 1
                    say("ack \(t) \(i)")
                }
            }.start()
        }
        while true { sleep(60) }
    case "enroll-forever":
        let store = try open()
        var i = 0
        while true {
            let p = try store.beginEnrollment(
                user: args[4], name: "t\(i)", parameters: .standard, secret: try OTPSecret.generate(), now: now, ttl: 600)
            let (token, _) = try store.confirmEnrollment(
                id: p.id, user: args[4], counter: 1, drift: 0, recoveryCodes: nil, now: now)
            i += 1
            say("ack \(token.id)")
        }
    case "populate":
        let store = try open()
        for u in 0..<Int(args[4])! {
            let p = try store.beginEnrollment(
                user: "user\(u)", name: "phone", parameters: .standard, secret: try OTPSecret.generate(), now: now, ttl: 600)
            _ = try store.confirmEnrollment(id: p.id, user: "user\(u)", counter: 1, drift: 0, recoveryCodes: nil, now: now)
        }
        say("populated")
    case "rotate":
        let store = try open()
        say("rotating")
        let key = try KeyRotation.rotate(store: store, keyFile: keyPath, now: now)
        say("rotated \(key.id)")
    default:
        FileHandle.standardError.write(Data("unknown command \(command)\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("harness: \(error)\n".utf8))
    exit(1)
}
