/// Something an importer could not map, or mapped with a caveat: always with the
/// file (and line, where there is one) and the reason. Never holds a secret or code.
public struct ImportIssue: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable, Codable {
        /// Imported, but not exactly as the other tool had it (read the reason).
        case warning
        /// Not imported.
        case error
    }

    public var severity: Severity
    public var file: String
    public var line: Int?
    public var message: String

    public init(_ severity: Severity, file: String, line: Int? = nil, _ message: String) {
        self.severity = severity
        self.file = file
        self.line = line
        self.message = message
    }

    /// `file:line: message`, as compilers print it.
    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(severity == .error ? "error: " : "warning: ")\(message)"
    }
}
