/// Write transactions and the writes they carried since a store was opened.
public struct WriteStatistics: Sendable, Hashable {
    /// Transactions committed or attempted: one fsync each (plus checkpoints).
    public let transactions: Int
    /// Store operations that wrote, each in its own savepoint.
    public let writes: Int
    /// The most writes one transaction carried.
    public let largestBatch: Int

    public init(transactions: Int, writes: Int, largestBatch: Int) {
        self.transactions = transactions
        self.writes = writes
        self.largestBatch = largestBatch
    }
}
