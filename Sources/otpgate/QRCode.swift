import CQREncode
import Foundation

/// A QR code from libqrencode, drawn for a terminal or as SVG.
struct QRCode {
    let size: Int
    /// Row-major; true is a dark module.
    let modules: [Bool]
    static let quietZone = 2

    init?(encoding text: String) {
        guard let code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1) else { return nil }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        size = width
        modules = (0..<(width * width)).map { code.pointee.data[$0] & 1 == 1 }
    }

    func isDark(_ row: Int, _ column: Int) -> Bool {
        guard row >= 0, column >= 0, row < size, column < size else { return false }
        return modules[row * size + column]
    }

    /// Two module rows per text line with half blocks: fits 80 columns up to a
    /// version-14 code (73 modules plus the quiet zone); an otpauth URI needs about 6. Light modules are drawn (terminals are mostly light text on a
    /// dark background), so the code reads dark-on-light to a camera.
    func halfBlocks() -> String {
        let range = -Self.quietZone..<(size + Self.quietZone)
        var out = ""
        for row in stride(from: range.lowerBound, to: range.upperBound, by: 2) {
            for column in range {
                let top = !isDark(row, column)
                let bottom = row + 1 < range.upperBound ? !isDark(row + 1, column) : false
                out += top && bottom ? "█" : top ? "▀" : bottom ? "▄" : " "
            }
            out += "\n"
        }
        return out
    }

    /// Plain ASCII: two characters per module, one line per row (needs about 2×(size+4)
    /// columns; for terminals without UTF-8).
    func ascii() -> String {
        let range = -Self.quietZone..<(size + Self.quietZone)
        return range.map { row in range.map { isDark(row, $0) ? "  " : "##" }.joined() }.joined(separator: "\n") + "\n"
    }

    func svg(moduleSize: Int = 8) -> String {
        let total = (size + 2 * Self.quietZone) * moduleSize
        var rects = ""
        for row in 0..<size {
            for column in 0..<size where isDark(row, column) {
                let x = (column + Self.quietZone) * moduleSize
                let y = (row + Self.quietZone) * moduleSize
                rects += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(moduleSize)\" height=\"\(moduleSize)\"/>"
            }
        }
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(total)" height="\(total)" viewBox="0 0 \(total) \(total)" shape-rendering="crispEdges">
            <rect width="100%" height="100%" fill="#ffffff"/><g fill="#000000">\(rects)</g>
            </svg>

            """
    }
}
