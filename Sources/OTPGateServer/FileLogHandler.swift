internal import Glibc
public import Logging

/// Lines for a log file: an RFC 3339 UTC timestamp with milliseconds, the level, the
/// message, then the metadata as sorted `key=value` pairs quoted the way the journal
/// handler quotes them. (Under systemd the journal adds the time itself, so there the
/// daemon uses `JournalLogHandler`.)
public struct FileLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let file: LogFile

    public init(file: LogFile) { self.file = file }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "\(Self.timestamp()) \(event.level) \(event.message)"
        LogLine.appendMetadata(metadata, event.metadata, to: &line)
        file.write(line + "\n")
    }

    /// "2026-12-01T16:53:05.123Z".
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &parts)
        let millis = Int(now.tv_nsec / 1_000_000)
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + ".\(ms)Z"
    }
}
