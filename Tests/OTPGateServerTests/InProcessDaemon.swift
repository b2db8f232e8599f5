import Foundation
import NIOCore
import NIOPosix
@testable import OTPGateServer
import ServiceLifecycle
import Synchronization

/// Runs blocking socket calls on a thread of their own, off the task pool that the
/// service group needs.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        Thread { c.resume(with: Result { try body() }) }.start()
    }
}

/// The daemon run in-process as otpgated runs it: a ServiceGroup of the daemon and
/// then its housekeeping, on the fixture's handler and store, listening on real
/// sockets in the fixture's directory. `start` returns once the daemon said ready.
final class InProcessDaemon: Sendable {
    let daemon: Daemon
    let group: ServiceGroup
    let loops: MultiThreadedEventLoopGroup
    let pool: NIOThreadPool
    let stopping = Flag()
    private let run: Task<Void, any Error>

    private init(_ f: HandlerFixture, environment: [String: String], workers: Int, ready: AsyncStream<Void>.Continuation) {
        loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        pool = NIOThreadPool(numberOfThreads: workers)
        pool.start()
        let sockets = [
            ListenerSocket(kind: .public, path: f.config.socketPath),
            ListenerSocket(kind: .admin, path: f.config.adminSocketPath),
        ]
        let stopping = self.stopping
        daemon = Daemon(
            config: f.config, handler: f.handler, sockets: sockets, logger: f.log.logger, group: loops, pool: pool,
            onReady: { ready.yield() }, onStopping: { stopping.set() })
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: daemon, successTerminationBehavior: .gracefullyShutdownGroup)]
                    + daemon.housekeeping(environment: environment),
                logger: f.log.logger))
        self.group = group
        run = Task {
            defer { ready.finish() }  // so that a daemon that fails to start does not hang `start`
            try await group.run()
        }
    }

    /// `workers`: threads for privileged callers; with one, their requests run one at
    /// a time in arrival order.
    static func start(_ f: HandlerFixture, environment: [String: String] = [:], workers: Int = 2) async throws -> InProcessDaemon {
        let (ready, continuation) = AsyncStream.makeStream(of: Void.self)
        let daemon = InProcessDaemon(f, environment: environment, workers: workers, ready: continuation)
        var readiness = ready.makeAsyncIterator()
        if await readiness.next() == nil {
            try await daemon.finished()
            throw DaemonError("the daemon's services ended before it was ready")
        }
        return daemon
    }

    func triggerGracefulShutdown() async {
        await group.triggerGracefulShutdown()
    }

    /// Waits for the group to end (rethrowing what it threw), then stops the threads.
    func finished() async throws {
        try await run.value
        try await pool.shutdownGracefully()
        try await loops.shutdownGracefully()
    }

    /// Graceful shutdown, to its end.
    func stop() async throws {
        await triggerGracefulShutdown()
        try await finished()
    }

    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .relaxed) }
        var isSet: Bool { value.load(ordering: .relaxed) }
    }
}
