internal import Dispatch
public import Glibc
public import Logging
public import NIOCore
public import NIOPosix
internal import NIOSSL
public import PostgresNIO
internal import Synchronization

/// A pool of PostgreSQL connections for callers that block: the daemon's request
/// handler runs on a thread pool and calls the store synchronously.
///
/// Every call is bounded by one deadline (`PostgresSettings.deadline` unless the caller
/// gives an earlier one). At the deadline the call closes the connection it leased and
/// never sends a CancelRequest (FLEET.md, trap 1); a write in flight then ends
/// `.unknown`. Every connection prepares the registered statements once, when it is
/// opened, and checks the server's durability settings (`PostgresWriteStatus`). A closed
/// or broken connection is dropped and a new one opened on the next lease, inside that
/// call's deadline, so the pool heals by itself when PostgreSQL comes back.
public final class PostgresPool: Sendable {
    private struct State {
        var idle: [PooledConnection] = []
        /// Idle, leased and opening connections.
        var open = 0
        var waiters: [PostgresPoolCall] = []
        var closed = false
        var status = PostgresWriteStatus.unchecked
        /// The latest `refreshWriteStatus` decision and when it was made: it outranks the
        /// decision of every connection checked before it (either way: a standby that
        /// came back allows writes again on connections opened while it was away).
        var refreshed: (status: PostgresWriteStatus, at: ContinuousClock.Instant)?
        var nextID = 1
        var opened = 0
    }

    /// How the pool has fared, for `health` and tests.
    public struct Statistics: Sendable, Equatable {
        /// Connections opened since the pool was made (including ones that failed setup).
        public let connectionsOpened: Int
        /// Connections now open or opening.
        public let open: Int
        public let idle: Int
    }

    public let settings: PostgresSettings
    private let configuration: PostgresConnection.Configuration
    private let statements: [String: PostgresStatement]
    private let statementList: [PostgresStatement]
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = Mutex(State())

    /// Checks `settings`, reads the password (a file or systemd credential, with the
    /// master key's checks) and loads the TLS trust roots; opens no connection yet.
    /// `statements` are the only ones `run` accepts, each prepared on every connection.
    public init(
        settings: PostgresSettings, statements: [PostgresStatement],
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        credentialsDirectory: String? = PostgresPool.environmentCredentialsDirectory,
        passwordOwner: UInt32 = geteuid(), logger: Logger
    ) throws(PostgresStoreError) {
        try settings.validate()
        var byName: [String: PostgresStatement] = [:]
        for statement in statements {
            guard !statement.name.isEmpty,
                statement.name.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 })
            else {
                throw PostgresStoreError(.invalidSettings, "statement name '\(statement.name)' must be lower-case letters, digits and _")
            }
            guard byName.updateValue(statement, forKey: statement.name) == nil else {
                throw PostgresStoreError(.invalidSettings, "statement \(statement.name) is registered twice")
            }
        }
        guard byName[Self.checkStatement] == nil else {
            throw PostgresStoreError(.invalidSettings, "statement name \(Self.checkStatement) is reserved")
        }
        let check = PostgresStatement(name: Self.checkStatement, sql: PostgresWriteStatus.checkSQL, access: .readOnly)
        byName[Self.checkStatement] = check
        let password = try settings.loadPassword(credentialsDirectory: credentialsDirectory, owner: passwordOwner)
        self.settings = settings
        self.configuration = try Self.configuration(settings, password: password)
        self.statements = byName
        self.statementList = statements + [check]
        self.group = eventLoopGroup
        self.logger = logger
    }

    public static var environmentCredentialsDirectory: String? {
        getenv("CREDENTIALS_DIRECTORY").map { String(cString: $0) }
    }

    /// The write decision of the most recently opened connection.
    public var writeStatus: PostgresWriteStatus { state.withLock { $0.status } }

    /// Asks the server now (one leased connection, the same deadline as any call) and
    /// returns the decision, for `health` and `doctor`, and to notice a change made
    /// without a reconnect (`ALTER SYSTEM` and a reload, Patroni leaving synchronous
    /// mode): while the latest refresh refuses writes, every connection refuses them.
    public func refreshWriteStatus(deadline: ContinuousClock.Instant? = nil) throws(PostgresStoreError) -> PostgresWriteStatus {
        let asked = ContinuousClock.now
        let rows = try run(Self.checkStatement, deadline: deadline)
        guard let row = rows.first else {
            throw PostgresStoreError(.unexpectedResult, "postgresql answered the settings check with no row")
        }
        let (commit, standbys, recovery, fsync) = try row.decode((String, String, Bool, String).self)
        let status = PostgresWriteStatus.decide(
            synchronousCommit: commit, synchronousStandbyNames: standbys, inRecovery: recovery, fsync: fsync,
            singleNode: settings.singleNode)
        state.withLock { state in
            state.status = status
            state.refreshed = (status, asked)
        }
        return status
    }

    /// The settings check, registered on every pool under a name callers cannot take.
    static let checkStatement = "otpgate_pool_check"

    public var statistics: Statistics {
        state.withLock { Statistics(connectionsOpened: $0.opened, open: $0.open, idle: $0.idle.count) }
    }

    /// Runs the registered statement `name` with `binds` and returns its rows, blocking
    /// the calling thread until the result or the deadline: the earlier of `deadline`
    /// and now + `settings.deadline`. Never call it on an event loop thread (it refuses).
    public func run(
        _ name: String, binds: [PostgresValue] = [], deadline: ContinuousClock.Instant? = nil
    ) throws(PostgresStoreError) -> [PostgresResultRow] {
        guard MultiThreadedEventLoopGroup.currentEventLoop == nil else {
            throw PostgresStoreError(.wrongThread, "PostgresPool.run blocks and was called on an event loop thread; use the async run")
        }
        let call = try makeCall(name, binds: binds, deadline: deadline)
        start(call)
        let wake = DispatchTime.now() + .nanoseconds(Int(call.remaining))
        if !call.waitUntilEnded(orUntil: wake) { expire(call) }
        switch call.result {
        case .success(let rows): return rows
        case .failure(let error): throw error
        case nil: throw PostgresStoreError(.deadlineExceeded, "the call ended without a result")
        }
    }

    /// The same as the blocking `run`, for async callers. Cancelling the task ends the
    /// call as its deadline would: the connection is closed, never cancelled.
    public func run(
        _ name: String, binds: [PostgresValue] = [], deadline: ContinuousClock.Instant? = nil
    ) async throws(PostgresStoreError) -> [PostgresResultRow] {
        let call = try makeCall(name, binds: binds, deadline: deadline)
        do {
            return try await withTaskCancellationHandler {
                start(call)
                return try await call.promise.futureResult.get()
            } onCancel: {
                self.expire(call, cancelled: true)
            }
        } catch let error as PostgresStoreError {
            throw error
        } catch {
            throw PostgresStoreError(.connectionLost, "unexpected failure: \(error)", outcome: .unknown)
        }
    }

    /// Closes every idle connection and refuses new calls; leased connections are closed
    /// when their calls end.
    public func shutdown() {
        let (idle, waiters) = state.withLock { state in
            state.closed = true
            defer {
                state.open -= state.idle.count
                state.idle = []
                state.waiters = []
            }
            return (state.idle, state.waiters)
        }
        idle.forEach { $0.closeNow() }
        waiters.forEach { $0.finish(.failure(PostgresStoreError(.poolClosed, "the postgresql pool was shut down"))) }
    }

    // MARK: The life of a call

    private func makeCall(
        _ name: String, binds: [PostgresValue], deadline: ContinuousClock.Instant?
    ) throws(PostgresStoreError) -> PostgresPoolCall {
        guard let statement = statements[name] else {
            throw PostgresStoreError(.unknownStatement, "statement \(name) was not registered with the postgresql pool")
        }
        var budget = settings.deadline
        if let deadline { budget = min(budget, max(.zero, deadline - .now)) }
        return PostgresPoolCall(statement: statement, binds: binds, budget: budget, loop: group.next())
    }

    private func start(_ call: PostgresPoolCall) {
        call.setTimer(call.loop.scheduleTask(deadline: call.deadline) { self.expire(call) })
        acquire(call)
    }

    private enum Grant {
        case connection(PooledConnection)
        case openNew
        case queued
        case closed
    }

    private func acquire(_ call: PostgresPoolCall) {
        var stale: [PooledConnection] = []
        let grant = state.withLock { state -> Grant in
            if state.closed { return .closed }
            while let candidate = state.idle.popLast() {
                if candidate.isUsable { return .connection(candidate) }
                state.open -= 1
                stale.append(candidate)
            }
            if state.open < settings.poolSize {
                state.open += 1
                return .openNew
            }
            state.waiters.append(call)
            return .queued
        }
        stale.forEach { $0.closeNow() }
        switch grant {
        case .connection(let connection): give(connection, to: call)
        case .openNew: open(for: call)
        case .queued: break
        case .closed: call.finish(.failure(PostgresStoreError(.poolClosed, "the postgresql pool was shut down")))
        }
    }

    /// Opens a connection in a slot already counted in `open`.
    private func open(for call: PostgresPoolCall) {
        guard call.advance(to: .opening(nil)) else { return releaseSlot() }
        let remaining = call.remaining
        guard remaining > 0 else {
            releaseSlot()
            expire(call)
            return
        }
        var configuration = self.configuration
        configuration.options.connectTimeout = .nanoseconds(
            min(PostgresPoolCall.nanoseconds(settings.connectTimeout), remaining))
        let id = state.withLock { state in
            state.opened += 1
            defer { state.nextID += 1 }
            return state.nextID
        }
        var connectionLogger = self.logger
        connectionLogger[metadataKey: "postgres.connection"] = "\(id)"
        let logger = connectionLogger
        PooledConnection.open(
            configuration: configuration, id: id, on: call.loop, statements: statementList,
            singleNode: settings.singleNode, logger: logger,
            attach: { connection in call.advance(to: .opening(connection)) }
        ).whenComplete { result in
            switch result {
            case .success(let pooled):
                self.state.withLock { $0.status = pooled.status }
                if !pooled.status.writesAllowed {
                    logger.warning("postgresql connection opened with writes refused", metadata: ["postgres.reason": "\(pooled.status.reason)"])
                }
                self.give(pooled, to: call)
            case .failure(let error):
                self.releaseSlot()
                let storeError = error as? PostgresStoreError
                    ?? PostgresStoreError(.connectFailed, "cannot connect to postgresql: \(ServerFailure(error).text)")
                logger.debug("postgresql connection failed", metadata: ["postgres.error": "\(storeError.message)"])
                call.finish(.failure(storeError))
            }
        }
    }

    private func give(_ pooled: PooledConnection, to call: PostgresPoolCall) {
        guard call.advance(to: .leased) else { return release(pooled, reusable: true) }
        let statement = call.statement
        let refusal = state.withLock { state in
            state.refreshed.flatMap { $0.at > pooled.checkedAt ? $0.status : nil } ?? pooled.status
        }
        if statement.access == .write && !refusal.writesAllowed {
            release(pooled, reusable: true)
            call.finish(.failure(PostgresStoreError(.writesRefused, refusal.reason)))
            return
        }
        guard let prepared = pooled.prepared[statement.name], call.advance(to: .running(pooled)) else {
            return release(pooled, reusable: true)
        }
        prepared.execute(call.binds.map(\.data)).whenComplete { result in
            switch result {
            case .success(let rows):
                let delivered = call.finish(.success(rows.map { PostgresResultRow($0, statement: statement.name) }))
                // Not delivered: the deadline closed the connection just as rows arrived.
                self.release(pooled, reusable: delivered)
            case .failure(let error):
                let failure = ServerFailure(error)
                let storeError: PostgresStoreError
                if failure.isStatementError {
                    storeError = PostgresStoreError(
                        .statementFailed, "statement \(statement.name) failed: \(failure.text)", sqlState: failure.sqlState)
                } else {
                    pooled.closeNow()
                    storeError = PostgresStoreError(
                        .connectionLost,
                        "the postgresql connection broke during statement \(statement.name) (\(failure.text))"
                            + (statement.access == .write ? "; the write may or may not have committed" : ""),
                        outcome: statement.access == .write ? .unknown : .notDone, sqlState: failure.sqlState)
                }
                let delivered = call.finish(.failure(storeError))
                self.release(pooled, reusable: delivered && failure.isStatementError)
            }
        }
    }

    private func release(_ pooled: PooledConnection, reusable: Bool) {
        guard reusable, pooled.isUsable else {
            pooled.closeNow()
            return releaseSlot()
        }
        let next = state.withLock { state -> PostgresPoolCall?? in
            if state.closed {
                state.open -= 1
                return .none
            }
            if !state.waiters.isEmpty { return .some(state.waiters.removeFirst()) }
            state.idle.append(pooled)
            return .some(nil)
        }
        switch next {
        case .none: pooled.closeNow()
        case .some(let waiter?): give(pooled, to: waiter)
        case .some(nil): break
        }
    }

    /// A connection is gone: its slot goes to the first waiter, who opens a new one.
    private func releaseSlot() {
        let next = state.withLock { state -> PostgresPoolCall? in
            state.open -= 1
            guard !state.closed, !state.waiters.isEmpty else { return nil }
            state.open += 1
            return state.waiters.removeFirst()
        }
        if let next { open(for: next) }
    }

    private func expire(_ call: PostgresPoolCall, cancelled: Bool = false) {
        let name = call.statement.name
        let budget = "\(PostgresPoolCall.nanoseconds(call.budget) / 1_000_000) ms"
        let cause = cancelled ? "the call was cancelled" : "the deadline (\(budget)) passed"
        let phase = call.expire { phase in
            switch phase {
            case .waiting, .leased, .finished:
                return PostgresStoreError(
                    .deadlineExceeded, "\(cause) before a postgresql connection was free for statement \(name); it was not sent")
            case .opening:
                return PostgresStoreError(
                    .deadlineExceeded, "\(cause) while connecting to postgresql for statement \(name); it was not sent")
            case .running:
                return call.statement.access == .write
                    ? PostgresStoreError(
                        .deadlineExceeded,
                        "\(cause) before postgresql answered statement \(name); the connection was closed and the write may or may not have committed",
                        outcome: .unknown)
                    : PostgresStoreError(
                        .deadlineExceeded, "\(cause) before postgresql answered statement \(name); the connection was closed")
            }
        }
        switch phase {
        case .waiting?:
            state.withLock { $0.waiters.removeAll { $0 === call } }
        case .opening(let connection?)?:
            PooledConnection.close(connection)
        case .running(let pooled)?:
            // The in-flight execute then fails and releases the slot.
            pooled.closeNow()
        default:
            break
        }
        if let phase, case .running = phase {
            logger.notice("postgresql call closed at its deadline", metadata: ["postgres.statement": "\(name)"])
        }
    }
}

extension PostgresPool {
    static func configuration(_ settings: PostgresSettings, password: String?) throws(PostgresStoreError) -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch settings.endpoint.kind {
        case .socket:
            configuration = .init(
                unixSocketPath: settings.endpoint.socketPath ?? "", username: settings.user, password: password,
                database: settings.database)
        case .tcp(let host, let port):
            var tls = PostgresConnection.Configuration.TLS.disable
            if case .verifyFull(let caFile, _) = settings.tls.kind {
                var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
                tlsConfiguration.trustRoots = .file(caFile)
                tlsConfiguration.certificateVerification = .fullVerification
                tlsConfiguration.minimumTLSVersion = .tlsv12
                do {
                    tls = .require(try NIOSSLContext(configuration: tlsConfiguration))
                } catch {
                    throw PostgresStoreError(.invalidSettings, "store.postgres.ca_file \(caFile) cannot be used: \(error)")
                }
            }
            configuration = .init(host: host, port: port, username: settings.user, password: password, database: settings.database, tls: tls)
            if case .verifyFull(_, let serverName) = settings.tls.kind {
                configuration.options.tlsServerName = serverName ?? host
            }
        }
        configuration.options.additionalStartupParameters = [("application_name", settings.applicationName)]
        return configuration
    }
}
