import Foundation
import GRDB
import OTPGateProtocol
@testable import OTPGateServer
import OTPGateStore
import Testing

/// Store errors as the wire sees them (`RequestHandler.failure(for:)`): every code,
/// then the paths that reach the mapping from a real store.
@Suite("RequestHandler: store errors on the wire")
struct StoreErrorMappingTests {
    static let allCodes: [StoreError.Code] = [
        .keyMissing, .keyInvalid, .keyMismatch, .decryptionFailed, .unsafePath, .storeMissing, .storeRolledBack,
        .storeNewer, .notFound, .conflict, .invalidInput, .expired, .database, .crypto, .unavailable,
    ]

    /// DESIGN.md's table: faults of the store or the key are `unavailable` (the PAM
    /// module fails closed with "try later"), never a verdict on the code. The switch
    /// is exhaustive, so a new code does not compile until it has a row here.
    static func expected(_ code: StoreError.Code) -> WireErrorCode {
        switch code {
        case .conflict, .notFound: .conflict
        case .invalidInput: .badRequest
        case .expired: .enrollmentExpired
        case .keyMissing, .keyInvalid, .keyMismatch, .decryptionFailed, .unsafePath, .storeMissing, .storeRolledBack,
            .storeNewer, .database, .crypto, .unavailable:
            .unavailable
        }
    }

    @Test(arguments: allCodes)
    func eachCode(_ code: StoreError.Code) throws {
        let f = try HandlerFixture()
        let message = "store says /var/lib/otpgate/otpgate.db: \(code.rawValue)"
        let reply = f.handler.failure(for: StoreError(code, message), id: "x", op: .verify)
        #expect(reply.id == "x")
        #expect(reply.error == Self.expected(code))
        if Self.expected(code) == .unavailable {
            // The fault's details go to the log, not to the caller.
            #expect(reply.failure?.message == "the store is unavailable; see the daemon's log")
            #expect(f.log.text.contains("store fault"))
            #expect(f.log.text.contains(message))
        } else {
            #expect(reply.failure?.message == message)
        }
    }

    @Test func allCodesAreListed() {
        // Raw values are unique, so a duplicate in the list would show here.
        #expect(Set(Self.allCodes.map(\.rawValue)).count == Self.allCodes.count)
        #expect(Self.allCodes.count == 15)
    }

    @Test func anErrorThatIsNotTheStoresIsInternal() throws {
        struct Odd: Error {}
        let f = try HandlerFixture()
        let reply = f.handler.failure(for: Odd(), id: nil, op: .status)
        #expect(reply.error == .internal)
        #expect(reply.failure?.message == "internal error")
        #expect(f.log.text.contains("request failed"))
    }

    /// A user name the store refuses (a control character: the wire parser would
    /// stop it first, so the handler is called directly) is a bad request.
    @Test func invalidInputFromTheStoreIsABadRequest() throws {
        let f = try HandlerFixture()
        let reply = f.verify("al\u{7}ice", "123456")
        #expect(reply.error == .badRequest)
        #expect(reply.failure?.message == "a user name has 1 to 256 bytes and no control characters")
    }

    @Test func aConflictFromTheStoreIsAConflict() throws {
        let f = try HandlerFixture()
        for _ in 0..<OTPStore.maxPendingEnrollments {
            #expect(f.call(.enrollBegin(EnrollBeginRequest(user: "alice"))).isSuccess)
        }
        let sixth = f.call(.enrollBegin(EnrollBeginRequest(user: "alice")))
        #expect(sixth.error == .conflict)
        #expect(sixth.failure?.message.contains("unconfirmed enrolments") == true)
    }

    /// A sealed secret that no longer opens (tampered with on disk) is a store
    /// fault: `unavailable`, never `invalid_code`, and nothing is counted.
    @Test func aSecretThatDoesNotOpenIsUnavailable() throws {
        let f = try HandlerFixture()
        let token = try f.enroll("alice")
        let queue = try DatabaseQueue(path: f.config.databasePath)
        try queue.write { db in try db.execute(sql: "UPDATE tokens SET secret = zeroblob(60)") }
        f.clock.advance(seconds: 30)
        let reply = f.verify("alice", token.code())
        #expect(reply.error == .unavailable)
        #expect(f.log.text.contains("store fault"))
        #expect(try f.store.listUsers(now: f.clock.wall).first { $0.user == "alice" }?.failures == 0)
    }
}
