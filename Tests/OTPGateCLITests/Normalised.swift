import Foundation
import OTPGateProtocol
import OTPGateTestSupport

/// Output with its times taken out, so that it can be compared exactly.
struct Normalised {
    /// The text with every RFC 3339 time replaced by `YYYY-MM-DDTHH:MM:SSZ`, which has
    /// the same width, so table columns stay aligned as printed.
    let text: String
    /// The times that were replaced, in order.
    let times: [Timestamp]

    static let placeholder = "YYYY-MM-DDTHH:MM:SSZ"

    init(_ output: String) {
        let pattern = #/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z/#
        times = output.matches(of: pattern).map { Timestamp(rfc3339: String($0.output)) ?? Timestamp(unixSeconds: -1) }
        text = output.replacing(pattern, with: Self.placeholder)
    }

    /// Whether every time lies in `range` (seconds since the epoch).
    func timesAreWithin(_ range: ClosedRange<Int64>) -> Bool {
        times.allSatisfy { range.contains($0.unixSeconds) }
    }
}

/// Now, in Unix seconds.
func unixNow() -> Int64 { Int64(Date().timeIntervalSince1970) }
