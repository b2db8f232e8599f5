import ArgumentParser

/// How a load run is shaped, for `load` (a daemon it starts) and `drive` (daemons
/// already running): connections, closed or open loop, how long, and the request mix.
struct LoadShapeOptions: ParsableArguments {
    @Option(help: "Concurrent connections (each has one request in flight).")
    var connections = 64

    @Option(help: "Measured seconds.")
    var duration = 10.0

    @Option(help: "Seconds of load before measuring starts.")
    var warmup = 2.0

    @Option(help: "Open loop: requests per second over all connections. Without it: closed loop.")
    var rate: Double?

    @Option(help: "Request mix, e.g. valid=90,wrong=5,replay=5.")
    var mix = RequestMix(valid: 90, wrong: 5, replay: 5)
}
