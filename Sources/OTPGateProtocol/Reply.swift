/// One reply of protocol v1: built by the daemon, parsed by clients.
///
/// On the wire it is one JSON object on one line:
/// `{"v":1,"id":"…","ok":true, …result fields}` or
/// `{"v":1,"id":"…","ok":false,"error":"<code>","message":"…"[,"retry_after":N]}`.
public struct Reply: Sendable, Hashable, CustomStringConvertible {
    public enum Outcome: Sendable, Hashable {
        /// The result fields, without the envelope (`v`, `id`, `ok`).
        case success([String: JSONValue])
        case failure(ReplyFailure)
    }

    /// The request's id, echoed; nil when the request had none or it could not be read.
    public var id: String?
    public var outcome: Outcome

    public init(id: String?, outcome: Outcome) {
        self.id = id
        self.outcome = outcome
    }

    /// Members that belong to the envelope; result or extra fields never override them.
    /// (`retry_after` is a result field of `status`, so it is envelope only in failures.)
    static let successEnvelopeKeys: Set<String> = ["v", "id", "ok"]
    static let failureEnvelopeKeys: Set<String> = ["v", "id", "ok", "error", "message", "retry_after"]

    public static func success(id: String?, fields: [String: JSONValue] = [:]) -> Reply {
        Reply(id: id, outcome: .success(fields))
    }

    /// A success carrying a typed result. Should the result fail to encode (it cannot
    /// for the types of this module), the reply is an `internal` failure, never an
    /// empty success.
    public static func success(id: String?, result: some ReplyResult) -> Reply {
        guard case .object(let fields)? = try? JSONValue(encoding: result) else {
            return failure(id: id, code: .internal, message: "result could not be encoded")
        }
        return success(id: id, fields: fields)
    }

    /// A failure; `extra` carries code-specific fields such as `required` for
    /// `not_enrolled`.
    public static func failure(
        id: String?, code: WireErrorCode, message: String, retryAfter: Int? = nil,
        extra: [String: JSONValue] = [:]
    ) -> Reply {
        Reply(
            id: id,
            outcome: .failure(ReplyFailure(code: code, message: message, retryAfter: retryAfter, fields: extra)))
    }

    public var isSuccess: Bool {
        if case .success = outcome { true } else { false }
    }

    /// The whole reply as a JSON object, envelope included.
    public var jsonObject: [String: JSONValue] {
        var object: [String: JSONValue]
        switch outcome {
        case .success(let fields):
            object = fields
            object["ok"] = true
        case .failure(let failure):
            object = failure.fields
            object["ok"] = false
            object["error"] = .string(failure.rawCode)
            object["message"] = .string(failure.message)
            object["retry_after"] = failure.retryAfter.map { .integer(Int64($0)) }
        }
        object["v"] = .integer(Int64(ProtocolLimits.version))
        object["id"] = id.map(JSONValue.string)
        return object
    }

    /// The reply as one line of JSON ending in "\n", keys sorted.
    public var line: String {
        JSONValue.object(jsonObject).jsonText + "\n"
    }

    /// Decodes the result fields of a success into `type`; throws the `ReplyFailure`
    /// for a failure, or a `ReplyDecodingError` when the fields do not fit `type`.
    public func result<R: Decodable>(_ type: R.Type) throws -> R {
        switch outcome {
        case .failure(let failure):
            throw failure
        case .success(let fields):
            do {
                return try JSONValue.object(fields).decode(type)
            } catch {
                throw ReplyDecodingError(.resultMismatch, "reply fields do not match \(R.self): \(error)")
            }
        }
    }

    // Names only, never values: results carry secrets (enroll.begin) and recovery codes.
    public var description: String {
        let prefix = id.map { "[\($0)] " } ?? ""
        switch outcome {
        case .success(let fields):
            return prefix + "ok(" + fields.keys.sorted().joined(separator: ", ") + ")"
        case .failure(let failure):
            return prefix + failure.description
        }
    }
}
