import OTPGateProtocol

/// What the tests read from a reply.
extension Reply {
    /// The `error` code of a failure; nil for a success.
    var error: String? {
        if case .failure(let f) = outcome { f.rawCode } else { nil }
    }

    var failure: ReplyFailure? {
        if case .failure(let f) = outcome { f } else { nil }
    }

    /// `retry_after` of a failure.
    var retryAfter: Int? {
        if case .failure(let f) = outcome { f.retryAfter } else { nil }
    }

    /// The result fields of a success, or the extra fields of a failure (`required`).
    var fields: [String: JSONValue] {
        switch outcome {
        case .success(let fields): fields
        case .failure(let f): f.fields
        }
    }

    subscript(key: String) -> JSONValue? { fields[key] }

    func string(_ key: String) -> String? { fields[key]?.stringValue }
    func int(_ key: String) -> Int64? { fields[key]?.intValue }
    func bool(_ key: String) -> Bool? { fields[key]?.boolValue }
    func array(_ key: String) -> [JSONValue]? { fields[key]?.arrayValue }

    /// The whole reply as sent (re-encoded), for failure messages.
    var text: String {
        String(line.dropLast())
    }
}
