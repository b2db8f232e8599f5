/// An otpauth:// URI in the Key Uri Format that authenticator apps scan from QR codes:
/// `otpauth://TYPE/ISSUER:ACCOUNT?secret=...&issuer=...&algorithm=...&digits=...&period=...`
///
/// It carries the secret, so it must never be logged; `description` leaves it out.
public struct OTPAuthURI: Sendable, Hashable, CustomStringConvertible {
    public var parameters: OTPParameters
    public var secret: [UInt8]
    public var account: String
    public var issuer: String?
    /// The HOTP counter to start from; always 0 for TOTP.
    public var counter: UInt64

    /// The shortest secret `parse` takes: 80 bits, what google-authenticator writes.
    public static let minimumSecretBytes = 10

    public init(
        parameters: OTPParameters, secret: [UInt8], account: String, issuer: String? = nil,
        counter: UInt64 = 0
    ) {
        self.parameters = parameters
        self.secret = secret
        self.account = account
        self.issuer = issuer
        self.counter = counter
    }

    public var description: String {
        "otpauth://\(parameters.kind.rawValue)/ (account \(account), secret withheld)"
    }

    /// The URI text, with the label and issuer percent-encoded.
    public var uri: String {
        let text = SecretBytes(capacity: 256)
        write(into: text)
        return text.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// The same text appended to `out`: the secret's base32 form is written straight
    /// into it, and no String holding the URI is made (what the daemon sends).
    public func write(into out: SecretBytes) {
        var label = PercentEncoding.encode(account)
        if let issuer { label = PercentEncoding.encode(issuer) + ":" + label }
        out.append("otpauth://\(parameters.kind.rawValue)/\(label)?secret=")
        Base32.encode(secret, into: out)
        if let issuer { out.append("&issuer=" + PercentEncoding.encode(issuer)) }
        out.append("&algorithm=" + parameters.algorithm.rawValue)
        out.append("&digits=\(parameters.digits)")
        switch parameters.kind {
        case .totp: out.append("&period=\(parameters.period)")
        case .hotp: out.append("&counter=\(counter)")
        }
    }

    /// Parses a URI, with one specific error for each malformed part. Unknown query
    /// keys (such as `image`) are ignored, as apps do; a repeated key is an error.
    public init(parsing text: String) throws(OTPCoreError) {
        func fail(_ message: String) -> OTPCoreError { OTPCoreError(.invalidURI, message) }

        let prefix = "otpauth://"
        guard text.utf8.count <= 4096 else { throw fail("the URI is longer than 4096 bytes") }
        guard text.lowercased().hasPrefix(prefix) else {
            throw fail("the URI does not start with otpauth://")
        }
        let rest = text.dropFirst(prefix.count)
        guard let slash = rest.firstIndex(of: "/") else { throw fail("the URI has no label") }
        let kind: OTPKind
        switch rest[..<slash].lowercased() {
        case "totp": kind = .totp
        case "hotp": kind = .hotp
        default: throw fail("the URI type must be totp or hotp")
        }
        let afterType = rest[rest.index(after: slash)...]
        let rawLabel: Substring
        let rawQuery: Substring
        if let q = afterType.firstIndex(of: "?") {
            rawLabel = afterType[..<q]
            rawQuery = afterType[afterType.index(after: q)...]
        } else {
            rawLabel = afterType
            rawQuery = ""
        }
        if text.contains("#") { throw fail("the URI has a fragment ('#')") }

        guard let label = PercentEncoding.decode(rawLabel) else {
            throw fail("the label is not valid percent-encoded UTF-8")
        }
        var labelIssuer: String?
        var account = label
        if let colon = label.firstIndex(of: ":") {
            labelIssuer = String(label[..<colon])
            account = String(label[label.index(after: colon)...].drop(while: { $0 == " " }))
            if labelIssuer!.isEmpty { throw fail("the label has an empty issuer before ':'") }
        }
        guard !account.isEmpty else { throw fail("the label has no account name") }
        guard !account.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }),
            !(labelIssuer ?? "").unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
        else { throw fail("the label contains a control character") }

        var fields: [String: String] = [:]
        for pair in rawQuery.split(separator: "&", omittingEmptySubsequences: true) {
            guard let eq = pair.firstIndex(of: "=") else {
                throw fail("the query part '\(pair.prefix(32))' has no '='")
            }
            let key = pair[..<eq].lowercased()
            guard let value = PercentEncoding.decode(pair[pair.index(after: eq)...]) else {
                throw fail("the value of '\(key)' is not valid percent-encoded UTF-8")
            }
            guard fields[key] == nil else { throw fail("the parameter '\(key)' appears twice") }
            fields[key] = value
        }

        guard let secretText = fields["secret"], !secretText.isEmpty else {
            throw fail("the URI has no secret")
        }
        let secret: [UInt8]
        do {
            secret = try Base32.decode(secretText)
        } catch {
            throw fail("the secret is not valid base32")
        }
        guard secret.count >= Self.minimumSecretBytes else {
            throw fail("the secret is shorter than 80 bits")
        }

        var issuer = labelIssuer
        if let queryIssuer = fields["issuer"] {
            if let labelIssuer, labelIssuer != queryIssuer {
                throw fail("the issuer in the label and the issuer parameter differ")
            }
            if queryIssuer.isEmpty { throw fail("the issuer parameter is empty") }
            issuer = queryIssuer
        }

        var algorithm = OTPAlgorithm.sha1
        if let name = fields["algorithm"] {
            guard let a = OTPAlgorithm(name: name) else {
                throw fail("the algorithm must be SHA1, SHA256 or SHA512")
            }
            algorithm = a
        }
        var digits = 6
        if let text = fields["digits"] {
            guard let d = Self.decimal(text).flatMap({ Int(exactly: $0) }), OTPParameters.digitRange.contains(d) else {
                throw fail("digits must be 6, 7 or 8")
            }
            digits = d
        }
        var period: Int64 = 30
        if let text = fields["period"] {
            guard let p = Self.decimal(text).flatMap({ Int64(exactly: $0) }), OTPParameters.periodRange.contains(p) else {
                throw fail("period must be a whole number of seconds from 1 to 86400")
            }
            period = p
        }
        var counter: UInt64 = 0
        switch kind {
        case .hotp:
            guard let text = fields["counter"] else { throw fail("an hotp URI needs a counter") }
            guard let c = Self.decimal(text) else {
                throw fail("counter must be a whole number from 0 to 18446744073709551615")
            }
            counter = c
        case .totp:
            if fields["counter"] != nil { throw fail("a totp URI has no counter") }
        }

        self.parameters = try! OTPParameters(
            kind: kind, algorithm: algorithm, digits: digits, period: period)
        self.secret = secret
        self.account = account
        self.issuer = issuer
        self.counter = counter
    }

    /// Plain decimal digits only: no sign, no spaces; nil on overflow.
    private static func decimal(_ text: String) -> UInt64? {
        guard !text.isEmpty, text.utf8.count <= 20,
            text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return UInt64(text)
    }
}
