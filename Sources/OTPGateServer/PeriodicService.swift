import ServiceLifecycle

/// Runs `body` every `interval` until graceful shutdown: the daemon's housekeeping
/// (clock check, enrolment purge, refusal counts, audit retention, watchdog), each a
/// service of its own in the daemon's ServiceGroup.
struct PeriodicService: Service, CustomStringConvertible {
    let description: String
    let interval: Duration
    /// Also run once at start.
    let runsAtStart: Bool
    let body: @Sendable () async -> Void

    init(_ name: String, every interval: Duration, runsAtStart: Bool = false, _ body: @escaping @Sendable () async -> Void) {
        self.description = name
        self.interval = interval
        self.runsAtStart = runsAtStart
        self.body = body
    }

    func run() async throws {
        if runsAtStart { await body() }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                await body()
            }
        }
    }
}
