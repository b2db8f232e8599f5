import Logging

/// The metadata part of a log line, shared by `JournalLogHandler` and
/// `FileLogHandler`: ` key=value` pairs sorted by key, values quoted by
/// `JournalLogHandler.quote`. One authentication outcome is one such line, so it is
/// built without the intermediate dictionary of a merge (when the handler has no
/// metadata of its own, as the daemon's never has) and without copying values that
/// need no quotes.
enum LogLine {
    static func appendMetadata(_ handler: Logger.Metadata, _ event: Logger.Metadata?, to line: inout String) {
        let all: Logger.Metadata
        switch (handler.isEmpty, event) {
        case (_, nil): all = handler
        case (true, let event?): all = event
        case (false, let event?): all = handler.merging(event) { $1 }
        }
        if all.isEmpty { return }
        for (key, value) in all.sorted(by: { $0.key < $1.key }) {
            line += " "
            line += key
            line += "="
            line += JournalLogHandler.quote(text(value))
        }
    }

    /// What `"\(value)"` prints, without the interpolation for plain strings.
    static func text(_ value: Logger.Metadata.Value) -> String {
        if case .string(let s) = value { return s }
        return "\(value)"
    }
}
