/// `verify.candidates`: is one of `codes` a good second factor for `user` now?
///
/// For a password and a code typed as one string (the PAM module's `forward_pass`):
/// the module cannot tell where the password ends, so it sends each tail of the
/// string that has the shape of a code, and the daemon evaluates them as **one**
/// attempt: the first that matches wins and names its index, and if none does, one
/// failure is counted, not one per way of splitting.
public struct VerifyCandidatesRequest: Sendable, Hashable, CustomStringConvertible {
    /// At most this many candidates: 6, 7 and 8 digits, and one recovery code.
    public static let maxCandidates = 4

    public var user: String
    public var codes: [String]
    public var service: String?
    public var rhost: String?
    public var tty: String?

    public init(user: String, codes: [String], service: String? = nil, rhost: String? = nil, tty: String? = nil) {
        self.user = user
        self.codes = codes
        self.service = service
        self.rhost = rhost
        self.tty = tty
    }

    init(reading fields: FieldReader) throws(RequestError) {
        user = try fields.requiredString("user", bytes: 1...ProtocolLimits.maxUserBytes)
        codes = try fields.requiredStrings(
            "codes", count: 1...Self.maxCandidates, bytes: 0...ProtocolLimits.maxCodeBytes)
        service = try fields.string("service", bytes: 0...ProtocolLimits.maxServiceBytes)
        rhost = try fields.string("rhost", bytes: 0...ProtocolLimits.maxRhostBytes)
        tty = try fields.string("tty", bytes: 0...ProtocolLimits.maxTTYBytes)
    }

    var fields: [String: JSONValue] {
        var fields: [String: JSONValue] = ["user": .string(user), "codes": .array(codes.map(JSONValue.string))]
        fields["service"] = service.map(JSONValue.string)
        fields["rhost"] = rhost.map(JSONValue.string)
        fields["tty"] = tty.map(JSONValue.string)
        return fields
    }

    // Interpolating a request into a log line must not leak the codes.
    public var description: String {
        "verify.candidates(user: \(user), codes: <\(codes.count) withheld>, service: \(service ?? "-"), "
            + "rhost: \(rhost ?? "-"), tty: \(tty ?? "-"))"
    }
}
