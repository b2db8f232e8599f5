/// What `otpgate enroll` shows before it asks for the first code: the QR code, the
/// key and the token's parameters, laid out so that all of it and the prompt fit the
/// terminal without scrolling (80x24 included).
///
/// It tries the layouts from the roomiest to the tightest: with headings and blank
/// lines; compact (the code, one line with key and parameters, the prompt); and side
/// by side (the text to the right of the code, the prompt on its last line, for the
/// larger codes of long host or user names). For each it tries the medium
/// error-correction level, then the low one (a smaller symbol), with a quiet zone of
/// two modules, then one. When none fits (or the terminal shows no UTF-8 and the
/// ASCII drawing is too big), it says so and points to --qr-svg and the key.
struct EnrollScreen {
    let uri: String
    let key: String
    let parameters: String
    let showURI: Bool
    /// The drawing the user asked for or the terminal can show.
    let style: Style
    /// Rows and columns available; nil when standard output is not a terminal.
    let window: (rows: Int, columns: Int)?
    let colored: Bool

    enum Style { case halfBlocks, ascii }
    enum Layout: CaseIterable { case full, compact, side }

    static let keyHeading = "Or type this key into the app: "

    var text: String {
        let uriLines = showURI ? ["URI: \(uri)"] : []
        guard let (lines, layout) = drawing() else { return fallback(uriLines) }
        switch layout {
        case .full:
            return (["Scan this with your authenticator app:", ""] + lines + ["", Self.keyHeading + key, parameters] + uriLines + [""])
                .joined(separator: "\n") + "\n"
        case .compact:
            return (lines + ["Key: \(key) \(parameters)"] + uriLines).joined(separator: "\n") + "\n"
        case .side:
            // The text beside the code's upper lines; the prompt follows the last line.
            let side = sideText(width: (window?.columns ?? 80) - Self.width(of: lines) - 2)
            var out = lines.enumerated().map { index, line in
                index >= 1 && index - 1 < side.count ? line + "  " + side[index - 1] : line
            }
            out[out.count - 1] += "  "
            return (uriLines + out).joined(separator: "\n")
        }
    }

    /// Key and parameters in lines of at most `width` columns, for the side layout.
    func sideText(width: Int) -> [String] {
        let groups = key.split(separator: " ").map(String.init)
        let half = (groups.count + 1) / 2
        var lines = ["Scan it with your app,", "or type this key:"]
        lines.append(groups.prefix(half).joined(separator: " "))
        lines.append(groups.dropFirst(half).joined(separator: " "))
        // "(time-based, SHA1, 6 digits, 30 s)", broken after a comma if too wide.
        var current = ""
        for part in parameters.split(separator: ", ").map(String.init) {
            if !current.isEmpty && current.count + 1 + part.count > width {
                lines.append(current + ",")
                current = part
            } else {
                current = current.isEmpty ? part : current + ", " + part
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    func fallback(_ uriLines: [String]) -> String {
        let have = window.map { " (\($0.columns)x\($0.rows)\(style == .ascii ? ", no UTF-8" : ""))" } ?? ""
        return ([
            "The QR code does not fit this terminal\(have).",
            "Write it to a file with 'otpgate enroll --qr-svg FILE' and open that, use a",
            "UTF-8 terminal of at least 50x24 (LANG=C.UTF-8), or type the key into the app:",
            "",
            Self.keyHeading + key, parameters,
        ] + uriLines + [""]).joined(separator: "\n") + "\n"
    }

    /// The first drawing that fits, and its layout; nil if none does.
    func drawing() -> ([String], Layout)? {
        let attempts: [(QRCode.Level, Int)] = [(.medium, 2), (.low, 2), (.medium, 1), (.low, 1)]
        for layout in Layout.allCases {
            for (level, quietZone) in attempts {
                guard let qr = QRCode(encoding: uri, level: level) else { continue }
                // Left and right the full quiet zone of four modules (it costs only
                // columns); above and below as much as the rows allow.
                let lines = style == .ascii
                    ? qr.asciiLines(quietZone: quietZone, colored: colored)
                    : qr.halfBlockLines(quietZone: quietZone, sideZone: 4, colored: colored)
                guard let window else { return (lines, .full) }
                if fits(lines, layout: layout, in: window) { return (lines, layout) }
            }
        }
        return nil
    }

    func fits(_ lines: [String], layout: Layout, in window: (rows: Int, columns: Int)) -> Bool {
        let width = Self.width(of: lines)
        let uri = showURI ? 1 : 0
        switch layout {
        case .full: return width <= window.columns && lines.count + 7 + uri <= window.rows
        case .compact: return max(width, 5 + key.count + 1 + parameters.count) <= window.columns && lines.count + 2 + uri <= window.rows
        case .side:
            let room = window.columns - width - 2
            let side = sideText(width: room)
            let prompt = "Code shown by the app: ".count
            return side.allSatisfy { $0.count <= room } && prompt <= room && side.count + 1 < lines.count
                && lines.count + uri <= window.rows
        }
    }

    /// Columns a drawing takes (its colour escapes take none).
    static func width(of lines: [String]) -> Int {
        guard let line = lines.first else { return 0 }
        var count = 0
        var inEscape = false
        for scalar in line.unicodeScalars {
            if inEscape {
                if scalar == "m" { inEscape = false }
            } else if scalar == "\u{1B}" {
                inEscape = true
            } else {
                count += 1
            }
        }
        return count
    }
}
