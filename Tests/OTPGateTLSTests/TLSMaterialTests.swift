import Foundation
import Glibc
import NIOSSL
import OTPGateTLS
import OTPGateTestSupport
import Testing

@Suite("TLS material and the relay link's handshake", .ownThreads)
struct TLSMaterialTests {
    let pki: CertificateFixture

    init() throws {
        pki = try CertificateFixture()
    }

    private func material(_ pair: CertificatePair) throws -> TLSMaterial {
        try TLSMaterial.load(certificate: pair.certificate, key: pair.key, ca: pki.ca)
    }

    @Test func identityIsTheLeafCNAndTheDERFingerprint() throws {
        let relay = try pki.client("relay-a.test")
        let loaded = try material(relay)
        let identity = try PeerIdentity(certificate: loaded.chain[0])
        #expect(identity.name == "relay-a.test")
        // Against openssl's own computation of the same certificate.
        // openssl prints AB:CD:…; the identity holds plain lowercase hex.
        let expected = try pki.fingerprint(relay.certificate).lowercased().replacingOccurrences(of: ":", with: "")
        #expect(identity.fingerprint == expected)
        let other = try PeerIdentity(certificate: try material(try pki.client("relay-b.test")).chain[0])
        #expect(other.fingerprint != identity.fingerprint)
        pki.remove()
    }

    @Test func aKeyReadableByOthersIsRefused() throws {
        defer { pki.remove() }
        let relay = try pki.client("relay-a.test")
        // Control: the same files load with mode 0600.
        _ = try material(relay)
        chmod(relay.key, 0o640)
        let error = #expect(throws: TLSError.self) { try material(relay) }
        #expect(error?.message.contains("chmod 600") == true)
    }

    @Test func aKeyOwnedBySomeoneElseIsRefused() throws {
        defer { pki.remove() }
        let relay = try pki.client("relay-a.test")
        // As the daemon's uid 4242 would see a key owned by root (accepted) and by us
        // when we are not root (refused): root may own it, nobody else but the owner.
        _ = try TLSMaterial.load(certificate: relay.certificate, key: relay.key, ca: pki.ca, owner: geteuid())
        if geteuid() == 0 {
            _ = try TLSMaterial.load(certificate: relay.certificate, key: relay.key, ca: pki.ca, owner: 4242)
            chown(relay.key, 4343, 0)
        }
        let error = #expect(throws: TLSError.self) {
            try TLSMaterial.load(certificate: relay.certificate, key: relay.key, ca: pki.ca, owner: 4242)
        }
        #expect(error?.message.contains("owned by uid") == true)
    }

    @Test func aKeyOfAnotherCertificateIsRefused() throws {
        defer { pki.remove() }
        let a = try pki.client("relay-a.test")
        let b = try pki.client("relay-b.test")
        let error = #expect(throws: TLSError.self) {
            try TLSMaterial.load(certificate: a.certificate, key: b.key, ca: pki.ca)
        }
        #expect(error?.message.contains("does not belong to the certificate") == true)
    }

    @Test func notPEMIsRefused() throws {
        defer { pki.remove() }
        let relay = try pki.client("relay-a.test")
        let junk = pki.directory + "/junk.pem"
        try "hello\n".write(toFile: junk, atomically: true, encoding: .utf8)
        #expect(throws: TLSError.self) { try TLSMaterial.load(certificate: junk, key: relay.key, ca: pki.ca) }
        #expect(throws: TLSError.self) { try TLSMaterial.load(certificate: relay.certificate, key: relay.key, ca: junk) }
        #expect(throws: TLSError.self) { try TLSMaterial.load(certificate: pki.directory + "/absent.pem", key: relay.key, ca: pki.ca) }
    }

    // How deny lists write fingerprints is DenyList's (TierListenerSettingsTests).
    @Test func hostNames() {
        #expect(PeerIdentity.isHostName("relay-1.example.org"))
        #expect(!PeerIdentity.isHostName("relay 1"))
        #expect(!PeerIdentity.isHostName(""))
    }

    @Test func aTrustedRelayCompletesTheHandshakeAndIsNamed() async throws {
        defer { pki.remove() }
        let server = try material(pki.server)
        let relay = try material(try pki.client("relay-a.test"))
        let outcome = try await TLSHandshake.run(server: TLSConfigurations.server(server), client: TLSConfigurations.client(relay))
        #expect(try outcome.server.get().name == "relay-a.test")
        _ = try outcome.client.get()
        // By name too (DNS:localhost).
        let byName = try await TLSHandshake.run(
            server: TLSConfigurations.server(server), client: TLSConfigurations.client(relay), host: "localhost")
        #expect(try byName.server.get().name == "relay-a.test")
    }

    @Test func relaysFromAnotherCAOrExpiredOrWithoutACertificateAreRefused() async throws {
        defer { pki.remove() }
        let server = TLSConfigurations.server(try material(pki.server))
        for pair in [try pki.foreignClient("relay-a.test"), try pki.expiredClient("relay-a.test")] {
            // The client's own files load (the CA of a foreign relay is not ours: load with its own key only).
            let chain = try TLSMaterial.certificates(at: pair.certificate, what: "cert")
            let key = try TLSMaterial.privateKey(at: pair.key)
            let relay = TLSMaterial(chain: chain, privateKey: key, trustRoots: try TLSMaterial.certificates(at: pki.ca, what: "ca"))
            let outcome = try await TLSHandshake.run(server: server, client: TLSConfigurations.client(relay))
            #expect(throws: (any Error).self, "\(pair.certificate)") { try outcome.server.get() }
        }
        var anonymous = TLSConfigurations.client(try material(try pki.client("relay-a.test")))
        anonymous.certificateChain = []
        anonymous.privateKey = nil
        let outcome = try await TLSHandshake.run(server: server, client: anonymous)
        #expect(throws: (any Error).self) { try outcome.server.get() }
    }

    @Test func aRelayRefusesATierWithAnotherNameOrFromAnotherCA() async throws {
        defer { pki.remove() }
        let relay = try material(try pki.client("relay-a.test"))
        // A tier certificate for DNS:localhost only (no IP SAN, which NIOSSL would match
        // against the address connected to whatever the name).
        let byName = try material(try pki.serverCertificate("tier-dns.test", altNames: "DNS:localhost"))
        let rightName = try await TLSHandshake.run(
            server: TLSConfigurations.server(byName), client: TLSConfigurations.client(relay), host: "localhost")
        _ = try rightName.client.get()
        let wrongName = try await TLSHandshake.run(
            server: TLSConfigurations.server(byName), client: TLSConfigurations.client(relay), host: "tier.example")
        #expect(throws: (any Error).self) { try wrongName.client.get() }
        // A tier whose certificate comes from another CA (it trusts our relays' CA).
        let foreignTier = try pki.foreignClient("127.0.0.1")
        let impostor = TLSMaterial(
            chain: try TLSMaterial.certificates(at: foreignTier.certificate, what: "cert"),
            privateKey: try TLSMaterial.privateKey(at: foreignTier.key), trustRoots: relay.trustRoots)
        let outcome = try await TLSHandshake.run(server: TLSConfigurations.server(impostor), client: TLSConfigurations.client(relay))
        #expect(throws: (any Error).self) { try outcome.client.get() }
    }

    @Test func onlyTLS13IsOffered() async throws {
        defer { pki.remove() }
        var old = TLSConfigurations.client(try material(try pki.client("relay-a.test")))
        old.minimumTLSVersion = .tlsv12
        old.maximumTLSVersion = .tlsv12
        let outcome = try await TLSHandshake.run(server: TLSConfigurations.server(try material(pki.server)), client: old)
        #expect(throws: (any Error).self) { try outcome.server.get() }
        #expect(throws: (any Error).self) { try outcome.client.get() }
    }
}
