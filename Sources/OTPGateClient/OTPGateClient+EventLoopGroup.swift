public import Logging
public import NIOCore

extension OTPGateClient {
    /// A client whose calls run on `eventLoopGroup` (for a service that has a group of
    /// its own, as with postgres-nio's `PostgresClient`). The group must outlive the
    /// client's calls.
    public init(configuration: Configuration, eventLoopGroup: any EventLoopGroup, backgroundLogger: Logger? = nil) {
        self.init(configuration: configuration, group: eventLoopGroup, backgroundLogger: backgroundLogger)
    }
}
