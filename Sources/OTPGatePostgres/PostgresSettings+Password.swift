internal import OTPGateStoreContract

extension PostgresSettings {
    /// The password, read and checked now (a file: as the master key; a credential: from
    /// `credentialsDirectory`, normally `$CREDENTIALS_DIRECTORY`). Nil when none is set.
    func loadPassword(credentialsDirectory: String?, owner: UInt32) throws(PostgresStoreError) -> String? {
        let path: String
        var credentialName = KeyFile.credentialName
        switch password.kind {
        case .none:
            return nil
        case .file(let file):
            path = file
        case .credential(let name):
            guard let dir = credentialsDirectory, !dir.isEmpty else {
                throw PostgresStoreError(
                    .password,
                    "store.postgres.password_credential '\(name)' is set but CREDENTIALS_DIRECTORY is not; start otpgated from systemd with LoadCredential=\(name):<file>")
            }
            path = dir + "/" + name
            credentialName = name
        }
        let bytes: [UInt8]
        do {
            bytes = try KeyFile.readProtected(
                path: path, what: "postgresql password file", owner: owner, maxLength: 1024,
                missing: "create it (mode 0600, owned by the daemon's user) or correct store.postgres.password_file",
                credentialName: credentialName)
        } catch {
            throw PostgresStoreError(.password, error.message)
        }
        var text = bytes
        while let last = text.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { text.removeLast() }
        guard !text.isEmpty else { throw PostgresStoreError(.password, "postgresql password file \(path) is empty") }
        guard !text.contains(UInt8(ascii: "\n")), !text.contains(0) else {
            throw PostgresStoreError(.password, "postgresql password file \(path) holds more than one line; keep only the password")
        }
        guard let password = String(validating: text, as: UTF8.self) else {
            throw PostgresStoreError(.password, "postgresql password file \(path) is not UTF-8")
        }
        return password
    }
}
