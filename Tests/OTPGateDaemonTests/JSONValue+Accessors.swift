import OTPGateProtocol

/// Typed reads of reply fields, nil when the value has another type.
extension JSONValue {
    var stringValue: String? {
        if case .string(let s) = self { s } else { nil }
    }

    var intValue: Int64? {
        if case .integer(let n) = self { n } else { nil }
    }

    var boolValue: Bool? {
        if case .bool(let b) = self { b } else { nil }
    }

    var arrayValue: [JSONValue]? {
        if case .array(let a) = self { a } else { nil }
    }

    var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { o } else { nil }
    }

    subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }
}
