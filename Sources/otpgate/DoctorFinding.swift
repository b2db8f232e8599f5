import Foundation

/// One line of `otpgate admin doctor`: ok, warn or fail, what it found, where (a file
/// and line when the finding is about one), and for a problem the fix.
struct DoctorFinding: Encodable, Sendable {
    enum Level: String, Encodable, Sendable {
        case ok, warn, fail
    }

    let level: Level
    let what: String
    let fix: String?
    let file: String?
    let line: Int?

    init(_ level: Level, _ what: String, fix: String? = nil, file: String? = nil, line: Int? = nil) {
        self.level = level
        self.what = what
        self.fix = fix
        self.file = file
        self.line = line
    }

    /// For people: `FAIL  FILE:LINE: what` and the fix indented below it.
    var text: String {
        let tag = level == .fail ? "FAIL" : level.rawValue
        let place = file.map { file in line.map { "\(file):\($0): " } ?? "\(file): " } ?? ""
        return tag.padding(toLength: 5, withPad: " ", startingAt: 0) + " " + place + what + (fix.map { "\n      fix: \($0)" } ?? "")
    }
}
