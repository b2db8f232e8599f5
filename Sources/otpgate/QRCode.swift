import CQREncode
import Foundation

/// A QR code from libqrencode, drawn for a terminal or as SVG.
struct QRCode {
    enum Level { case low, medium }

    let size: Int
    /// Row-major; true is a dark module.
    let modules: [Bool]
    /// Light modules around the symbol in the SVG (the standard's four).
    static let svgQuietZone = 4

    init?(encoding text: String, level: Level = .medium) {
        let ec = level == .low ? QR_ECLEVEL_L : QR_ECLEVEL_M
        guard let code = QRcode_encodeString(text, 0, ec, QR_MODE_8, 1) else { return nil }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        size = width
        modules = (0..<(width * width)).map { code.pointee.data[$0] & 1 == 1 }
    }

    func isDark(_ row: Int, _ column: Int) -> Bool {
        guard row >= 0, column >= 0, row < size, column < size else { return false }
        return modules[row * size + column]
    }

    /// Lines of the drawing for a terminal, `quietZone` light modules around it.
    ///
    /// Half blocks: two module rows per text line, one column per module, so a
    /// version-6 code (41 modules, what an otpauth URI usually needs) takes 22 lines.
    /// With `colored`, every line is black on bright white (SGR 30;107) and dark
    /// modules are the foreground, so the code reads dark-on-light to a camera on a
    /// dark and on a light terminal alike; without colour (not a terminal) dark
    /// modules are the text colour, right for dark text on a light background.
    /// `sideZone` is the quiet zone left and right, which costs columns, not lines.
    func halfBlockLines(quietZone: Int, sideZone: Int? = nil, colored: Bool) -> [String] {
        let range = -quietZone..<(size + quietZone)
        let side = sideZone ?? quietZone
        let columns = -side..<(size + side)
        return stride(from: range.lowerBound, to: range.upperBound, by: 2).map { row in
            var line = colored ? "\u{1B}[30;107m" : ""
            for column in columns {
                let top = isDark(row, column)
                let bottom = row + 1 < range.upperBound && isDark(row + 1, column)
                line += top && bottom ? "█" : top ? "▀" : bottom ? "▄" : " "
            }
            return line + (colored ? "\u{1B}[0m" : "")
        }
    }

    /// Plain ASCII, two columns per module and one line per row (about square in a
    /// terminal font). With `colored`, modules are coloured spaces (black, bright
    /// white), which read the same on any background; without, light modules are
    /// `##` (right for light text on a dark background).
    func asciiLines(quietZone: Int, colored: Bool) -> [String] {
        let range = -quietZone..<(size + quietZone)
        return range.map { row in
            let cells = range.map { column in
                colored ? (isDark(row, column) ? "\u{1B}[40m  " : "\u{1B}[107m  ") : (isDark(row, column) ? "  " : "##")
            }
            return cells.joined() + (colored ? "\u{1B}[0m" : "")
        }
    }

    func svg(moduleSize: Int = 8) -> String {
        let total = (size + 2 * Self.svgQuietZone) * moduleSize
        var rects = ""
        for row in 0..<size {
            for column in 0..<size where isDark(row, column) {
                let x = (column + Self.svgQuietZone) * moduleSize
                let y = (row + Self.svgQuietZone) * moduleSize
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
