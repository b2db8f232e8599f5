internal import Dispatch
internal import NIOCore
internal import PostgresNIO
internal import Synchronization

/// One call through the pool, from waiting for a connection to its result. Whoever ends
/// it first (the result, an error, the deadline) wins; the others learn that it ended.
final class PostgresPoolCall: Sendable {
    enum Phase {
        /// Queued for a connection (all `poolSize` are leased).
        case waiting
        /// Opening a new connection for this call; the connection once it exists.
        case opening(PostgresConnection?)
        /// Holding a connection, nothing sent yet.
        case leased
        /// The statement is on the wire.
        case running(PooledConnection)
        case finished
    }

    struct State {
        var phase = Phase.waiting
        var result: Result<[PostgresResultRow], PostgresStoreError>?
        var timer: Scheduled<Void>?
    }

    let statement: PostgresStatement
    let binds: [PostgresValue]
    let deadline: NIODeadline
    let budget: Duration
    let loop: any EventLoop
    let promise: EventLoopPromise<[PostgresResultRow]>
    private let ended = DispatchSemaphore(value: 0)
    private let state = Mutex(State())

    init(statement: PostgresStatement, binds: [PostgresValue], budget: Duration, loop: any EventLoop) {
        self.statement = statement
        self.binds = binds
        self.budget = budget
        self.deadline = .now() + .nanoseconds(Self.nanoseconds(budget))
        self.loop = loop
        self.promise = loop.makePromise()
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (s, atto) = d.components
        return max(0, s) * 1_000_000_000 + atto / 1_000_000_000
    }

    var remaining: Int64 { (deadline - .now()).nanoseconds }

    func setTimer(_ timer: Scheduled<Void>) {
        let cancel = state.withLock { state -> Bool in
            if case .finished = state.phase { return true }
            state.timer = timer
            return false
        }
        if cancel { timer.cancel() }
    }

    /// Ends the call with `result`; false if it had already ended.
    @discardableResult
    func finish(_ result: Result<[PostgresResultRow], PostgresStoreError>) -> Bool {
        let timer = state.withLock { state -> Scheduled<Void>?? in
            if case .finished = state.phase { return .none }
            state.phase = .finished
            state.result = result
            defer { state.timer = nil }
            return .some(state.timer)
        }
        guard let timer else { return false }
        timer?.cancel()
        promise.completeWith(result.mapError { $0 as any Error })
        ended.signal()
        return true
    }

    /// Ends the call because its deadline passed (or its task was cancelled) and returns
    /// the phase it was in, which says what to close; nil if it had already ended.
    func expire(_ error: (Phase) -> PostgresStoreError) -> Phase? {
        let ended = state.withLock { state -> (Phase, PostgresStoreError, Scheduled<Void>?)? in
            if case .finished = state.phase { return nil }
            let phase = state.phase
            let e = error(phase)
            state.phase = .finished
            state.result = .failure(e)
            defer { state.timer = nil }
            return (phase, e, state.timer)
        }
        guard let (phase, e, timer) = ended else { return nil }
        timer?.cancel()
        promise.fail(e)
        self.ended.signal()
        return phase
    }

    /// Moves to `next` unless the call has ended.
    func advance(to next: Phase) -> Bool {
        state.withLock { state in
            if case .finished = state.phase { return false }
            state.phase = next
            return true
        }
    }

    /// Blocks the calling thread until the call ends or until `deadline` (the caller
    /// then expires it); the result is read from the call itself, so an event loop that
    /// is late cannot make this thread wait past the deadline.
    func waitUntilEnded(orUntil deadline: DispatchTime) -> Bool {
        ended.wait(timeout: deadline) == .success
    }

    var result: Result<[PostgresResultRow], PostgresStoreError>? { state.withLock { $0.result } }
}
