import Foundation
import OTPCore
import OTPGateTestSupport
import Testing

/// Compares our codes with those of oathtool (OATH Toolkit, an independent
/// implementation) for random secrets, times, algorithms, digit counts and periods.
@Suite("oathtool cross-check", .ownThreads)
struct OathtoolCrossCheckTests {
    static let oathtool = "/usr/bin/oathtool"

    /// A small seeded generator, so a failing case can be replayed from its seed.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func run(_ arguments: [String]) throws -> String {
        let result = try Command.run(oathtool, arguments)
        #expect(result.status == 0, "oathtool \(arguments) failed: \(result)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    @Test("300 random TOTP and HOTP cases agree with oathtool")
    func randomCases() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.oathtool),
            "oathtool is missing: `make test` installs it (apt-get install oathtool)")
        let seed = UInt64(Date().timeIntervalSince1970)
        print("oathtool cross-check seed \(seed)")
        var rng = SplitMix64(state: seed)
        var checked = 0
        for i in 0..<300 {
            let algorithm = OTPAlgorithm.allCases.randomElement(using: &rng)!
            let digits = Int.random(in: 6...8, using: &rng)
            let secret = (0..<Int.random(in: 10...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if i % 3 == 0 {
                let counter = UInt64.random(in: 0...UInt64(UInt32.max) * 4, using: &rng)
                let theirs = try Self.run(["--hotp", "-c", "\(counter)", "-d", "\(digits)", Self.hex(secret)])
                // oathtool's HOTP mode is SHA-1 only; the other hashes go through TOTP below.
                let ours = HOTP.codeString(secret: secret, counter: counter, algorithm: .sha1, digits: digits)
                #expect(ours == theirs, "seed \(seed) case \(i): hotp counter \(counter) digits \(digits)")
            } else {
                let period = [1, 15, 30, 45, 60, 90, 300, 3600].randomElement(using: &rng)!
                let time = Int64.random(in: 0...40_000_000_000, using: &rng)
                let mode = algorithm.rawValue.lowercased()
                let theirs = try Self.run([
                    "--totp=\(mode)", "-s", "\(period)", "-N", "@\(time)", "-d", "\(digits)", Self.hex(secret),
                ])
                let ours = try TOTP.code(secret: secret, at: time, algorithm: algorithm, digits: digits, period: Int64(period))
                #expect(ours == theirs, "seed \(seed) case \(i): totp \(algorithm) period \(period) time \(time) digits \(digits)")
            }
            checked += 1
        }
        #expect(checked == 300)
    }
}
