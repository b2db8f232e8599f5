import OTPGateProtocol
import Testing

/// Every bad `admin.import` and `token.resync` gets a bad_request naming the field.
@Suite("admin.import and token.resync requests")
struct AdminImportRequestTests {
    func message(_ line: String) -> String? {
        do {
            _ = try Request.parse(line: Array(line.utf8))
            return nil
        } catch {
            #expect(error.code == .badRequest)
            return error.message
        }
    }

    static let token = #"{"name":"t","secret":"JBSWY3DPEHPK3PXP"}"#

    @Test func refusals() {
        let cases: [(String, String)] = [
            (#"{"v":1,"op":"admin.import","user":"a","tokens":[\#(Self.token)]}"#, "missing required field 'source'"),
            (#"{"v":1,"op":"admin.import","user":"a","source":"s"}"#, "missing required field 'tokens'"),
            (#"{"v":1,"op":"admin.import","user":"a","source":"s","tokens":[]}"#, "field 'tokens' must be an array of 1 to 16 items"),
            (#"{"v":1,"op":"admin.import","user":"a","source":"s","tokens":[1]}"#, "field 'tokens' must hold objects (item 1 is not)"),
            (#"{"v":1,"op":"admin.import","user":"a","source":"s","tokens":[{"secret":"A"}]}"#, "missing required field 'tokens[0].name'"),
            (#"{"v":1,"op":"admin.import","user":"a","source":"s","tokens":[{"name":"t","secret":"A","digits":9}]}"#,
             "field 'tokens[0].digits' must be an integer from 6 to 8"),
            (#"{"v":1,"op":"admin.import","user":"a","source":"s","tokens":[{"name":"t","secret":"A","kind":"hotp","period":30}]}"#,
             "field 'tokens[0].period' applies only to kind 'totp'"),
            (#"{"v":1,"op":"admin.import","user":"a","source":"s","tokens":[{"name":"t","secret":"A","counter":3}]}"#,
             "field 'tokens[0].counter' applies only to kind 'hotp'"),
            (#"{"v":1,"op":"admin.import","user":"a","source":"s","tokens":[{"name":"t","secret":"A","window":11}]}"#,
             "field 'tokens[0].window' must be an integer from 0 to 10"),
            (#"{"v":1,"op":"admin.import","user":"a","source":"s","mode":"merge","tokens":[\#(Self.token)]}"#,
             "field 'mode' must be one of 'skip', 'replace', 'add'"),
            (#"{"v":1,"op":"admin.import","user":"a","source":"s","dry_run":1,"tokens":[\#(Self.token)]}"#,
             "field 'dry_run' must be true or false"),
            (#"{"v":1,"op":"admin.import","user":"a","source":"s","tokens":[\#(Self.token)],"scratch_codes":["1234567"]}"#,
             "field 'scratch_codes' must hold strings of exactly 8 digits"),
            (#"{"v":1,"op":"token.resync","user":"a"}"#, "missing required field 'codes'"),
            (#"{"v":1,"op":"token.resync","user":"a","codes":["1"]}"#, "field 'codes' must be an array of 2 to 3 items"),
            (#"{"v":1,"op":"token.resync","user":"a","codes":[1,2]}"#, "field 'codes' must hold strings of at most 64 bytes"),
        ]
        for (line, expected) in cases {
            let got = message(line)
            #expect(got?.contains(expected) == true, "\(line): \(got ?? "accepted")")
            #expect(got?.contains("JBSWY3DP") != true)
        }
    }
}
