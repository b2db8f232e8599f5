import Foundation
import OTPGateProtocol

/// Printing results for scripts (`--json`) and for people (tables).
enum Output {
    static func json(_ value: some Encodable) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        print(String(decoding: data, as: UTF8.self))
    }

    /// A plain table: a header row, columns padded to their widest cell.
    static func table(_ header: [String], _ rows: [[String]]) {
        let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
        func line(_ cells: [String]) -> String {
            let text = cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
            // No trailing blanks when the last cells are empty (an event without detail).
            return String(text.reversed().drop { $0 == " " }.reversed())
        }
        print(line(header))
        for row in rows { print(line(row)) }
    }

    static func time(_ t: Timestamp?) -> String { t?.rfc3339 ?? "-" }
}
