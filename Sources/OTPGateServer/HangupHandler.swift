internal import Foundation
public import Logging
public import ServiceLifecycle
internal import UnixSignals

/// What SIGHUP does: reopen the log file (after logrotate), then read the config file
/// again. A file that no longer parses is logged and the running settings stay. The
/// settings are fixed once the daemon listens (sockets, store, limiter and policy are
/// built from them at start), so each changed key is logged by name as needing a
/// restart; nothing is half-applied. SIGHUP never stops the daemon.
public struct HangupHandler: Service {
    let configPath: String?
    let running: ConfigFile?
    let logFile: LogFile?
    let logger: Logger
    /// Also run on each SIGHUP (a tier node's key check: TierKeys.settle).
    let also: (@Sendable () -> Void)?

    public init(configPath: String?, running: ConfigFile?, logFile: LogFile?, logger: Logger, also: (@Sendable () -> Void)? = nil) {
        self.also = also
        self.configPath = configPath
        self.running = running
        self.logFile = logFile
        self.logger = logger
    }

    public func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        for await _ in hangups.cancelOnGracefulShutdown() {
            reload()
            also?()
        }
    }

    func reload() {
        if let logFile {
            do {
                try logFile.reopen()
            } catch {
                logger.error("SIGHUP: \(error); still writing to the old file")
            }
        }
        guard let configPath else {
            logger.notice("SIGHUP: log reopened; no config file to reload")
            return
        }
        let fresh: ConfigFile
        do {
            guard let text = try? String(contentsOfFile: configPath, encoding: .utf8) else {
                throw ConfigError("cannot read config file \(configPath)")
            }
            fresh = try ConfigFile(parsing: text, name: configPath)
            _ = try ServerConfig(parsing: text, name: configPath)
        } catch {
            logger.error("SIGHUP: config not reloaded, the running settings stay: \(error)")
            return
        }
        let changed = Self.changedKeys(from: running?.values ?? [:], to: fresh.values)
        if changed.isEmpty {
            logger.notice("SIGHUP: config \(configPath) reread; no setting changed")
            return
        }
        for key in changed {
            logger.warning(
                "SIGHUP: setting \(key) changed in \(configPath); it takes effect after a restart (systemctl restart otpgated, or /etc/init.d/otpgated restart)",
                metadata: ["config.key": "\(key)"])
        }
    }

    /// Keys set, unset or changed between two parses, sorted.
    static func changedKeys(from old: [String: ConfigFile.Value], to new: [String: ConfigFile.Value]) -> [String] {
        Set(old.keys).union(new.keys).filter { old[$0] != new[$0] }.sorted()
    }
}
