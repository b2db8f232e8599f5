/// `verify.precheck`: does `user` need to type a code for this login?
///
/// Read-only, with the authorization of `verify`. The PAM module asks it only where
/// the admin chose `nullok` or a grace period, the cases in which a user who needs no
/// code is not prompted (everywhere else it always prompts, so that enrolment state
/// does not show).
public struct VerifyPrecheckRequest: Sendable, Hashable {
    /// The longest grace period a request may ask for: one day.
    public static let maxGracePeriod = 86_400

    public var user: String
    public var service: String?
    public var rhost: String?
    public var tty: String?
    /// Seconds after a successful code from `rhost` within which this login needs no
    /// code; 0 (the default) asks for no grace.
    public var gracePeriod: Int

    public init(user: String, service: String? = nil, rhost: String? = nil, tty: String? = nil, gracePeriod: Int = 0) {
        self.user = user
        self.service = service
        self.rhost = rhost
        self.tty = tty
        self.gracePeriod = gracePeriod
    }

    init(reading fields: FieldReader) throws(RequestError) {
        user = try fields.requiredString("user", bytes: 1...ProtocolLimits.maxUserBytes)
        service = try fields.string("service", bytes: 0...ProtocolLimits.maxServiceBytes)
        rhost = try fields.string("rhost", bytes: 0...ProtocolLimits.maxRhostBytes)
        tty = try fields.string("tty", bytes: 0...ProtocolLimits.maxTTYBytes)
        gracePeriod = try fields.integer("grace_period", in: 0...Self.maxGracePeriod) ?? 0
    }

    var fields: [String: JSONValue] {
        var fields: [String: JSONValue] = ["user": .string(user)]
        fields["service"] = service.map(JSONValue.string)
        fields["rhost"] = rhost.map(JSONValue.string)
        fields["tty"] = tty.map(JSONValue.string)
        if gracePeriod != 0 { fields["grace_period"] = .integer(Int64(gracePeriod)) }
        return fields
    }
}
