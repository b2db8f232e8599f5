internal import NIOCore
internal import PostgresNIO

/// What postgres-nio's errors say, without their bound values: postgres-nio hides its
/// details behind a generic description (to keep binds out of logs), and its older API
/// converts server errors to `PostgresError`; this reads both.
struct ServerFailure {
    /// The server sent an ErrorResponse.
    var sqlState: String?
    var severity: String?
    var serverMessage: String?
    /// Not a server error: the connection broke, the client closed it, a TLS failure…
    var transport: String?

    init(_ error: any Error) {
        if let psql = error as? PSQLError {
            if let info = psql.serverInfo {
                sqlState = info[.sqlState]
                severity = info[.severity] ?? info[.localizedSeverity]
                serverMessage = info[.message]
            } else {
                var text = "\(psql.code)"
                if let underlying = psql.underlying { text += ": \(Self.describe(underlying))" }
                transport = text
            }
        } else if let pg = error as? PostgresError {
            switch pg {
            case .server(let e):
                sqlState = e.fields[.sqlState]
                severity = e.fields[.severity] ?? e.fields[.localizedSeverity]
                serverMessage = e.fields[.message]
            case .connectionClosed:
                transport = "connection closed"
            case .protocol(let m):
                transport = "protocol error: \(m)"
            }
        } else {
            transport = Self.describe(error)
        }
    }

    /// An ERROR (not FATAL or PANIC): the statement was rolled back and the session
    /// lives on. A FATAL during a commit can come after the commit was written (for
    /// instance "terminating connection due to administrator command" while waiting for
    /// a synchronous standby), so it leaves the outcome unknown.
    var isStatementError: Bool { serverMessage != nil && (severity == nil || severity == "ERROR") }

    var text: String {
        if let serverMessage {
            return "postgresql: \(serverMessage)" + (sqlState.map { " (sqlstate \($0))" } ?? "")
        }
        return transport ?? "unknown failure"
    }

    static func describe(_ error: any Error) -> String {
        if let io = error as? IOError { return "\(io)" }
        if let channel = error as? ChannelError {
            switch channel {
            case .connectTimeout(let t): return "connect timed out after \(t.nanoseconds / 1_000_000) ms"
            default: return "\(channel)"
            }
        }
        if error is PSQLError { return ServerFailure(error).text }
        return String(describing: error)
    }
}
