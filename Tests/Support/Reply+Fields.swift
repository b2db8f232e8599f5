package import OTPGateProtocol

/// What the tests read from a reply.
extension Reply {
    /// The `error` code of a failure; nil for a success.
    package var error: String? {
        if case .failure(let f) = outcome { f.rawCode } else { nil }
    }

    package var failure: ReplyFailure? {
        if case .failure(let f) = outcome { f } else { nil }
    }

    /// `retry_after` of a failure.
    package var retryAfter: Int? {
        if case .failure(let f) = outcome { f.retryAfter } else { nil }
    }

    /// The result fields of a success, or the extra fields of a failure (`required`).
    package var fields: [String: JSONValue] {
        switch outcome {
        case .success(let fields): fields
        case .failure(let f): f.fields
        }
    }

    package subscript(key: String) -> JSONValue? { fields[key] }

    package func string(_ key: String) -> String? { fields[key]?.stringValue }
    package func int(_ key: String) -> Int64? { fields[key]?.intValue }
    package func bool(_ key: String) -> Bool? { fields[key]?.boolValue }
    package func array(_ key: String) -> [JSONValue]? { fields[key]?.arrayValue }

    /// The whole reply as sent (re-encoded), for failure messages.
    package var text: String {
        String(line.dropLast())
    }
}
