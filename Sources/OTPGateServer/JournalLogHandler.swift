internal import Glibc
public import Logging

/// Writes one line per event to standard error, prefixed with the syslog priority in
/// the `<N>` form that journald understands (sd-daemon(3)), followed by the message
/// and the metadata as sorted `key=value` pairs. Values with spaces are quoted.
///
/// Only the daemon executable installs this; libraries just take a `Logger`.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "<\(Self.priority(event.level))>\(event.message)"
        LogLine.appendMetadata(metadata, event.metadata, to: &line)
        line += "\n"
        // One write(2) per line, so lines from different threads never interleave.
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Quotes values that would otherwise break the `key=value` form; control
    /// characters (from a hostile user name, say) are escaped, never printed raw.
    public static func quote(_ value: String) -> String {
        // Most values (names, numbers, outcomes) need nothing: returned as they are.
        // Every byte that needs care is ASCII, so the UTF-8 bytes tell.
        if !value.isEmpty, !value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f || $0 == 0x20 || $0 == 0x3d || $0 == 0x22 || $0 == 0x5c }) {
            return value
        }
        var escaped = ""
        var needsQuotes = value.isEmpty
        for scalar in value.unicodeScalars {
            switch scalar {
            case " ", "=": needsQuotes = true; escaped.unicodeScalars.append(scalar)
            case "\"": needsQuotes = true; escaped += "\\\""
            case "\\": escaped += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                needsQuotes = true
                escaped += "\\x" + String(scalar.value, radix: 16)
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return needsQuotes ? "\"\(escaped)\"" : escaped
    }
}
