import COpenSSL
import Foundation
import Glibc
import OTPGateConfig
import OTPGateProtocol

/// `otpgate admin doctor` on a relay (`mode = "relay"`): this host's certificate and
/// key, the tier as the relay reaches it (health through the relay) and its clock, and
/// the relay's deadline against every pam_otpgate line's timeout.
enum DoctorRelay {
    /// How far the tier's clock may be from ours before TOTP codes fail on one side.
    static let clockTolerance: Int64 = 15
    /// A certificate this close to expiry is a warning.
    static let expiryWarning: Int64 = 30 * 86_400

    static func findings(
        _ relay: RelaySettings, health: HealthResult?, pamTimeouts: [(place: String, seconds: Int)], daemonUID: uid_t?,
        now: Int64 = Int64(Date().timeIntervalSince1970)
    ) -> [DoctorFinding] {
        var out = [DoctorFinding(.ok, "mode relay: \(relay.endpoints.count) tier endpoint(s): \(relay.endpoints.map(\.description).joined(separator: ", "))")]
        out += certificate(relay, daemonUID: daemonUID, now: now)
        out += tier(health, now: now)
        out += deadline(relay, pamTimeouts: pamTimeouts)
        return out
    }

    // MARK: - The certificate

    static func certificate(_ relay: RelaySettings, daemonUID: uid_t?, now: Int64) -> [DoctorFinding] {
        var out: [DoctorFinding] = []
        out.append(fileCheck(relay.keyFile, allowed: 0o600, owner: daemonUID, what: "host key"))
        out.append(fileCheck(relay.certificateFile, allowed: 0o644, owner: nil, what: "host certificate"))
        out.append(fileCheck(relay.caFile, allowed: 0o644, owner: nil, what: "fleet CA"))
        guard let cert = readCertificate(relay.certificateFile) else {
            out.append(DoctorFinding(.fail, "host certificate \(relay.certificateFile) is not a readable PEM certificate",
                                     fix: "install the host's certificate there (docs/OPERATIONS.md, Running relays)"))
            return out
        }
        defer { X509_free(cert) }
        let name = commonName(cert) ?? "(no CN)"
        let notAfter = expiry(cert)
        if X509_cmp_time(X509_get0_notBefore(cert), nil) > 0 {
            out.append(DoctorFinding(.fail, "host certificate (CN \(name)) is not valid yet", fix: "check the clock, or reissue it"))
        } else if let notAfter, notAfter <= now {
            out.append(DoctorFinding(.fail, "host certificate (CN \(name)) expired \(RFC3339.format(notAfter))",
                                     fix: "issue a new one (docs/OPERATIONS.md, Running relays) and restart otpgated"))
        } else if let notAfter, notAfter - now < expiryWarning {
            out.append(DoctorFinding(.warn, "host certificate (CN \(name)) expires \(RFC3339.format(notAfter))",
                                     fix: "issue a new one before then"))
        } else {
            out.append(DoctorFinding(.ok, "host certificate: CN \(name) (the host name the tier records), valid until \(notAfter.map(RFC3339.format) ?? "?")"))
        }
        switch verify(cert, ca: relay.caFile) {
        case nil: out.append(DoctorFinding(.ok, "host certificate chains to \(relay.caFile)"))
        case let why?:
            out.append(DoctorFinding(.fail, "host certificate does not chain to \(relay.caFile): \(why)",
                                     fix: "install the certificate the fleet CA issued, and that CA as relay.ca_file"))
        }
        if let matches = keyMatches(cert, keyFile: relay.keyFile) {
            out.append(matches ? DoctorFinding(.ok, "host key matches the certificate")
                : DoctorFinding(.fail, "host key \(relay.keyFile) does not match the certificate", fix: "install the key the certificate was issued for"))
        }
        return out
    }

    static func fileCheck(_ path: String, allowed: mode_t, owner: uid_t?, what: String) -> DoctorFinding {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            return DoctorFinding(.fail, "\(what) \(path) is missing", fix: "install it (docs/OPERATIONS.md, Running relays)")
        }
        guard st.st_mode & S_IFMT == S_IFREG else { return DoctorFinding(.fail, "\(what) \(path) is not a plain file", fix: "replace it with the real file") }
        let mode = st.st_mode & 0o777
        if mode & ~allowed != 0 {
            return DoctorFinding(.fail, "\(what) \(path) has mode \(String(mode, radix: 8))", fix: "chmod \(String(allowed, radix: 8)) \(path)")
        }
        if let owner, st.st_uid != owner, st.st_uid != 0 {
            return DoctorFinding(.fail, "\(what) \(path) is owned by uid \(st.st_uid)", fix: "chown otpgate: \(path)")
        }
        return DoctorFinding(.ok, "\(what) \(path) mode \(String(mode, radix: 8))")
    }

    static func readCertificate(_ path: String) -> OpaquePointer? {
        guard let bio = BIO_new_file(path, "r") else { return nil }
        defer { BIO_free(bio) }
        return PEM_read_bio_X509(bio, nil, nil, nil)
    }

    static func commonName(_ cert: OpaquePointer) -> String? {
        guard let subject = X509_get_subject_name(cert) else { return nil }
        var buffer = [CChar](repeating: 0, count: 256)
        let n = X509_NAME_get_text_by_NID(subject, NID_commonName, &buffer, Int32(buffer.count))
        return n > 0 ? String(cString: buffer) : nil
    }

    static func expiry(_ cert: OpaquePointer) -> Int64? {
        guard let notAfter = X509_get0_notAfter(cert) else { return nil }
        var tm = tm()
        guard ASN1_TIME_to_tm(notAfter, &tm) == 1 else { return nil }
        return Int64(timegm(&tm))
    }

    /// nil when the certificate chains to the CA file, else why not.
    static func verify(_ cert: OpaquePointer, ca: String) -> String? {
        guard let store = X509_STORE_new() else { return "out of memory" }
        defer { X509_STORE_free(store) }
        guard X509_STORE_load_file(store, ca) == 1 else { return "cannot read \(ca) as PEM certificates" }
        guard let context = X509_STORE_CTX_new() else { return "out of memory" }
        defer { X509_STORE_CTX_free(context) }
        guard X509_STORE_CTX_init(context, store, cert, nil) == 1 else { return "cannot set up the check" }
        if X509_verify_cert(context) == 1 { return nil }
        return String(cString: X509_verify_cert_error_string(Int(X509_STORE_CTX_get_error(context))))
    }

    /// Whether the key file's key is the certificate's; nil when it cannot be read
    /// (not root: the mode check above says the rest).
    static func keyMatches(_ cert: OpaquePointer, keyFile: String) -> Bool? {
        guard let bio = BIO_new_file(keyFile, "r") else { return nil }
        defer { BIO_free(bio) }
        guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else { return false }
        defer { EVP_PKEY_free(key) }
        return X509_check_private_key(cert, key) == 1
    }

    // MARK: - The tier

    static func tier(_ health: HealthResult?, now: Int64) -> [DoctorFinding] {
        guard let health else { return [] }  // the daemon's own finding says it does not answer
        guard health.mode == "relay" else {
            return [DoctorFinding(.fail, "the config says mode = \"relay\" but the running otpgated verifies itself",
                                  fix: "restart otpgated to apply the config (systemctl restart otpgated)")]
        }
        guard let tier = health.tier else {
            return [DoctorFinding(.fail, "no tier node answers the relay: \(health.storeDetail ?? "")",
                                  fix: "check the network to the tier, the tier's listener, and this host's certificate (revoked? from the fleet CA?); the relay's log names each node and why")]
        }
        var out = [DoctorFinding(.ok, "tier node \(tier) answers through the relay; its store: \(health.store)")]
        if let tierTime = health.tierTime {
            let offset = tierTime - now
            out.append(abs(offset) <= clockTolerance
                ? DoctorFinding(.ok, "the tier's clock is \(offset) s from this host's")
                : DoctorFinding(.fail, "the tier's clock is \(offset) s from this host's (more than \(clockTolerance) s)",
                                fix: "enable time sync on both (systemctl enable --now systemd-timesyncd): the tier judges TOTP codes by its clock, users read theirs"))
        } else {
            out.append(DoctorFinding(.warn, "the tier node does not say its time (older otpgated)", fix: "upgrade the tier"))
        }
        return out
    }

    // MARK: - The deadline

    static func deadline(_ relay: RelaySettings, pamTimeouts: [(place: String, seconds: Int)]) -> [DoctorFinding] {
        let deadline = relay.deadlineMilliseconds
        let short = pamTimeouts.filter { deadline >= $0.seconds * 1000 }
        guard short.isEmpty else {
            return short.map {
                DoctorFinding(.fail, "relay.deadline (\(deadline) ms) is not below the module's timeout at \($0.place) (\($0.seconds) s): the module gives up before the relay says unavailable",
                              fix: "lower relay.deadline, or raise timeout= on that line (and relay.pam_timeout)")
            }
        }
        let lowest = pamTimeouts.map(\.seconds).min()
        return [DoctorFinding(.ok, "relay.deadline \(deadline) ms is below the PAM module's timeout (\(lowest.map { "\($0) s" } ?? "no pam_otpgate line seen"))")]
    }
}
