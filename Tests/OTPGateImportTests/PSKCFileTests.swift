import Foundation
import OTPCore
import OTPGateImport
import OTPGateProtocol
import Testing

/// RFC 6030's examples: §6.1 (Figure 6, AES-128-CBC under a pre-shared key, HMAC-SHA1)
/// and the plain key package of its first example.
@Suite("PSKC (RFC 6030)")
struct PSKCFileTests {
    static let aes = """
        <?xml version="1.0" encoding="UTF-8"?>
        <KeyContainer Version="1.0"
            xmlns="urn:ietf:params:xml:ns:keyprov:pskc"
            xmlns:ds="http://www.w3.org/2000/09/xmldsig#"
            xmlns:xenc="http://www.w3.org/2001/04/xmlenc#">
          <EncryptionKey>
            <ds:KeyName>Pre-shared-key</ds:KeyName>
          </EncryptionKey>
          <MACMethod Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1">
            <MACKey>
              <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
              <xenc:CipherData>
                <xenc:CipherValue>
            ESIzRFVmd4iZABEiM0RVZgKn6WjLaTC1sbeBMSvIhRejN9vJa2BOlSaMrR7I5wSX
                </xenc:CipherValue>
              </xenc:CipherData>
            </MACKey>
          </MACMethod>
          <KeyPackage>
            <DeviceInfo>
              <Manufacturer>Manufacturer</Manufacturer>
              <SerialNo>987654321</SerialNo>
            </DeviceInfo>
            <CryptoModuleInfo>
              <Id>CM_ID_001</Id>
            </CryptoModuleInfo>
            <Key Id="12345678" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp">
              <Issuer>Issuer</Issuer>
              <AlgorithmParameters>
                <ResponseFormat Length="8" Encoding="DECIMAL"/>
              </AlgorithmParameters>
              <Data>
                <Secret>
                  <EncryptedValue>
                    <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
                    <xenc:CipherData>
                      <xenc:CipherValue>
            AAECAwQFBgcICQoLDA0OD+cIHItlB3Wra1DUpxVvOx2lef1VmNPCMl8jwZqIUqGv
                      </xenc:CipherValue>
                    </xenc:CipherData>
                  </EncryptedValue>
                  <ValueMAC>Su+NvtQfmvfJzF6bmQiJqoLRExc=</ValueMAC>
                </Secret>
                <Counter>
                  <PlainValue>0</PlainValue>
                </Counter>
              </Data>
            </Key>
          </KeyPackage>
        </KeyContainer>
        """

    static let plain = """
        <?xml version="1.0" encoding="UTF-8"?>
        <KeyContainer Version="1.0" Id="exampleID1" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">
          <KeyPackage>
            <Key Id="12345678" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp">
              <Issuer>Issuer-A</Issuer>
              <Data>
                <Secret>
                  <PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue>
                </Secret>
              </Data>
            </Key>
          </KeyPackage>
          <KeyPackage>
            <DeviceInfo><SerialNo>T-1</SerialNo></DeviceInfo>
            <Key Id="t1" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp">
              <AlgorithmParameters><ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters>
              <Data>
                <Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret>
                <TimeInterval><PlainValue>60</PlainValue></TimeInterval>
                <TimeDrift><PlainValue>-4</PlainValue></TimeDrift>
              </Data>
            </Key>
          </KeyPackage>
          <KeyPackage>
            <DeviceInfo><SerialNo>unmapped</SerialNo></DeviceInfo>
            <Key Id="u" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp">
              <Data><Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret></Data>
            </Key>
          </KeyPackage>
        </KeyContainer>
        """

    /// §6.2 (Figure 7): the key derived from the password "qwerty" with PBKDF2.
    static let derived = """
        <?xml version="1.0" encoding="UTF-8"?>
        <pskc:KeyContainer xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"
            xmlns:xenc11="http://www.w3.org/2009/xmlenc11#"
            xmlns:pkcs5="http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#"
            xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Version="1.0">
          <pskc:EncryptionKey>
            <xenc11:DerivedKey>
              <xenc11:KeyDerivationMethod Algorithm="http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#pbkdf2">
                <pkcs5:PBKDF2-params>
                  <Salt><Specified>Ej7/PEpyEpw=</Specified></Salt>
                  <IterationCount>1000</IterationCount>
                  <KeyLength>16</KeyLength>
                  <PRF/>
                </pkcs5:PBKDF2-params>
              </xenc11:KeyDerivationMethod>
              <xenc:ReferenceList><xenc:DataReference URI="#ED"/></xenc:ReferenceList>
              <xenc11:MasterKeyName>My Password 1</xenc11:MasterKeyName>
            </xenc11:DerivedKey>
          </pskc:EncryptionKey>
          <pskc:MACMethod Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1">
            <pskc:MACKey>
              <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
              <xenc:CipherData>
                <xenc:CipherValue>2GTTnLwM3I4e5IO5FkufoOEiOhNj91fhKRQBtBJYluUDsPOLTfUvoU2dStyOwYZx</xenc:CipherValue>
              </xenc:CipherData>
            </pskc:MACKey>
          </pskc:MACMethod>
          <pskc:KeyPackage>
            <pskc:DeviceInfo>
              <pskc:Manufacturer>TokenVendorAcme</pskc:Manufacturer>
              <pskc:SerialNo>987654321</pskc:SerialNo>
            </pskc:DeviceInfo>
            <pskc:CryptoModuleInfo><pskc:Id>CM_ID_001</pskc:Id></pskc:CryptoModuleInfo>
            <pskc:Key Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:hotp" Id="123456">
              <pskc:Issuer>Example-Issuer</pskc:Issuer>
              <pskc:AlgorithmParameters><pskc:ResponseFormat Length="8" Encoding="DECIMAL"/></pskc:AlgorithmParameters>
              <pskc:Data>
                <pskc:Secret>
                  <pskc:EncryptedValue Id="ED">
                    <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
                    <xenc:CipherData>
                      <xenc:CipherValue>oTvo+S22nsmS2Z/RtcoF8Hfh+jzMe0RkiafpoDpnoZTjPYZu6V+A4aEn032yCr4f</xenc:CipherValue>
                    </xenc:CipherData>
                  </pskc:EncryptedValue>
                  <pskc:ValueMAC>LP6xMvjtypbfT9PdkJhBZ+D6O4w=</pskc:ValueMAC>
                </pskc:Secret>
                <pskc:Counter><pskc:PlainValue>0</pskc:PlainValue></pskc:Counter>
              </pskc:Data>
            </pskc:Key>
          </pskc:KeyPackage>
        </pskc:KeyContainer>
        """

    static let psk = Hex.decode("12345678901234567890123456789012")!
    static let seed = Array("12345678901234567890".utf8)

    @Test("the pre-shared-key example decrypts, its MAC checks, serial maps to a user")
    func preSharedKey() throws {
        let (users, issues) = PSKCFile.parse(Array(Self.aes.utf8), file: "f", preSharedKey: Self.psk, users: ["987654321": "alice"])
        #expect(issues.isEmpty)
        let t = try #require(users.first?.tokens.first)
        #expect(users.first?.user == "alice")
        #expect(t.kind == .hotp && t.digits == 8 && t.counter == 0 && t.name == "pskc-987654321")
        #expect(try Base32.decode(t.secret) == Self.seed)
    }

    @Test("the password-based example (PBKDF2) derives the key; a wrong password fails the MAC")
    func passwordBased() throws {
        let (users, issues) = PSKCFile.parse(
            Array(Self.derived.utf8), file: "f", preSharedKey: nil, password: Array("qwerty".utf8), users: ["987654321": "alice"])
        #expect(issues.isEmpty, "\(issues)")
        let t = try #require(users.first?.tokens.first)
        #expect(t.digits == 8 && t.kind == .hotp)
        #expect(try Base32.decode(t.secret) == Self.seed)
        let wrong = PSKCFile.parse(
            Array(Self.derived.utf8), file: "f", preSharedKey: nil, password: Array("qwertz".utf8), users: ["987654321": "alice"])
        #expect(wrong.users.isEmpty && wrong.issues.contains { $0.message.contains("wrong key") })
        let none = PSKCFile.parse(Array(Self.derived.utf8), file: "f", preSharedKey: nil, users: [:])
        #expect(none.issues.first?.message.contains("--password-file") == true)
    }

    @Test("a wrong key, an altered MAC, no key: refused with the reason")
    func refusals() throws {
        var wrong = Self.psk
        wrong[0] ^= 1
        let a = PSKCFile.parse(Array(Self.aes.utf8), file: "f", preSharedKey: wrong, users: ["987654321": "alice"])
        #expect(a.users.isEmpty && !a.issues.isEmpty)
        let altered = Self.aes.replacingOccurrences(of: "Su+NvtQf", with: "Su+NvtQe")
        let b = PSKCFile.parse(Array(altered.utf8), file: "f", preSharedKey: Self.psk, users: ["987654321": "alice"])
        #expect(b.users.isEmpty && b.issues.contains { $0.message.contains("ValueMAC does not match") && $0.line != nil })
        let c = PSKCFile.parse(Array(Self.aes.utf8), file: "f", preSharedKey: nil, users: [:])
        #expect(c.issues.first?.message.contains("--key-file") == true)
        let d = PSKCFile.parse(Array("<x/>".utf8), file: "f", preSharedKey: nil, users: [:])
        #expect(d.issues.first?.message.contains("KeyContainer") == true)
    }

    @Test("plain values, TOTP interval and drift, key Id mapping, unmapped serials reported")
    func plain() throws {
        let (users, issues) = PSKCFile.parse(
            Array(Self.plain.utf8), file: "f", preSharedKey: nil, users: ["12345678": "bob", "T-1": "bob"])
        #expect(users.count == 1)
        let tokens = try #require(users.first?.tokens)
        #expect(tokens.map(\.name) == ["pskc-12345678", "pskc-T-1"])
        #expect(tokens[0].digits == 6 && tokens[0].kind == .hotp)
        #expect(tokens[1].kind == .totp && tokens[1].period == 60 && tokens[1].skew == -4)
        #expect(issues.count == 1 && issues[0].message.contains("serial unmapped") && issues[0].line != nil)
    }
}
