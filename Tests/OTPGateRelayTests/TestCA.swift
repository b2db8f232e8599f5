import Foundation
import OTPGateTestSupport

/// A CA and certificates made with openssl in a temporary directory: the fleet's CA,
/// a tier node's certificate (CN and SAN 127.0.0.1 / localhost), a relay's, and a
/// second CA that nothing trusts.
struct TestCA {
    let dir: String
    var ca: String { dir + "/ca.pem" }
    var otherCA: String { dir + "/other-ca.pem" }

    static let shared: TestCA = try! TestCA()

    init() throws {
        dir = NSTemporaryDirectory() + "relay-ca-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Self.makeCA("ca", in: dir)
        try Self.makeCA("other-ca", in: dir)
        try Self.issue("tier", cn: "tier", san: "DNS:localhost,IP:127.0.0.1", by: "ca", in: dir)
        try Self.issue("relay", cn: "web1", san: "DNS:web1", by: "ca", in: dir)
        try Self.issue("stranger", cn: "tier", san: "DNS:localhost,IP:127.0.0.1", by: "other-ca", in: dir)
    }

    func certificate(_ name: String) -> String { dir + "/\(name).pem" }
    func key(_ name: String) -> String { dir + "/\(name).key" }

    static func openssl(_ arguments: [String]) throws {
        let run = try Command.run("/usr/bin/openssl", arguments)
        guard run.status == 0 else { throw FixtureError("openssl \(arguments.first ?? ""): \(run)") }
    }

    static func makeCA(_ name: String, in dir: String) throws {
        try openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=\(name)", "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).pem",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
    }

    static func issue(_ name: String, cn: String, san: String, by ca: String, in dir: String) throws {
        try openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=\(cn)",
            "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).csr",
        ])
        let ext = "\(dir)/\(name).ext"
        try "subjectAltName=\(san)\nextendedKeyUsage=serverAuth,clientAuth\n".write(toFile: ext, atomically: true, encoding: .utf8)
        try openssl([
            "x509", "-req", "-in", "\(dir)/\(name).csr", "-CA", "\(dir)/\(ca).pem", "-CAkey", "\(dir)/\(ca).key",
            "-CAcreateserial", "-days", "2", "-out", "\(dir)/\(name).pem", "-extfile", ext,
        ])
        // A key readable by its owner only, as the relay's key checks demand.
        chmod("\(dir)/\(name).key", 0o600)
    }
}
