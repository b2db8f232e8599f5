extension Reply {
    /// The reply line, byte for byte what `line` gives for the same reply with
    /// `secrets` as ordinary string members of its result, written into `output`
    /// (memory the caller wipes) so that the secrets never pass through a String.
    /// A failure has no result, so it leaves `secrets` out; so does a success for a
    /// key it already has (as the envelope wins over result fields in `line`).
    public func writeLine(secrets: [String: SecretMember] = [:], into output: inout some JSONOutput) {
        let object = jsonObject
        var keys = Array(object.keys)
        if isSuccess { keys += secrets.keys.filter { object[$0] == nil } }
        keys.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var writer = JSONWriter(into: output)
        writer.append("{")
        for (i, key) in keys.enumerated() {
            if i > 0 { writer.append(",") }
            writer.writeString(utf8: key.utf8)
            writer.append(":")
            if let value = object[key] {
                // A reply is a few levels deep: the writer's limit (511) is never hit.
                if (try? writer.write(value, depth: 1)) == nil { writer.append("null") }
                continue
            }
            switch secrets[key]! {
            case .string(let text):
                text.withUTF8Bytes { writer.writeString(utf8: $0) }
            case .strings(let texts):
                writer.append("[")
                for (j, text) in texts.enumerated() {
                    if j > 0 { writer.append(",") }
                    text.withUTF8Bytes { writer.writeString(utf8: $0) }
                }
                writer.append("]")
            }
        }
        writer.append("}\n")
        output = writer.output
    }
}
