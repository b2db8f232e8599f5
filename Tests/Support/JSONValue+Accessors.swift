package import OTPGateProtocol

/// Typed reads of reply fields, nil when the value has another type.
extension JSONValue {
    package var stringValue: String? {
        if case .string(let s) = self { s } else { nil }
    }

    package var intValue: Int64? {
        if case .integer(let n) = self { n } else { nil }
    }

    package var boolValue: Bool? {
        if case .bool(let b) = self { b } else { nil }
    }

    package var arrayValue: [JSONValue]? {
        if case .array(let a) = self { a } else { nil }
    }

    package var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { o } else { nil }
    }

    package subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }
}
