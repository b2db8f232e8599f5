extension String {
    /// True when the string has a C0 control character or DEL. Such characters have no
    /// place in names, hosts, ids or codes, and would let a client forge lines in logs.
    var containsControlCharacters: Bool {
        unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }
}
