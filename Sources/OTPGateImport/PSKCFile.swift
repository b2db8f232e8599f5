import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import OTPCore
import OTPGateProtocol

/// Reads hardware-token seed files in RFC 6030 PSKC: each `KeyPackage` is one token,
/// named by its device's `SerialNo`, which `users` maps to a login name. Secrets come
/// as a base64 `PlainValue`, or as an `EncryptedValue` under a pre-shared AES key
/// (aes128-cbc, or 192/256) with an HMAC-SHA1 `ValueMAC` made with the file's
/// encrypted `MACKey` (§6.1); a wrong key or an altered file fails the MAC check.
/// The key may instead be derived from a password with PBKDF2-HMAC-SHA1 (§6.2).
/// Public-key encrypted files are refused with the reason.
public enum PSKCFile {
    public static let tool = "pskc"

    public static func parse(
        _ bytes: [UInt8], file: String, preSharedKey: [UInt8]?, password: [UInt8]? = nil, users: [String: String]
    ) -> (users: [ImportedUser], issues: [ImportIssue]) {
        var issues: [ImportIssue] = []
        func fail(_ message: String, line: Int? = nil) -> ([ImportedUser], [ImportIssue]) {
            ([], issues + [ImportIssue(.error, file: file, line: line, message)])
        }
        guard let root = XMLNode.parse(Data(bytes)) else { return fail("not well-formed XML") }
        guard root.name == "KeyContainer" else { return fail("the root element is \(root.name), not a PSKC KeyContainer") }

        var macKey: [UInt8]?
        var preSharedKey = preSharedKey
        if let derived = root.child("EncryptionKey")?.child("DerivedKey") {
            let method = derived.child("KeyDerivationMethod")
            guard method?.attributes["Algorithm"]?.hasSuffix("#pbkdf2") == true else {
                return fail("key derivation \(method?.attributes["Algorithm"] ?? "(none)") is not supported (PBKDF2 is)", line: derived.line)
            }
            guard let password else {
                return fail("the file's key is derived from a password (PBKDF2); give the password with --password-file", line: derived.line)
            }
            if let prf = method?.descendant("PRF")?.attributes["Algorithm"], !prf.hasSuffix("hmac-sha1") {
                return fail("PBKDF2 with PRF \(prf) is not supported (HMAC-SHA1 is)", line: derived.line)
            }
            guard let salt = method?.descendant("Salt")?.child("Specified")?.base64,
                let iterations = method?.descendant("IterationCount").flatMap({ Int($0.trimmedText) }),
                let length = method?.descendant("KeyLength").flatMap({ Int($0.trimmedText) }),
                let key = PSKCCrypto.pbkdf2SHA1(password: password, salt: salt, iterations: iterations, length: length)
            else { return fail("the PBKDF2 parameters (Salt, IterationCount, KeyLength 16 to 32) are missing or invalid", line: derived.line) }
            preSharedKey = key
        }
        if let encryption = root.child("EncryptionKey") {
            if encryption.child("X509Data") != nil {
                return fail("the file is encrypted to a public key; decrypt it with the vendor's tools first", line: encryption.line)
            }
            guard let psk = preSharedKey else {
                return fail("the file's secrets are encrypted with a pre-shared key; give it with --key-file", line: encryption.line)
            }
            if let method = root.child("MACMethod") {
                guard method.attributes["Algorithm"]?.hasSuffix("hmac-sha1") == true else {
                    return fail("MACMethod \(method.attributes["Algorithm"] ?? "?") is not supported (hmac-sha1 is)", line: method.line)
                }
                guard let cipher = method.child("MACKey")?.descendant("CipherValue")?.base64,
                    let key = PSKCCrypto.decryptCBC(cipher, key: psk)
                else { return fail("the MACKey cannot be decrypted with that key (wrong key?)", line: method.line) }
                macKey = key
            }
        }

        var found: [String: ImportedUser] = [:]
        var order: [String] = []
        for package in root.children where package.name == "KeyPackage" {
            let line = package.line
            let serial = package.child("DeviceInfo")?.child("SerialNo")?.trimmedText ?? ""
            guard let key = package.child("Key") else {
                issues.append(ImportIssue(.error, file: file, line: line, "a KeyPackage without a Key; skipped"))
                continue
            }
            let id = serial.isEmpty ? (key.attributes["Id"] ?? "") : serial
            let label = serial.isEmpty ? "key \(id)" : "serial \(serial)"
            func bad(_ message: String) { issues.append(ImportIssue(.error, file: file, line: key.line, "\(label): \(message); not imported")) }
            guard let user = users[serial] ?? users[key.attributes["Id"] ?? "\u{0}"] else {
                bad("no user is mapped to it (--map \(serial.isEmpty ? id : serial)=USER)")
                continue
            }
            let algorithm = (key.attributes["Algorithm"] ?? "").lowercased()
            let hotp: Bool
            if algorithm.hasSuffix(":hotp") || algorithm.hasSuffix("#hotp") {
                hotp = true
            } else if algorithm.hasSuffix(":totp") || algorithm.hasSuffix("#totp") {
                hotp = false
            } else {
                bad("algorithm \(key.attributes["Algorithm"] ?? "(none)") is not HOTP or TOTP")
                continue
            }
            var digits = 6
            if let format = key.child("AlgorithmParameters")?.child("ResponseFormat") {
                if let encoding = format.attributes["Encoding"], encoding.uppercased() != "DECIMAL" {
                    bad("response encoding \(encoding) is not DECIMAL")
                    continue
                }
                guard let n = format.attributes["Length"].flatMap(Int.init), (6...8).contains(n) else {
                    bad("response length \(format.attributes["Length"] ?? "?") is not 6, 7 or 8")
                    continue
                }
                digits = n
            }
            var hash = TokenAlgorithm.sha1
            if let suite = key.child("AlgorithmParameters")?.child("Suite")?.trimmedText.uppercased() {
                if suite.contains("SHA256") { hash = .sha256 } else if suite.contains("SHA512") { hash = .sha512 }
            }
            guard let data = key.child("Data"), let secretNode = data.child("Secret") else {
                bad("no Data/Secret")
                continue
            }
            var secret: [UInt8]
            if let plain = secretNode.child("PlainValue") {
                guard let b = plain.base64 else { bad("the secret is not base64"); continue }
                secret = b
            } else if let encrypted = secretNode.child("EncryptedValue") {
                guard let psk = preSharedKey else { bad("the secret is encrypted; give the key with --key-file"); continue }
                guard let cipher = encrypted.descendant("CipherValue")?.base64 else { bad("the encrypted secret is not base64"); continue }
                if let macKey {
                    guard let mac = secretNode.child("ValueMAC")?.base64 else { bad("the encrypted secret has no ValueMAC"); continue }
                    guard PSKCCrypto.macMatches(key: macKey, message: cipher, mac: mac) else {
                        bad("the ValueMAC does not match (wrong key, or the file was altered)")
                        continue
                    }
                }
                guard let plain = PSKCCrypto.decryptCBC(cipher, key: psk) else {
                    bad("the secret cannot be decrypted with that key")
                    continue
                }
                secret = plain
            } else {
                bad("the secret has neither PlainValue nor EncryptedValue")
                continue
            }
            func number(_ name: String) -> Int64?? {
                guard let node = data.child(name) else { return .some(nil) }
                guard let text = node.child("PlainValue")?.trimmedText, let n = Int64(text) else { return nil }
                return .some(n)
            }
            guard let counter = number("Counter"), let interval = number("TimeInterval"), let start = number("Time"),
                let drift = number("TimeDrift")
            else {
                bad("a Counter, Time, TimeInterval or TimeDrift is not a plain number (encrypted ones are not supported)")
                continue
            }
            if let start, start != 0 {
                bad("TOTP start time T0 = \(start) is not supported (otpgate counts steps from the Unix epoch)")
                continue
            }
            var userIssues: [ImportIssue] = []
            if key.child("Policy")?.child("PINPolicy") != nil {
                userIssues.append(ImportIssue(
                    .warning, file: file, line: key.line, "\(label): the token's PIN policy is not carried over (otpgate has no token PINs)"))
            }
            let name = "pskc-" + String((serial.isEmpty ? id : serial).prefix(59))
            guard let encoded = ImportedSecret.check(secret, token: name, file: file, line: key.line, issues: &userIssues) else {
                issues += userIssues
                continue
            }
            var token = AdminImportRequest.Token(
                name: name, kind: hotp ? .hotp : .totp, algorithm: hash, digits: digits, period: nil, secret: encoded)
            if hotp {
                let c = max(0, counter ?? 0)
                token.counter = c
                token.watermark = c > 0 ? c - 1 : nil
            } else {
                token.period = Int(interval ?? 30)
                guard (1...86_400).contains(token.period!) else { bad("TimeInterval \(interval ?? 0) is out of range"); continue }
                if let drift, drift != 0 { token.skew = Int(clamping: drift) }
            }
            var entry = found[user] ?? ImportedUser(user: user, source: "\(tool) \(file)")
            if found[user] == nil { order.append(user) }
            entry.tokens.append(token)
            entry.issues += userIssues
            found[user] = entry
        }
        return (order.compactMap { found[$0] }, issues)
    }
}

/// A minimal element tree from XMLParser: local names (prefixes dropped), attributes,
/// text, and the line each element starts on.
final class XMLNode {
    let name: String
    let attributes: [String: String]
    let line: Int
    var children: [XMLNode] = []
    var text = ""

    init(name: String, attributes: [String: String], line: Int) {
        self.name = name
        self.attributes = attributes
        self.line = line
    }

    func child(_ name: String) -> XMLNode? { children.first { $0.name == name } }

    func descendant(_ name: String) -> XMLNode? {
        for c in children {
            if c.name == name { return c }
            if let d = c.descendant(name) { return d }
        }
        return nil
    }

    var trimmedText: String { text.trimmingCharacters(in: .whitespacesAndNewlines) }

    var base64: [UInt8]? {
        let compact = text.filter { !$0.isWhitespace }
        return Data(base64Encoded: compact).map { Array($0) }
    }

    static func parse(_ data: Data) -> XMLNode? {
        let builder = Builder()
        let parser = XMLParser(data: data)
        parser.shouldResolveExternalEntities = false
        parser.delegate = builder
        guard parser.parse(), builder.failed == false else { return nil }
        return builder.root
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var stack: [XMLNode] = []
        var root: XMLNode?
        var failed = false

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
            let node = XMLNode(name: local, attributes: attributes, line: parser.lineNumber)
            if let parent = stack.last { parent.children.append(node) } else if root == nil { root = node } else { failed = true }
            stack.append(node)
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
            _ = stack.popLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            stack.last?.text += string
        }

        func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) { failed = true }
    }
}
