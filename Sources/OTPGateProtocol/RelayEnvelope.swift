/// One request as a relay forwards it to the verifier tier over the relay link
/// (docs/RELAY.md): the local caller the relay's host vouches for, and the protocol v1
/// request as that caller sent it. The tier answers with the v1 reply line, unchanged.
///
/// On the wire, one line of JSON:
/// `{"relay":1,"caller":{"uid":1000,"user":"alice","privileged":false},"request":{…}}`.
/// Who the relay is never travels in the line: the tier takes it from the relay's TLS
/// certificate.
public struct RelayEnvelope: Sendable, Hashable {
    /// The link's version, in `relay`; a tier refuses any other.
    public static let version = 1
    /// The longest envelope line: a request line and room for the caller around it.
    public static let maxLineBytes = ProtocolLimits.maxRequestLineBytes + 1024

    public var caller: RelayCaller
    public var request: Request

    public init(caller: RelayCaller, request: Request) {
        self.caller = caller
        self.request = request
    }

    /// The envelope as one line ending in "\n", keys sorted.
    public var line: String {
        var callerObject: [String: JSONValue] = [
            "uid": .integer(Int64(caller.uid)), "privileged": .bool(caller.privileged),
        ]
        callerObject["user"] = caller.user.map(JSONValue.string)
        var requestObject = request.payload.fields
        requestObject["v"] = .integer(Int64(ProtocolLimits.version))
        requestObject["op"] = .string(request.operation.rawValue)
        requestObject["id"] = request.id.map(JSONValue.string)
        let object: [String: JSONValue] = [
            "relay": .integer(Int64(Self.version)), "caller": .object(callerObject), "request": .object(requestObject),
        ]
        return JSONValue.object(object).jsonText + "\n"
    }

    /// Parses one envelope line (without its "\n"). Every error closes the link's
    /// connection: a relay that sends a malformed envelope is broken or hostile, and
    /// nothing after it can be trusted to be framed. A well-formed envelope whose
    /// request fails v1's checks throws that request's own error (which closes only
    /// when v1 says so), so the caller gets the same answer as on a single host.
    public static func parse(line: some Collection<UInt8>) throws(RequestError) -> RelayEnvelope {
        guard line.count <= maxLineBytes else {
            throw RequestError(.badRequest, "relay envelope exceeds \(maxLineBytes) bytes", closesConnection: true)
        }
        guard Request.isValidUTF8(line) else { throw broken("relay envelope is not valid UTF-8") }
        let value: JSONValue
        do { value = try JSONValue.parse(line) } catch { throw broken("relay envelope is not valid JSON") }
        guard case .object(let object) = value else { throw broken("relay envelope must be a JSON object") }
        guard case .integer(let version)? = object["relay"], version == Int64(Self.version) else {
            throw broken("relay envelope must have 'relay': \(Self.version)")
        }
        guard case .object(let callerObject)? = object["caller"] else {
            throw broken("relay envelope needs a 'caller' object")
        }
        let caller = try RelayCaller(callerObject)
        guard case .object(let requestObject)? = object["request"] else {
            throw broken("relay envelope needs a 'request' object")
        }
        return RelayEnvelope(caller: caller, request: try Request.parse(object: requestObject))
    }

    static func broken(_ message: String) -> RequestError {
        RequestError(.badRequest, message, closesConnection: true)
    }
}

/// The local caller a relay vouches for: what its host's kernel and user database
/// say about the connection the request came in on. The tier trusts it for that
/// relay's host only.
public struct RelayCaller: Sendable, Hashable {
    /// The caller's uid on the relay's host.
    public var uid: UInt32
    /// Its login name there, if it has one: the user it may act on by itself.
    public var user: String?
    /// uid 0, the relay daemon's uid, or a member of the verify group on that host:
    /// may verify and query any user, as on a single host's public socket.
    public var privileged: Bool

    public init(uid: UInt32, user: String?, privileged: Bool) {
        self.uid = uid
        self.user = user
        self.privileged = privileged
    }

    init(_ object: [String: JSONValue]) throws(RequestError) {
        guard case .integer(let uid)? = object["uid"], uid >= 0, uid <= Int64(UInt32.max) else {
            throw RelayEnvelope.broken("relay caller needs 'uid', an integer from 0 to \(UInt32.max)")
        }
        guard case .bool(let privileged)? = object["privileged"] else {
            throw RelayEnvelope.broken("relay caller needs 'privileged', true or false")
        }
        var user: String?
        switch object["user"] {
        case nil, .null?: user = nil
        case .string(let name)?
        where (1...ProtocolLimits.maxUserBytes).contains(name.utf8.count) && !name.containsControlCharacters:
            user = name
        case .some:
            throw RelayEnvelope.broken(
                "relay caller's 'user' must be a string of 1-\(ProtocolLimits.maxUserBytes) bytes without control characters")
        }
        self.init(uid: UInt32(uid), user: user, privileged: privileged)
    }
}
