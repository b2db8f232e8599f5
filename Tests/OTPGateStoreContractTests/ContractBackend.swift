import Foundation
import Logging
import OTPCore
import OTPGateStore
import OTPGateStoreContract

/// One backend the contract suite runs against: how to make a fresh, empty store of
/// it with a given limiter policy. Every test in the suite runs once per backend, with
/// the same calls and the same expectations.
struct ContractBackend: Sendable, CustomStringConvertible {
    let name: String
    let make: @Sendable (_ policy: LimiterPolicy) throws -> ContractStore

    var description: String { name }

    /// The backends on this machine. SQLite always; others add themselves here.
    static let all: [ContractBackend] = [.sqlite, .split, .postgres]

    static let sqlite = ContractBackend(name: "sqlite") { policy in
        var template = Array("/tmp/otpgate-contract-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw StoreError(.database, "mkdtemp failed") }
        let dir = String(cString: p)
        let key = try MasterKey.generate()
        let store = try OTPStore(
            path: dir + "/state/otpgate.db", key: key, keySource: dir + "/master.key",
            logger: Logger(label: "contract") { _ in SwiftLogNoOpLogHandler() },
            limiterPolicy: policy, recoveryHasher: ContractStore.hasher, now: ContractStore.wallClock())
        return ContractStore(store: store, key: key) { try? FileManager.default.removeItem(atPath: dir) }
    }
}

extension ContractBackend {
    /// A tier node's store: users whose names start with a, c, e, g, i or k (and root)
    /// are local, the rest shared, so every test crosses both halves.
    static let split = ContractBackend(name: "split") { policy in
        let local = try ContractBackend.sqlite.make(policy)
        let shared = try ContractBackend.sqlite.make(policy)
        // One master key on a node, as in a tier: rekey and key checks see one key.
        let store = SplitStore(local: local.store, shared: shared.store, isLocal: ContractStore.splitIsLocal)
        return ContractStore(store: store, key: shared.key) {
            local.close()
            shared.close()
        }
    }
}

/// A store made for one test, removed by `close()`.
struct ContractStore: Sendable {
    let store: any StoreContract
    let key: MasterKey
    let remove: @Sendable () -> Void

    /// Cheap scrypt parameters: the suite checks behaviour, not the work factor.
    static let hasher = RecoveryCodeHasher(n: 1 << 4, r: 8, p: 1)

    /// The suite passes the real time as `now`: a backend with a clock of its own
    /// uses that one, so no test may depend on moving time by hand.
    static func wallClock() -> Int64 { Int64(Date().timeIntervalSince1970) }

    func close() { remove() }

    @Sendable static func splitIsLocal(_ user: String) -> Bool {
        user == "root" || user.first.map { "acegik".contains($0) } == true
    }
}
