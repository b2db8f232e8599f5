internal import Logging
internal import NIOCore
internal import PostgresNIO

/// One open connection with every registered statement prepared on it and the write
/// decision its server gave when it was opened.
final class PooledConnection: Sendable {
    let connection: PostgresConnection
    let prepared: [String: PreparedQuery]
    let status: PostgresWriteStatus
    /// When `status` was read from the server (a later pool refresh outranks it).
    let checkedAt: ContinuousClock.Instant

    private init(connection: PostgresConnection, prepared: [String: PreparedQuery], status: PostgresWriteStatus, checkedAt: ContinuousClock.Instant) {
        self.connection = connection
        self.prepared = prepared
        self.status = status
        self.checkedAt = checkedAt
    }

    var isUsable: Bool { !connection.isClosed }

    /// Closes the socket at once: no CancelRequest, no waiting for the server
    /// (FLEET.md, trap 1: a cancel during the synchronous-replication wait reports the
    /// commit as successful).
    func closeNow() {
        Self.close(connection)
    }

    /// Closes and holds the connection until its channel is closed (postgres-nio
    /// asserts that a connection is closed before it is released).
    static func close(_ connection: PostgresConnection) {
        let closed: EventLoopFuture<Void> = connection.close()
        closed.whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// Connects, asks the server for the write decision's inputs and prepares every
    /// statement (Parse messages sent back to back, one round trip for all). `attach` is
    /// told the connection as soon as it exists, so that a deadline can close it while it
    /// is still being set up; it returns false when the call has already ended.
    static func open(
        configuration: PostgresConnection.Configuration, id: Int, on loop: any EventLoop,
        statements: [PostgresStatement], singleNode: Bool, logger: Logger,
        attach: @escaping @Sendable (PostgresConnection) -> Bool
    ) -> EventLoopFuture<PooledConnection> {
        PostgresConnection.connect(on: loop, configuration: configuration, id: id, logger: logger)
            .flatMapError { error in
                loop.makeFailedFuture(
                    PostgresStoreError(.connectFailed, "cannot connect to postgresql: \(ServerFailure(error).text)",
                                       sqlState: ServerFailure(error).sqlState))
            }
            .flatMap { connection -> EventLoopFuture<PooledConnection> in
                guard attach(connection) else {
                    Self.close(connection)
                    return loop.makeFailedFuture(PostgresStoreError(.deadlineExceeded, "the deadline passed while connecting to postgresql"))
                }
                let checkedAt = ContinuousClock.now
                let check = connection.simpleQuery(PostgresWriteStatus.checkSQL)
                let prepares = statements.map { statement in
                    connection.prepare(query: statement.sql).map { (statement.name, $0) }
                        .flatMapErrorThrowing { error in
                            throw PostgresStoreError(
                                .statementFailed,
                                "cannot prepare statement \(statement.name): \(ServerFailure(error).text)",
                                sqlState: ServerFailure(error).sqlState)
                        }
                }
                return check.and(EventLoopFuture.whenAllSucceed(prepares, on: loop))
                    .flatMapThrowing { rows, prepared -> PooledConnection in
                        guard let row = rows.first else {
                            throw PostgresStoreError(.connectFailed, "postgresql answered the settings check with no row")
                        }
                        let (commit, standbys, recovery, fsync) = try row.decode((String, String, Bool, String).self)
                        let status = PostgresWriteStatus.decide(
                            synchronousCommit: commit, synchronousStandbyNames: standbys, inRecovery: recovery, fsync: fsync,
                            singleNode: singleNode)
                        return PooledConnection(
                            connection: connection, prepared: Dictionary(prepared, uniquingKeysWith: { a, _ in a }),
                            status: status, checkedAt: checkedAt)
                    }
                    .flatMapError { error in
                        Self.close(connection)
                        if let error = error as? PostgresStoreError { return loop.makeFailedFuture(error) }
                        return loop.makeFailedFuture(
                            PostgresStoreError(.connectFailed, "cannot set up a postgresql connection: \(ServerFailure(error).text)"))
                    }
            }
    }
}
