import OTPGateProtocol
import Testing

@Suite("RFC 3339")
struct RFC3339Tests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00Z"),
        (1_795_275_646, "2026-11-21T15:40:46Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (4_107_542_399, "2100-02-28T23:59:59Z"),
        (-1, "1969-12-31T23:59:59Z"),
        (20_000_000_000, "2603-10-11T11:33:20Z"),
        (RFC3339.minSeconds, "0001-01-01T00:00:00Z"),
        (RFC3339.maxSeconds, "9999-12-31T23:59:59Z"),
    ])
    func formatsAndParses(seconds: Int64, text: String) {
        #expect(RFC3339.format(seconds) == text)
        #expect(RFC3339.parse(text) == seconds)
    }

    @Test func roundTripsEveryDayForCenturies() {
        var seconds: Int64 = -2_208_988_800  // 1900-01-01
        while seconds < 7_258_118_400 {  // 2200-01-01
            #expect(RFC3339.parse(RFC3339.format(seconds)) == seconds)
            seconds += 86_400 + 3_661
        }
    }

    @Test func formatClampsToFourDigitYears() {
        #expect(RFC3339.format(.max) == "9999-12-31T23:59:59Z")
        #expect(RFC3339.format(.min) == "0001-01-01T00:00:00Z")
    }

    @Test(arguments: [
        "", "2026-11-21", "2026-11-21T15:40:46", "2026-11-21T15:40:46z", "2026-11-21t15:40:46Z",
        "2026-11-21 15:40:46Z", "2026-11-21T15:40:46.5Z", "2026-11-21T15:40:46+00:00", "2026-11-21T15:40:46+01:00",
        "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-11-21T24:00:00Z", "2026-11-21T23:60:00Z", "2016-12-31T23:59:60Z",
        "0000-01-01T00:00:00Z", "+026-11-21T15:40:46Z", "2026-11-2aT15:40:46Z", " 2026-11-21T15:40:46Z",
        "２026-11-21T15:40:46Z",
    ])
    func rejectsAnythingElse(text: String) {
        #expect(RFC3339.parse(text) == nil)
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test func leapDaysAreAccepted() {
        #expect(RFC3339.parse("2024-02-29T12:00:00Z") != nil)
        #expect(RFC3339.parse("2000-02-29T12:00:00Z") != nil)
    }
}
