public import PostgresNIO

/// One row a statement returned, decoded by the caller with postgres-nio's decoders.
///
/// Why not `PostgresRow` itself: postgres-nio 1.33.2 asks for every result column in
/// binary (its Bind message), but a statement prepared with `prepare(query:)` keeps
/// the column formats of the statement's Describe, which PostgreSQL always reports as
/// text; its rows then decode binary bytes as text (a bigint 20716 fails to decode).
/// Here every cell carries the format the server actually sent.
public struct PostgresResultRow: Sendable {
    public let cells: [PostgresCell]
    let statement: String

    init(_ row: PostgresRow, statement: String) {
        self.cells = row.map { cell in
            var cell = cell
            cell.format = .binary
            return cell
        }
        self.statement = statement
    }

    public var count: Int { cells.count }

    /// The value of column `column` (from 0) as `T`.
    public func decode<T: PostgresDecodable>(_ type: T.Type, column: Int) throws(PostgresStoreError) -> T {
        guard column >= 0, column < cells.count else {
            throw PostgresStoreError(.unexpectedResult, "statement \(statement) returned \(cells.count) columns, not \(column + 1)")
        }
        let cell = cells[column]
        do {
            return try cell.decode(T.self)
        } catch {
            throw PostgresStoreError(
                .unexpectedResult,
                "column \(column) (\(cell.columnName)) of statement \(statement) is \(cell.dataType), which does not decode as \(T.self)")
        }
    }

    /// The whole row as a tuple, `row.decode((Int64, String?).self)`; the tuple must have
    /// as many elements as the row has columns.
    public func decode<each T: PostgresDecodable>(_ types: (repeat each T).Type) throws(PostgresStoreError) -> (repeat each T) {
        var expected = 0
        for _ in repeat (each T).self { expected += 1 }
        guard expected == cells.count else {
            throw PostgresStoreError(.unexpectedResult, "statement \(statement) returned \(cells.count) columns, not \(expected)")
        }
        var index = 0
        func next<U: PostgresDecodable>(_: U.Type) throws(PostgresStoreError) -> U {
            defer { index += 1 }
            return try decode(U.self, column: index)
        }
        return (repeat try next((each T).self))
    }
}
