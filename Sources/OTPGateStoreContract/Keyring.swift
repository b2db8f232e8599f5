internal import COpenSSL
import OTPCore

/// Where a ciphertext belongs. It is authenticated with the ciphertext (as AES-GCM
/// associated data), so a ciphertext copied to another row, user or column fails.
public struct SecretBinding: Sendable, Hashable {
    public let table: String
    public let row: String
    public let user: String
    public let column: String

    public init(table: String, row: String, user: String, column: String) {
        self.table = table
        self.row = row
        self.user = user
        self.column = column
    }

    /// NUL-separated: none of the parts can contain NUL (user names are checked).
    func associatedData(header: [UInt8]) -> [UInt8] {
        var out = Array("otpgate.secret.v1".utf8)
        for part in [table, row, user, column] {
            out.append(0)
            out += Array(part.utf8)
        }
        out.append(0)
        return out + header
    }
}

/// AES-256-GCM envelope encryption under one or more master keys.
///
/// A sealed secret is `version (1) | key id (4) | nonce (12) | ciphertext | tag (16)`.
/// The version and key id are authenticated too. A fresh random nonce is drawn for
/// every encryption; with at most a few million encryptions per key, random 96-bit
/// nonces stay far below the collision bound (NIST SP 800-38D §8.3).
public struct Keyring: Sendable {
    static let version: UInt8 = 1
    static let nonceLength = 12
    static let tagLength = 16
    static let headerLength = 1 + 4 + nonceLength

    private var keys: [KeyID: MasterKey]
    /// The key new ciphertexts are sealed under.
    public let current: MasterKey

    public init(current: MasterKey, others: [MasterKey] = []) {
        self.current = current
        var keys = [current.id: current]
        for k in others { keys[k.id] = k }
        self.keys = keys
    }

    /// The loaded key whose id is written `id` (8 hex digits, as the key check and the
    /// sealed secrets' `key_id` name it), if any.
    public func key(named id: String) -> MasterKey? { keys.first { $0.key.description == id }?.value }

    /// Every loaded key, the current one first.
    public var all: [MasterKey] { [current] + keys.values.filter { $0.id != current.id }.sorted { $0.id.description < $1.id.description } }

    public func seal(_ plaintext: [UInt8], for binding: SecretBinding) throws(StoreError) -> [UInt8] {
        let nonce: [UInt8]
        do {
            nonce = try SecureRandom.bytes(Self.nonceLength)
        } catch {
            throw StoreError(.crypto, "could not draw a nonce: \(error.message)")
        }
        let header = [Self.version] + current.id.bytes + nonce
        let aad = binding.associatedData(header: header)
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count)
        var tag = [UInt8](repeating: 0, count: Self.tagLength)
        try AESGCM.run(
            encrypt: true, key: current.bytes, nonce: nonce, aad: aad, input: plaintext,
            output: &ciphertext, tag: &tag)
        return header + ciphertext + tag
    }

    public func open(_ sealed: [UInt8], for binding: SecretBinding) throws(StoreError) -> [UInt8] {
        guard sealed.count >= Self.headerLength + Self.tagLength, sealed[0] == Self.version else {
            throw StoreError(.decryptionFailed, "the \(binding.column) of \(binding.table) row \(binding.row) is not a sealed secret of a known format")
        }
        let keyID = KeyID(bytes: Array(sealed[1..<5]))
        guard let key = keys[keyID] else {
            throw StoreError(
                .decryptionFailed,
                "the \(binding.column) of \(binding.table) row \(binding.row) is sealed under key \(keyID), which is not loaded")
        }
        let header = Array(sealed[0..<Self.headerLength])
        let nonce = Array(header[5...])
        let body = Array(sealed[Self.headerLength..<(sealed.count - Self.tagLength)])
        var tag = Array(sealed.suffix(Self.tagLength))
        var plaintext = [UInt8](repeating: 0, count: body.count)
        do {
            try AESGCM.run(
                encrypt: false, key: key.bytes, nonce: nonce, aad: binding.associatedData(header: header),
                input: body, output: &plaintext, tag: &tag)
        } catch {
            throw StoreError(
                .decryptionFailed,
                "the \(binding.column) of \(binding.table) row \(binding.row) failed authentication (damaged, or moved from another row)")
        }
        return plaintext
    }

    /// The key id a sealed secret names, without decrypting it.
    public static func keyID(of sealed: [UInt8]) -> KeyID? {
        guard sealed.count >= headerLength + tagLength, sealed[0] == version else { return nil }
        return KeyID(bytes: Array(sealed[1..<5]))
    }
}

/// One AES-256-GCM operation through the OpenSSL EVP interface.
enum AESGCM {
    static func run(
        encrypt: Bool, key: [UInt8], nonce: [UInt8], aad: [UInt8], input: [UInt8],
        output: inout [UInt8], tag: inout [UInt8]
    ) throws(StoreError) {
        guard let ctx = EVP_CIPHER_CTX_new() else {
            throw StoreError(.crypto, "OpenSSL could not allocate a cipher context")
        }
        defer { EVP_CIPHER_CTX_free(ctx) }
        let failure = StoreError(.crypto, encrypt ? "AES-GCM encryption failed" : "AES-GCM authentication failed")
        let enc: Int32 = encrypt ? 1 : 0
        guard EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nil, nil, nil, enc) == 1,
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, Int32(nonce.count), nil) == 1,
            EVP_CipherInit_ex(ctx, nil, nil, key, nonce, enc) == 1
        else { throw failure }
        var outLength: Int32 = 0
        if !aad.isEmpty {
            guard EVP_CipherUpdate(ctx, nil, &outLength, aad, Int32(aad.count)) == 1 else { throw failure }
        }
        if !input.isEmpty {
            let ok = output.withUnsafeMutableBufferPointer { out in
                EVP_CipherUpdate(ctx, out.baseAddress, &outLength, input, Int32(input.count))
            }
            guard ok == 1, Int(outLength) == input.count else { throw failure }
        }
        if !encrypt {
            let ok = tag.withUnsafeMutableBytes { t in
                EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, Int32(t.count), t.baseAddress)
            }
            guard ok == 1 else { throw failure }
        }
        var finalBlock = [UInt8](repeating: 0, count: 16)
        guard EVP_CipherFinal_ex(ctx, &finalBlock, &outLength) == 1 else { throw failure }
        if encrypt {
            let ok = tag.withUnsafeMutableBytes { t in
                EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, Int32(t.count), t.baseAddress)
            }
            guard ok == 1 else { throw failure }
        }
    }
}
