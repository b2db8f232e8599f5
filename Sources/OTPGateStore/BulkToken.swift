public import OTPCore

/// One user and token to load with `OTPStore.bulkLoad` (benchmarks only).
@_spi(Benchmark)
public struct BulkToken: Sendable {
    public var user: String
    public var name: String
    public var parameters: OTPParameters
    public var secret: [UInt8]
    public var initialCounter: UInt64
    /// The last accepted step or counter, as if a first code had been used.
    public var watermark: UInt64?

    public init(
        user: String, name: String, parameters: OTPParameters, secret: [UInt8], initialCounter: UInt64 = 0,
        watermark: UInt64? = nil
    ) {
        self.user = user
        self.name = name
        self.parameters = parameters
        self.secret = secret
        self.initialCounter = initialCounter
        self.watermark = watermark
    }
}
