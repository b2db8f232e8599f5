/// `admin.audit`: the newest audit events, optionally of one user and from a time on.
public struct AdminAuditRequest: Sendable, Hashable {
    public var user: String?
    /// Accepted on the wire as an RFC 3339 UTC string or as Unix seconds; sent as RFC 3339.
    public var since: Timestamp?
    public var limit: Int?

    public init(user: String? = nil, since: Timestamp? = nil, limit: Int? = nil) {
        self.user = user
        self.since = since
        self.limit = limit
    }

    init(reading fields: FieldReader) throws(RequestError) {
        user = try fields.string("user", bytes: 1...ProtocolLimits.maxUserBytes)
        since = try fields.time("since")
        limit = try fields.integer("limit", in: ProtocolLimits.auditLimit)
    }

    var fields: [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        fields["user"] = user.map(JSONValue.string)
        fields["since"] = since.map { .string($0.rfc3339) }
        fields["limit"] = limit.map { .integer(Int64($0)) }
        return fields
    }
}
