import ArgumentParser
import Foundation
import Logging
import OTPCore
@_spi(Benchmark) import OTPGateStore

/// The users a benchmark enrols, with how to compute their codes.
///
/// It lives in the state directory next to the daemon's files (`DIR/master.key`,
/// `DIR/store/otpgate.db`, as `otpgated --state-dir DIR` expects them), plus
/// `DIR/bench-population` (what was enrolled) and `DIR/bench-counters` (how far each
/// user's token has been used), so a later run can reuse a million users instead of
/// enrolling them again. Secrets are derived from a per-population seed, so they need
/// not be stored; this is a benchmark fixture, not a way to make real secrets.
///
/// Unchecked `Sendable`: each user belongs to exactly one load-generator connection
/// (user `u` to connection `u % C`), so no two threads touch the same counter.
final class Population: @unchecked Sendable {
    enum Kind: String, CaseIterable, ExpressibleByArgument, Sendable {
        /// Counter-based: every request can carry a fresh valid code.
        case hotp
        /// Time-based: a user has at most one fresh step per period (plus one ahead).
        case totp
    }

    let directory: String
    let users: Int
    let kind: Kind
    let period: Int64
    let seed: UInt64
    /// HOTP: the next counter to use. TOTP: the last step used plus one (0: none yet).
    let counters: UnsafeMutableBufferPointer<UInt64>

    var keyPath: String { directory + "/master.key" }
    var databasePath: String { directory + "/store/otpgate.db" }
    var metadataPath: String { directory + "/bench-population" }
    var countersPath: String { directory + "/bench-counters" }

    static let tokenName = "bench"
    static let digits = 6

    private init(directory: String, users: Int, kind: Kind, period: Int64, seed: UInt64) {
        self.directory = directory
        self.users = users
        self.kind = kind
        self.period = period
        self.seed = seed
        counters = .allocate(capacity: max(users, 1))
        counters.initialize(repeating: 0)
    }

    deinit { counters.deallocate() }

    static func userName(_ index: Int) -> String { "bench\(index)" }

    var parameters: OTPParameters {
        try! OTPParameters(kind: kind == .hotp ? .hotp : .totp, algorithm: .sha1, digits: Self.digits, period: period)
    }

    /// The secret of user `index`: 20 bytes of splitmix64 from the seed.
    func secret(of index: Int) -> [UInt8] {
        var state = seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
        var out: [UInt8] = []
        out.reserveCapacity(24)
        for _ in 0..<3 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: z >> (8 * i))) }
        }
        return Array(out.prefix(20))
    }

    /// The code of user `index` for `counter` (HOTP counter or TOTP step).
    func code(of index: Int, counter: UInt64) -> [UInt8] {
        HOTP.code(secret: secret(of: index), counter: counter, algorithm: .sha1, digits: Self.digits)
    }

    // MARK: - Creating and reusing

    /// A new population in `directory` (which must not hold a store yet): writes the
    /// master key, enrols `users` users with one token each straight into the store
    /// (batches of 20,000 per transaction), and checkpoints the WAL.
    static func create(
        directory: String, users: Int, kind: Kind, period: Int64, progress: (String) -> Void
    ) throws -> Population {
        let population = try drawn(directory: directory, users: users, kind: kind, period: period)
        let key = try MasterKey.generate()
        try KeyFile.write(key, to: population.keyPath)
        let now = Int64(Date().timeIntervalSince1970)
        let store = try OTPStore(
            path: population.databasePath, key: key, keySource: population.keyPath,
            logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }, now: now)
        let started = Monotonic.now()
        let parameters = population.parameters
        var next = 0
        while next < users {
            let upper = min(users, next + 20_000)
            let batch = (next..<upper).map { i in
                BulkToken(user: userName(i), name: tokenName, parameters: parameters, secret: population.secret(of: i))
            }
            try store.bulkLoad(batch, now: now)
            next = upper
            if upper % 200_000 == 0 || upper == users {
                progress("enrolled \(upper) users in \(String(format: "%.1f", Monotonic.seconds(Monotonic.now() - started))) s")
            }
        }
        try store.checkpoint()
        try population.record()
        return population
    }

    /// A new population whose users are not enrolled anywhere yet (`populate` imports
    /// them into a tier through a daemon): only its seed and size, recorded in
    /// `directory`, which holds no store.
    static func describe(directory: String, users: Int, kind: Kind, period: Int64) throws -> Population {
        let population = try drawn(directory: directory, users: users, kind: kind, period: period)
        try population.record()
        return population
    }

    private static func drawn(directory: String, users: Int, kind: Kind, period: Int64) throws -> Population {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)
        var seed: UInt64 = 0
        let bytes = try SecureRandom.bytes(8)
        for b in bytes { seed = seed << 8 | UInt64(b) }
        return Population(directory: directory, users: users, kind: kind, period: period, seed: seed)
    }

    private func record() throws {
        try "users=\(users)\nkind=\(kind.rawValue)\nperiod=\(period)\nseed=\(seed)\n"
            .write(toFile: metadataPath, atomically: true, encoding: .utf8)
        save()
    }

    /// The population in `directory`, or nil when there is none.
    static func open(directory: String) throws -> Population? {
        guard let text = try? String(contentsOfFile: directory + "/bench-population", encoding: .utf8) else { return nil }
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        guard let users = fields["users"].flatMap(Int.init), let kind = fields["kind"].flatMap(Kind.init(rawValue:)),
            let period = fields["period"].flatMap(Int64.init), let seed = fields["seed"].flatMap(UInt64.init)
        else { throw BenchError("\(directory)/bench-population is damaged; remove the directory and enrol again") }
        let population = Population(directory: directory, users: users, kind: kind, period: period, seed: seed)
        if let data = FileManager.default.contents(atPath: population.countersPath), data.count == users * 8 {
            data.withUnsafeBytes { raw in
                for i in 0..<users { population.counters[i] = raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) }
            }
        }
        return population
    }

    /// Records how far each token has been used, for the next run on this directory.
    func save() {
        let data = Data(buffer: UnsafeBufferPointer(rebasing: counters[0..<users]))
        _ = FileManager.default.createFile(atPath: countersPath, contents: data)
    }
}
