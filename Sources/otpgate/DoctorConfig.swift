import Foundation
import OTPGateConfig

/// What doctor needs from the daemon's config file, read in this one place (so it can
/// follow the config parser wherever it lives).
struct DoctorConfig {
    var keyFile: String
    var stateDirectory: String
    var databasePath: String
    var socketPath: String
    /// For DoctorTier: the backend and the `[limiter]` a tier node's policy is compared with.
    var store: StoreSettings
    var limiter: LimiterSettings
    /// For DoctorRelay.
    var mode = RelaySettings.Mode.local
    var relay = RelaySettings()

    /// The file's settings, or the built-in defaults when it does not exist; and the
    /// finding that says which.
    static func load(_ path: String) -> (DoctorConfig, DoctorFinding) {
        var settings = ServerConfig()
        let finding: DoctorFinding
        if FileManager.default.fileExists(atPath: path) {
            do {
                settings = try ServerConfig(parsing: try String(contentsOfFile: path, encoding: .utf8), name: path)
                finding = DoctorFinding(.ok, "config \(path) parses")
            } catch {
                finding = DoctorFinding(.fail, "config: \(error)", fix: "correct the line named, see etc/otpgate/otpgated.toml")
            }
        } else {
            finding = DoctorFinding(.ok, "no \(path): built-in defaults apply")
        }
        return (DoctorConfig(keyFile: settings.keyFile, stateDirectory: settings.stateDirectory,
                             databasePath: settings.databasePath, socketPath: settings.socketPath, store: settings.store,
                             limiter: settings.limiter, mode: settings.mode, relay: settings.relay), finding)
    }
}
