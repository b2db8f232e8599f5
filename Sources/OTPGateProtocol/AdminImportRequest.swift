/// `admin.import`: store tokens another tool kept for one user (google-authenticator,
/// pam_oath, an authenticator export, a PSKC file), in one transaction.
///
/// The CLI reads and parses the other tool's files; the daemon stays the only writer.
/// Carries secrets: `description` withholds them.
public struct AdminImportRequest: Sendable, Hashable, CustomStringConvertible {
    /// One token to import.
    public struct Token: Sendable, Hashable {
        public var name: String
        public var kind: TokenKind
        public var algorithm: TokenAlgorithm
        public var digits: Int
        /// TOTP step in seconds; nil for HOTP.
        public var period: Int?
        /// Base32 (RFC 4648, no padding).
        public var secret: String
        /// HOTP: the counter of the next code to accept.
        public var counter: Int64?
        /// The last step or counter the other tool accepted.
        public var watermark: Int64?
        /// TOTP: the step offset the other tool had learned.
        public var skew: Int?
        /// TOTP: steps either side, for this token only.
        public var window: Int?

        public init(
            name: String, kind: TokenKind, algorithm: TokenAlgorithm, digits: Int, period: Int?, secret: String,
            counter: Int64? = nil, watermark: Int64? = nil, skew: Int? = nil, window: Int? = nil
        ) {
            self.name = name
            self.kind = kind
            self.algorithm = algorithm
            self.digits = digits
            self.period = period
            self.secret = secret
            self.counter = counter
            self.watermark = watermark
            self.skew = skew
            self.window = window
        }

        var fields: [String: JSONValue] {
            var f: [String: JSONValue] = [
                "name": .string(name), "kind": .string(kind.rawValue), "algorithm": .string(algorithm.rawValue),
                "digits": .integer(Int64(digits)), "secret": .string(secret),
            ]
            f["period"] = period.map { .integer(Int64($0)) }
            f["counter"] = counter.map(JSONValue.integer)
            f["watermark"] = watermark.map(JSONValue.integer)
            f["skew"] = skew.map { .integer(Int64($0)) }
            f["window"] = window.map { .integer(Int64($0)) }
            return f
        }
    }

    /// What to do with a user who already has tokens.
    public enum Mode: String, Sendable, Hashable, CaseIterable, Codable {
        case skip, replace, add
    }

    public static let maxTokens = 16
    public static let maxScratchCodes = 20
    public static let maxSourceBytes = 512
    public static let maxSecretBytes = 256

    public var user: String
    /// Where the tokens came from (tool and file), for the audit log.
    public var source: String
    public var mode: Mode
    /// Check and report, change nothing.
    public var dryRun: Bool
    public var tokens: [Token]
    /// google-authenticator's one-time scratch codes, 8 digits each.
    public var scratchCodes: [String]

    public init(
        user: String, source: String, mode: Mode = .skip, dryRun: Bool = false, tokens: [Token],
        scratchCodes: [String] = []
    ) {
        self.user = user
        self.source = source
        self.mode = mode
        self.dryRun = dryRun
        self.tokens = tokens
        self.scratchCodes = scratchCodes
    }

    init(reading fields: FieldReader) throws(RequestError) {
        user = try fields.requiredString("user", bytes: 1...ProtocolLimits.maxUserBytes)
        source = try fields.requiredString("source", bytes: 1...Self.maxSourceBytes)
        mode = try fields.choice("mode", of: Mode.self) ?? .skip
        dryRun = try fields.bool("dry_run") ?? false
        let tokenValues = try fields.array("tokens", count: 1...Self.maxTokens) ?? []
        guard !tokenValues.isEmpty else { throw fields.failure("missing required field 'tokens'") }
        var tokens: [Token] = []
        for (i, value) in tokenValues.enumerated() {
            guard case .object(let object) = value else {
                throw fields.failure("field 'tokens' must hold objects (item \(i + 1) is not)")
            }
            let t = FieldReader(object: object, id: fields.id, operation: fields.operation, prefix: "tokens[\(i)].")
            let kind = try t.choice("kind", of: TokenKind.self) ?? .totp
            let token = Token(
                name: try t.requiredString("name", bytes: 1...ProtocolLimits.maxTokenNameBytes),
                kind: kind,
                algorithm: try t.choice("algorithm", of: TokenAlgorithm.self) ?? .sha1,
                digits: try t.integer("digits", in: ProtocolLimits.digits) ?? 6,
                period: try t.integer("period", in: ProtocolLimits.period),
                secret: try t.requiredString("secret", bytes: 1...Self.maxSecretBytes),
                counter: try t.integer("counter", in: 0...Int.max).map(Int64.init),
                watermark: try t.integer("watermark", in: 0...Int.max).map(Int64.init),
                skew: try t.integer("skew", in: -100_000...100_000),
                window: try t.integer("window", in: 0...10))
            if kind == .hotp && token.period != nil { throw t.failure("field 'tokens[\(i)].period' applies only to kind 'totp'") }
            if kind == .totp && token.counter != nil { throw t.failure("field 'tokens[\(i)].counter' applies only to kind 'hotp'") }
            tokens.append(token)
        }
        self.tokens = tokens
        var codes: [String] = []
        for value in try fields.array("scratch_codes", count: 0...Self.maxScratchCodes) ?? [] {
            guard case .string(let code) = value, code.utf8.count == 8, code.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw fields.failure("field 'scratch_codes' must hold strings of exactly 8 digits")
            }
            codes.append(code)
        }
        scratchCodes = codes
    }

    var fields: [String: JSONValue] {
        var f: [String: JSONValue] = [
            "user": .string(user), "source": .string(source), "mode": .string(mode.rawValue),
            "tokens": .array(tokens.map { .object($0.fields) }),
        ]
        if dryRun { f["dry_run"] = .bool(true) }
        if !scratchCodes.isEmpty { f["scratch_codes"] = .array(scratchCodes.map(JSONValue.string)) }
        return f
    }

    public var description: String {
        "admin.import(user: \(user), source: \(source), mode: \(mode.rawValue)\(dryRun ? ", dry run" : ""), "
            + "\(tokens.count) tokens, \(scratchCodes.count) scratch codes, secrets withheld)"
    }
}
