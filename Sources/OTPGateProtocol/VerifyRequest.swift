/// `verify`: is `code` a good second factor for `user` right now?
public struct VerifyRequest: Sendable, Hashable, CustomStringConvertible {
    public var user: String
    /// A one-time code or a recovery code. Its format is the daemon's to judge, so an
    /// empty or malformed code is an `invalid_code`, not a `bad_request`.
    public var code: String
    /// PAM service, remote host and terminal: for the audit log and per-host limits.
    public var service: String?
    public var rhost: String?
    public var tty: String?

    public init(user: String, code: String, service: String? = nil, rhost: String? = nil, tty: String? = nil) {
        self.user = user
        self.code = code
        self.service = service
        self.rhost = rhost
        self.tty = tty
    }

    init(reading fields: FieldReader) throws(RequestError) {
        user = try fields.requiredString("user", bytes: 1...ProtocolLimits.maxUserBytes)
        code = try fields.requiredString("code", bytes: 0...ProtocolLimits.maxCodeBytes)
        service = try fields.string("service", bytes: 0...ProtocolLimits.maxServiceBytes)
        rhost = try fields.string("rhost", bytes: 0...ProtocolLimits.maxRhostBytes)
        tty = try fields.string("tty", bytes: 0...ProtocolLimits.maxTTYBytes)
    }

    var fields: [String: JSONValue] {
        var fields: [String: JSONValue] = ["user": .string(user), "code": .string(code)]
        fields["service"] = service.map(JSONValue.string)
        fields["rhost"] = rhost.map(JSONValue.string)
        fields["tty"] = tty.map(JSONValue.string)
        return fields
    }

    // Interpolating a request into a log line must not leak the code.
    public var description: String {
        "verify(user: \(user), code: <withheld>, service: \(service ?? "-"), rhost: \(rhost ?? "-"), "
            + "tty: \(tty ?? "-"))"
    }
}
