/// The result of `admin.audit`: events oldest first.
public struct AdminAuditResult: ReplyResult, Hashable {
    /// One audit record. Never holds a code, secret, recovery code or URI.
    public struct Event: Codable, Sendable, Hashable {
        public var time: Timestamp
        /// What happened, e.g. `verify.accepted`.
        public var event: String
        public var user: String?
        /// The uid of the peer that asked, from SO_PEERCRED.
        public var peerUID: Int64?
        public var service: String?
        public var rhost: String?
        public var detail: String?
        /// The relay the request came through, as the tier read it from the relay's
        /// TLS certificate (never from the request); absent for a local caller.
        public var relay: String?

        public init(
            time: Timestamp, event: String, user: String? = nil, peerUID: Int64? = nil, service: String? = nil,
            rhost: String? = nil, detail: String? = nil, relay: String? = nil
        ) {
            self.relay = relay
            self.time = time
            self.event = event
            self.user = user
            self.peerUID = peerUID
            self.service = service
            self.rhost = rhost
            self.detail = detail
        }

        enum CodingKeys: String, CodingKey {
            case time, event, user, service, rhost, detail, relay
            case peerUID = "peer_uid"
        }
    }

    public var events: [Event]

    public init(events: [Event]) {
        self.events = events
    }
}
