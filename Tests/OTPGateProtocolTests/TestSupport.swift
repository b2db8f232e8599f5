import OTPGateProtocol

func parse(_ line: String) throws(RequestError) -> Request {
    try Request.parse(line: Array(line.utf8))
}

/// The error a line is rejected with, or nil if it parses.
func rejection(_ line: some Collection<UInt8>) -> RequestError? {
    do {
        _ = try Request.parse(line: line)
        return nil
    } catch {
        return error
    }
}

func rejection(_ line: String) -> RequestError? {
    rejection(Array(line.utf8))
}
