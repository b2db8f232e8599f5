import OTPGateTestSupport

/// The certificates the relay tests use by name, from the shared fixture
/// (Tests/Support/CertificateFixture): "tier" (SAN 127.0.0.1 / localhost), "relay"
/// (CN web1), and "stranger", a tier certificate from a CA nothing here trusts.
struct TestCA: Sendable {
    let fixture: CertificateFixture
    private let pairs: [String: CertificatePair]
    var ca: String { fixture.ca }

    static let shared: TestCA = try! TestCA()

    init() throws {
        fixture = try CertificateFixture()
        pairs = ["tier": fixture.server, "relay": try fixture.client("web1"), "stranger": try fixture.foreignServer("tier")]
    }

    func certificate(_ name: String) -> String { pairs[name]!.certificate }
    func key(_ name: String) -> String { pairs[name]!.key }
}
