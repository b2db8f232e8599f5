/// The result of `admin.rekey`.
public struct AdminRekeyResult: ReplyResult, Hashable {
    /// The id of the new master key (8 hex digits).
    public var keyID: String
    /// How many sealed secrets were re-encrypted under it.
    public var secrets: Int

    public init(keyID: String, secrets: Int) {
        self.keyID = keyID
        self.secrets = secrets
    }

    enum CodingKeys: String, CodingKey {
        case secrets
        case keyID = "key_id"
    }
}
