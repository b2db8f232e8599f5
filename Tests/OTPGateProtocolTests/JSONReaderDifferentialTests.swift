import Foundation
import OTPGateProtocol
import Testing

/// JSONReader and JSONWriter against the Foundation path they replaced
/// (`FoundationJSONOracle`): on the same inputs, the same verdict (refused, or the
/// same value) and byte-identical text out. Inputs: request and reply lines of every
/// kind, hostile texts, generated documents, random byte strings, every prefix of
/// valid lines (truncation), deep nesting, big numbers, escapes, invalid UTF-8,
/// duplicate keys. Random inputs come from a fixed seed, so a failure repeats.
@Suite("JSON reader and writer against JSONDecoder/JSONEncoder")
struct JSONReaderDifferentialTests {
    /// More rounds and another seed for a longer hunt:
    /// OTPGATE_JSON_FUZZ_SCALE=20 OTPGATE_JSON_FUZZ_SEED=7 swift test --filter JSONReaderDifferential
    static let scale = Int(ProcessInfo.processInfo.environment["OTPGATE_JSON_FUZZ_SCALE"] ?? "") ?? 1
    static let seed = UInt64(ProcessInfo.processInfo.environment["OTPGATE_JSON_FUZZ_SEED"] ?? "") ?? 0

    // MARK: - The comparison

    /// Where the two may differ by design (see JSONReader): text with a NUL byte
    /// (JSONDecoder read UTF-16 and UTF-32), which the reader must refuse.
    static func compare(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        let new = try? JSONValue.parse(bytes)
        if bytes.contains(0) {
            #expect(new == nil, "a text with a NUL byte must be refused: \(show(bytes))", sourceLocation: sourceLocation)
            return
        }
        let old = FoundationJSONOracle.parse(bytes)
        #expect(new == old, "verdicts differ on \(show(bytes)): old \(String(describing: old)), new \(String(describing: new))", sourceLocation: sourceLocation)
        if let new, let old, new == old {
            #expect(new.jsonText == FoundationJSONOracle.text(old), "text differs for \(show(bytes))", sourceLocation: sourceLocation)
        }
    }

    static func show(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes.prefix(120), as: UTF8.self).debugDescription
        return bytes.count > 120 ? text + "… (\(bytes.count) bytes)" : text
    }

    // MARK: - Fixed inputs

    static let requests: [String] = [
        #"{"v":1,"op":"verify","user":"alice","code":"123456"}"#,
        #"{"v":1,"id":"r-1","op":"verify","user":"alice","code":"123 456","service":"sshd","rhost":"10.0.0.1","tty":"pts/0"}"#,
        #"{"v":1,"op":"status","user":"alice"}"#,
        #"{"v":1,"op":"enroll.begin","user":"bob","name":"phone","kind":"totp","algorithm":"SHA256","digits":8,"period":60}"#,
        #"{"v":1,"op":"enroll.confirm","user":"bob","enrollment":"01hzx0000000000000000000000","code":"12345678"}"#,
        #"{"v":1,"op":"enroll.cancel","user":"bob","enrollment":"01hzx0000000000000000000000"}"#,
        #"{"v":1,"op":"token.remove","user":"bob","token":"abcdefghijklmnop","code":"123456"}"#,
        #"{"v":1,"op":"recovery.regenerate","user":"bob","code":"123456"}"#,
        #"{"v":1,"op":"health"}"#,
        #"{"v":1,"op":"admin.list"}"#,
        #"{"v":1,"op":"admin.reset","user":"bob"}"#,
        #"{"v":1,"op":"admin.unlock","user":"bob"}"#,
        #"{"v":1,"op":"admin.audit","user":"bob","since":"2026-11-21T15:40:46Z","limit":50}"#,
        #"{"v":1,"op":"admin.rekey"}"#,
        #"{"v":2,"op":"verify"}"#, #"{"op":"verify"}"#, #"{"v":"1","op":"health"}"#, #"{"v":1.0,"op":"health"}"#,
        #"{"v":1,"op":"nope"}"#, #"{"v":1,"op":"verify","user":"a","code":123456}"#, #"[]"#, #""just a string""#, "42",
        #"{"v":1,"op":"verify","user":"al\u0000ice","code":"1"}"#, #"{"v":1,"op":"verify","user":"\ud83d\ude00","code":"1"}"#,
        #"  {"v":1,"op":"health"}  "# + "\r",
    ]

    static let replies: [String] = [
        #"{"factor":"totp","id":"r-1","ok":true,"recovery_remaining":10,"token":"phone","v":1}"#,
        #"{"error":"rate_limited","message":"too many failures; try again later","ok":false,"retry_after":30,"v":1}"#,
        #"{"error":"not_enrolled","message":"user has no token","ok":false,"required":false,"v":1}"#,
        #"{"enrolled":true,"ok":true,"recovery_remaining":3,"required":true,"tokens":[{"algorithm":"SHA1","created_at":"2026-11-21T15:40:46Z","digits":6,"id":"abcdefghijklmnop","kind":"totp","last_used_at":null,"name":"phone","period":30}],"user":"alice","v":1}"#,
        #"{"clock_synced":true,"ok":true,"store":"ok","uptime":12,"v":1,"version":"1.0.0"}"#,
        #"{"ok":true,"secret":"JBSWY3DPEHPK3PXP","uri":"otpauth://totp/otpgate:bob?secret=JBSWY3DPEHPK3PXP&issuer=otpgate","v":1}"#,
    ]

    static let hostile: [String] = [
        "", " ", "{", "}", "[", "]", "{]", "[}", "{}", "[]", "{}x", "[]]", "{,}", "[,]", "[1,]", #"{"a":1,}"#, #"{"a":1,,}"#,
        "[1,,2]", #"{"a" 1}"#, #"{"a":}"#, "{1:2}", "[1 2]", #"{"a":1 "b":2}"#, #"{"a":1, }"#, "[1 , ]", "[ , 1]",
        "01", "-01", "-", "+1", ".5", "1.", "1e", "1e+", "1E2", "1e+2", "-0", "-0.0", "0e0", "00", "-00", "0x1", "NaN",
        "Infinity", "-Infinity", "1.5e", "0.0e-0", "2.5E+3", "12e-1", "100e-2", "0.5e1", "1.25e2",
        "1e400", "-1e400", "1E400", "1e-400", "2e-324", "4.9e-324", "5e-324", "1e308", "1.7976931348623157e308",
        "1.7976931348623159e308", "6.0", "1e2", "1.0000000000000001", "0.99999999999999999",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        "9223372036854775807.0", "-9223372036854775808.0", "9.2233720368547758e18", "123456789012345678901234567890",
        "1e19", "1.0e19", "9007199254740991.0", "9007199254740992.0", "9007199254740993.0", "9007199254740993",
        "1e16", "1.5e16", "-1.5e16", "1e17", "12345678901234567e1", "9223372036854775295.0", "9223372036854775296.0",
        "-9223372036854775807.0", "90071992547409930000000000000000000000000000000000e-34", "[1.0,-0.0]",
        "tru", "nul", "fals", "true ", " true", "truex", "[true,false,null]", "TRUE", "Null",
        #""\"#, #""\""#, #""\\""#, #""\/""#, #""\x""#, #""\U0041""#, #""\u00e9""#, #""\u00E9""#, #""\u0000""#,
        #""\ud800""#, #""\udc00""#, #""\ud83d\ude00""#, #""\ud83d\u0041""#, #""\ud83d"x"#, #""\ud83d\""#, #""\u12""#,
        #""\u12g4""#, #""\uD83D\uDE00""#, "\"\t\"", "\"\n\"", "\"\u{7f}\"", "\"\u{2028}\"", "\"é\"", "\"e\u{301}\"",
        #"{"a":1,"a":2}"#, #"{"a":{"x":1},"a":2}"#, "{\"é\":1,\"e\u{301}\":2}", #"{"":1}"#, #"{"a":1,"b":[1,{"a":2,"a":3}]}"#,
        "\u{feff}1", "\u{feff}\u{feff}1", " \u{feff}1", "\u{a0}1", "\t\n\r 1", "\u{0b}1", "\u{0c}1",
        #"{"v":1,"op":"verify","user":"alice","code":"123456"}"# + "\n" + #"{"v":1}"#,
    ]

    @Test func requestAndReplyLines() {
        for line in Self.requests + Self.replies { Self.compare(Array(line.utf8)) }
    }

    @Test func hostileTexts() {
        for text in Self.hostile { Self.compare(Array(text.utf8)) }
    }

    @Test func everyPrefixOfValidLines() {
        for line in Self.requests + Self.replies {
            let bytes = Array(line.utf8)
            for n in 0...bytes.count { Self.compare(Array(bytes.prefix(n))) }
        }
    }

    @Test func deepNesting() {
        for n in [1, 2, 100, 510, 511, 512, 513, 514, 1000] {
            Self.compare(Array((String(repeating: "[", count: n) + String(repeating: "]", count: n)).utf8))
            Self.compare(Array((String(repeating: #"{"a":"#, count: n) + "1" + String(repeating: "}", count: n)).utf8))
            Self.compare(Array((String(repeating: #"[{"a":"#, count: n / 2) + "1" + String(repeating: "}]", count: n / 2)).utf8))
            Self.compare(Array((String(repeating: "[", count: n) + String(repeating: "]", count: n - 1)).utf8))
        }
    }

    @Test func invalidUTF8() {
        let bad: [[UInt8]] = [
            [0xFF], [0xC3], [0xC3, 0x28], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF],
            [0xF8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xE0, 0x80, 0xAF],
        ]
        for b in bad {
            Self.compare([0x22] + b + [0x22])
            Self.compare(Array(#"{"a":""#.utf8) + b + Array(#""}"#.utf8))
            Self.compare(Array(#"{""#.utf8) + b + Array(#"":1}"#.utf8))
            Self.compare(Array(#"["\n"#.utf8) + b + Array(#""]"#.utf8))
            Self.compare(b + Array("1".utf8))
        }
    }

    /// JSONDecoder read UTF-16 and UTF-32 text (a request line in UTF-16 is valid
    /// UTF-8, so it reached the parser); the reader refuses it. Shown on purpose, so
    /// the difference is known: the old path accepted these.
    @Test func utf16And32AreRefusedWhereTheOldPathAcceptedThem() {
        let utf16le: [UInt8] = Array(#"{"a":1}"#.utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let utf16be: [UInt8] = [0xFE, 0xFF] + Array(#"{"a":1}"#.utf16).flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        for text in [utf16le, utf16be, [0x31, 0x00]] {
            #expect(FoundationJSONOracle.parse(text) != nil, "the old path read it")
            #expect((try? JSONValue.parse(text)) == nil)
        }
    }

    /// A number JSONDecoder stopped the process on (a trap in its Decimal slow path
    /// for Int64), so a request line carrying it crashed the daemon. The reader reads
    /// it exactly. (Not given to the oracle: it would stop the test run.)
    @Test func numberThatStoppedJSONDecoder() throws {
        let number = "0." + String(repeating: "0", count: 150) + "9007199254740993e166"
        #expect(try JSONValue.parse(Array(number.utf8)) == .integer(9_007_199_254_740_993))
        let line = #"{"v":1,"op":"health","x":"# + number + "}"
        #expect(throws: Never.self) { try Request.parse(line: Array(line.utf8)) }
    }

    // MARK: - Generated inputs

    @Test func generatedDocuments() {
        var random = SplitMix64(seed: 0x6F74_7067_6174_6501 ^ Self.seed)
        for _ in 0..<(4000 * Self.scale) {
            var text = ""
            Self.document(&random, depth: 0, into: &text)
            Self.compare(Array(text.utf8))
        }
    }

    @Test func mutatedLines() {
        var random = SplitMix64(seed: 0x6F74_7067_6174_6502 ^ Self.seed)
        let seeds = (Self.requests + Self.replies + Self.hostile).map { Array($0.utf8) }
        let alphabet = Array(#"{}[]",:0123456789-+.eE \tn\\u"#.utf8) + [0x0A, 0x0D, 0x00, 0x7F, 0xC3, 0xA9, 0xFF, 0xED, 0xA0]
        for _ in 0..<(8000 * Self.scale) {
            var bytes = seeds[Int(random.next() % UInt64(seeds.count))]
            for _ in 0..<(1 + random.next() % 4) {
                let at = bytes.isEmpty ? 0 : Int(random.next() % UInt64(bytes.count))
                let b = random.next() % 3 == 0 ? UInt8(truncatingIfNeeded: random.next()) : alphabet[Int(random.next() % UInt64(alphabet.count))]
                switch random.next() % 4 {
                case 0 where !bytes.isEmpty: bytes[at] = b
                case 1: bytes.insert(b, at: at)
                case 2 where !bytes.isEmpty: bytes.remove(at: at)
                default: bytes = Array(bytes.prefix(at))
                }
            }
            Self.compare(bytes)
        }
    }

    @Test func randomBytes() {
        var random = SplitMix64(seed: 0x6F74_7067_6174_6503 ^ Self.seed)
        let alphabet = Array(#"{}[]",:0123456789-.eE tfalsenru\"#.utf8)
        for _ in 0..<(6000 * Self.scale) {
            let n = Int(random.next() % 24)
            let bytes = (0..<n).map { _ in
                random.next() % 8 == 0 ? UInt8(truncatingIfNeeded: random.next()) : alphabet[Int(random.next() % UInt64(alphabet.count))]
            }
            Self.compare(bytes)
        }
    }

    /// The writer alone, on values no parser produces as easily: every control
    /// character, all kinds of numbers, keys that sort by their bytes.
    @Test func writerOnGeneratedValues() {
        var random = SplitMix64(seed: 0x6F74_7067_6174_6504 ^ Self.seed)
        for _ in 0..<(3000 * Self.scale) {
            let value = Self.value(&random, depth: 0)
            #expect(value.jsonText == FoundationJSONOracle.text(value), "text differs for \(value)")
        }
        let specials: [JSONValue] = [
            .number(.infinity), .number(-.infinity), .number(.nan), .number(-0.0), .number(1e15), .number(1e16),
            .number(9_007_199_254_740_992), .number(0.1), .number(1e-5), .number(.leastNonzeroMagnitude), .number(.greatestFiniteMagnitude),
            .integer(.min), .integer(.max), .string(String(decoding: (0..<128).map { UInt8($0) }, as: UTF8.self)),
            .object(["Z": 1, "a": 2, "_": 3, "é": 4, "e": 5, "10": 6, "9": 7, "": 8]),
        ]
        for value in specials {
            #expect(value.jsonText == FoundationJSONOracle.text(value), "text differs for \(value)")
        }
        for n in [510, 511, 512, 600] {
            var v = JSONValue.null
            var o = JSONValue.null
            for _ in 0..<n {
                v = .array([v])
                o = .object(["k": o])
            }
            #expect(v.jsonText == FoundationJSONOracle.text(v), "depth \(n)")
            #expect(o.jsonText == FoundationJSONOracle.text(o), "depth \(n)")
        }
    }

    /// Replies as the daemon writes them: the same bytes as before.
    @Test func replyLinesByteIdentical() {
        let replies: [Reply] = [
            .success(id: "r1", fields: ["factor": "totp", "token": "phone", "recovery_remaining": 9]),
            .success(id: nil),
            .failure(id: "x\"\n\u{1}/", code: .invalidCode, message: "the code is not valid"),
            .failure(id: nil, code: .rateLimited, message: "too many failures; try again later", retryAfter: 30),
            .failure(id: nil, code: .notEnrolled, message: "user has no token", extra: ["required": true]),
            .success(id: "é", fields: ["tokens": [["id": "abc", "period": nil, "digits": 6]], "user": "al ice"]),
        ]
        for reply in replies {
            #expect(reply.line == FoundationJSONOracle.text(.object(reply.jsonObject)) + "\n")
        }
    }

    /// `JSONValue(encoding:)` (JSONValueEncoder) against the JSONEncoder → JSONDecoder
    /// round trip it replaced, on every result type and on generated values.
    @Test func encodingMatchesTheRoundTrip() {
        func check(_ value: some Encodable, sourceLocation: SourceLocation = #_sourceLocation) {
            let new = try? JSONValue(encoding: value)
            #expect(new == FoundationJSONOracle.roundTrip(value), "\(value)", sourceLocation: sourceLocation)
        }
        let t = Timestamp(unixSeconds: 1_764_000_000)
        check(VerifyResult(factor: .totp, token: "phone", recoveryRemaining: 9))
        check(VerifyResult(factor: .recovery, token: nil, recoveryRemaining: 0))
        check(StatusResult(user: "alice", enrolled: true, required: true, tokens: [
            .init(id: "abcdefghijklmnop", name: "phone", kind: .totp, algorithm: .sha256, digits: 8, period: 30, createdAt: t, lastUsedAt: nil),
            .init(id: "bbcdefghijklmnop", name: "key", kind: .hotp, algorithm: .sha1, digits: 6, period: nil, createdAt: t, lastUsedAt: t),
        ], recoveryRemaining: 3, retryAfter: 12))
        check(StatusResult(user: "bob", enrolled: false, required: false, tokens: [], recoveryRemaining: 0))
        check(EnrollBeginResult(enrollment: "01hzx", secret: "JBSWY3DPEHPK3PXP", uri: "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP", expiresAt: t))
        check(EnrollConfirmResult(token: "abc", name: "phone", recoveryCodes: ["aaaa-bbbb", "cccc-dddd"]))
        check(EnrollConfirmResult(token: "abc", name: "phone"))
        check(HealthResult(version: "1.0", uptime: 5, clockSynced: false, store: "ok"))
        check(AdminListResult(users: [.init(user: "a", tokens: 1, recoveryRemaining: 2, failures: 3, lockedUntil: t, lockedOut: true, lastUsedAt: nil)]))
        check(AdminAuditResult(events: [.init(time: t, event: "verify.ok", user: "a", peerUID: 0, service: "sshd", rhost: nil, detail: "d")]))
        check(AdminRekeyResult(keyID: "0011aabb", secrets: 4))
        check(RecoveryRegenerateResult(recoveryCodes: []))
        check(TokenRemoveResult(enrolled: false))
        check([1.5, 2.0, -0.0, 1e16, 1e300])
        check([Double.nan])
        check([UInt64.max])
        check(["a": [String?.none, "x"]])
        var random = SplitMix64(seed: 0x6F74_7067_6174_6505 ^ Self.seed)
        for _ in 0..<(2000 * Self.scale) { check(Self.value(&random, depth: 0)) }
    }

    // MARK: - Generators

    static let stringPieces: [String] = [
        "a", "Z", "_", " ", "é", "e\u{301}", "😀", "\u{2028}", "\u{7f}", "/", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r",
        "\\t", "\\u0000", "\\u001f", "\\u00e9", "\\uD83D\\uDE00", "\\ud800", "\\udc00", "\\u20AC", "\\x", "\u{1}", "\t", "1",
    ]

    static let numberPieces: [String] = [
        "0", "-0", "1", "-1", "6.0", "1e2", "1E-2", "0.5", "-0.0", "1.5e300", "1e400", "9223372036854775807",
        "9223372036854775808", "-9223372036854775809", "1.0000000000000001", "1e16", "12345.678e-3", "9007199254740993.0",
        "01", "1.", ".1", "-", "2e-324", "123456789012345678901234567890",
    ]

    static func document(_ r: inout SplitMix64, depth: Int, into out: inout String) {
        func ws() { if r.next() % 4 == 0 { out += [" ", "\t", "\n", "\r", "  "][Int(r.next() % 5)] } }
        ws()
        let choice = depth > 4 ? 2 + r.next() % 5 : r.next() % 7
        switch choice {
        case 0:
            out += "{"
            let n = Int(r.next() % 4)
            for i in 0..<n {
                if i > 0 { out += "," }
                ws()
                out += "\"" + (r.next() % 3 == 0 ? "k" : string(&r)) + "\""
                ws()
                out += ":"
                document(&r, depth: depth + 1, into: &out)
            }
            if n > 0 && r.next() % 8 == 0 { out += "," }
            ws()
            out += "}"
        case 1:
            out += "["
            let n = Int(r.next() % 4)
            for i in 0..<n {
                if i > 0 { out += "," }
                document(&r, depth: depth + 1, into: &out)
            }
            if n > 0 && r.next() % 8 == 0 { out += "," }
            ws()
            out += "]"
        case 2, 3: out += "\"" + string(&r) + "\""
        case 4: out += numberPieces[Int(r.next() % UInt64(numberPieces.count))]
        case 5: out += ["true", "false", "null"][Int(r.next() % 3)]
        default: out += number(&r)
        }
        ws()
    }

    static func string(_ r: inout SplitMix64) -> String {
        (0..<(r.next() % 5)).map { _ in stringPieces[Int(r.next() % UInt64(stringPieces.count))] }.joined()
    }

    /// A random number spelling: sign, digits, fraction, exponent.
    static func number(_ r: inout SplitMix64) -> String {
        var s = r.next() % 3 == 0 ? "-" : ""
        let digits = 1 + Int(r.next() % 20)
        s += String(1 + r.next() % 9) + (1..<digits).map { _ in String(r.next() % 10) }.joined()
        if r.next() % 2 == 0 { s += "." + (0..<(1 + r.next() % 6)).map { _ in String(r.next() % 10) }.joined() }
        if r.next() % 2 == 0 { s += ["e", "E", "e+", "e-"][Int(r.next() % 4)] + String(r.next() % 30) }
        return s
    }

    static func value(_ r: inout SplitMix64, depth: Int) -> JSONValue {
        switch depth > 3 ? 2 + r.next() % 5 : r.next() % 7 {
        case 0:
            var object: [String: JSONValue] = [:]
            for _ in 0..<(r.next() % 5) {
                let key = String(decoding: (0..<(r.next() % 4)).map { _ in UInt8(truncatingIfNeeded: r.next() % 0x80) }, as: UTF8.self)
                object[key + ["", "é", "😀", "\u{2028}"][Int(r.next() % 4)]] = value(&r, depth: depth + 1)
            }
            return .object(object)
        case 1: return .array((0..<(r.next() % 4)).map { _ in value(&r, depth: depth + 1) })
        case 2: return .string(String(decoding: (0..<(r.next() % 8)).map { _ in UInt8(truncatingIfNeeded: r.next() % 0x80) }, as: UTF8.self))
        case 3: return .integer(Int64(bitPattern: r.next()) >> Int64(r.next() % 64))
        case 4: return .number(Double(bitPattern: r.next()))
        case 5: return .number(Double(Int64(bitPattern: r.next()) >> 20) / Double(1 << (r.next() % 40)))
        default: return [.null, .bool(true), .bool(false)][Int(r.next() % 3)]
        }
    }
}

/// A small seeded generator (splitmix64), so random inputs repeat run to run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
