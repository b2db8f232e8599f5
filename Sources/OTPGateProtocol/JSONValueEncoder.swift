/// Encodes an `Encodable` value (a result struct) straight into a `JSONValue`.
///
/// It replaced `JSONEncoder` → text → `JSONDecoder` in `JSONValue(encoding:)`, and
/// gives the value that round trip gave: integers as `.integer` (a `UInt64` above
/// `Int64.max` as the `.number` the text would have been read as), floating-point
/// numbers as `JSONReader` reads the text `JSONWriter` writes for them (so `2.0`
/// becomes `.integer(2)`), `nil` from `encodeNil` as `.null` (keys left out by
/// `encodeIfPresent` stay out), the last of two values under one key, and an empty
/// object for a value that encodes nothing. NaN and infinity throw, as JSONEncoder
/// did. Compared with the round trip in `JSONReaderDifferentialTests`.
struct JSONValueEncoder {
    static func encode(_ value: some Encodable) throws -> JSONValue {
        let encoder = ValueEncoder(codingPath: [])
        try value.encode(to: encoder)
        return encoder.storage.value ?? .object([:])
    }
}

/// A node under construction: containers are shared by reference, because a nested
/// container is filled after it has been handed to its parent.
private final class Node {
    enum Content {
        case empty
        case single(JSONValue)
        case object([String: Node])
        case array([Node])
    }

    var content: Content = .empty

    var value: JSONValue? {
        switch content {
        case .empty: nil
        case .single(let v): v
        case .object(let members): .object(members.mapValues { $0.value ?? .object([:]) })
        case .array(let elements): .array(elements.map { $0.value ?? .object([:]) })
        }
    }

    func makeObject() {
        if case .object = content { return }
        content = .object([:])
    }

    func makeArray() {
        if case .array = content { return }
        content = .array([])
    }
}

private struct IndexKey: CodingKey {
    var stringValue: String { "Index \(intValue!)" }
    var intValue: Int?
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private final class ValueEncoder: Encoder {
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    let storage: Node

    init(codingPath: [any CodingKey], storage: Node = Node()) {
        self.codingPath = codingPath
        self.storage = storage
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        storage.makeObject()
        return KeyedEncodingContainer(KeyedContainer<Key>(node: storage, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        storage.makeArray()
        return UnkeyedContainer(node: storage, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleContainer(node: storage, codingPath: codingPath)
    }
}

/// Scalars as the JSONEncoder → JSONDecoder round trip left them.
private enum Scalar {
    static func integer(_ v: some BinaryInteger) -> JSONValue {
        if let i = Int64(exactly: v) { return .integer(i) }
        return number(Double(v))
    }

    static func number(_ d: Double) -> JSONValue {
        var writer = JSONWriter()
        try? writer.write(.number(d))
        return (try? JSONReader.parse(writer.bytes)) ?? .number(d)
    }

    static func floating(_ d: Double, path: [any CodingKey]) throws -> JSONValue {
        guard d.isFinite else {
            throw EncodingError.invalidValue(d, .init(codingPath: path, debugDescription: "Unable to encode Double.\(d) directly in JSON."))
        }
        return number(d)
    }
}

private struct SingleContainer: SingleValueEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]

    private func set(_ v: JSONValue) { node.content = .single(v) }

    mutating func encodeNil() throws { set(.null) }
    mutating func encode(_ value: Bool) throws { set(.bool(value)) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Double) throws { set(try Scalar.floating(value, path: codingPath)) }
    mutating func encode(_ value: Float) throws { set(try Scalar.floating(Double(value), path: codingPath)) }
    mutating func encode(_ value: Int) throws { set(Scalar.integer(value)) }
    mutating func encode(_ value: Int8) throws { set(Scalar.integer(value)) }
    mutating func encode(_ value: Int16) throws { set(Scalar.integer(value)) }
    mutating func encode(_ value: Int32) throws { set(Scalar.integer(value)) }
    mutating func encode(_ value: Int64) throws { set(Scalar.integer(value)) }
    mutating func encode(_ value: UInt) throws { set(Scalar.integer(value)) }
    mutating func encode(_ value: UInt8) throws { set(Scalar.integer(value)) }
    mutating func encode(_ value: UInt16) throws { set(Scalar.integer(value)) }
    mutating func encode(_ value: UInt32) throws { set(Scalar.integer(value)) }
    mutating func encode(_ value: UInt64) throws { set(Scalar.integer(value)) }
    mutating func encode(_ value: some Encodable) throws {
        try value.encode(to: ValueEncoder(codingPath: codingPath, storage: node))
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    let codingPath: [any CodingKey]

    private func child(_ key: Key) -> Node {
        let child = Node()
        if case .object(var members) = node.content {
            node.content = .empty  // keep `members` uniquely referenced while it changes
            members[key.stringValue] = child
            node.content = .object(members)
        }
        return child
    }

    private func set(_ v: JSONValue, _ key: Key) { child(key).content = .single(v) }

    mutating func encodeNil(forKey key: Key) throws { set(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { set(try Scalar.floating(value, path: codingPath + [key]), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { set(try Scalar.floating(Double(value), path: codingPath + [key]), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(Scalar.integer(value), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(Scalar.integer(value), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(Scalar.integer(value), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(Scalar.integer(value), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(Scalar.integer(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { set(Scalar.integer(value), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(Scalar.integer(value), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(Scalar.integer(value), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { set(Scalar.integer(value), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { set(Scalar.integer(value), key) }

    mutating func encode(_ value: some Encodable, forKey key: Key) throws {
        let node = child(key)
        try value.encode(to: ValueEncoder(codingPath: codingPath + [key], storage: node))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let node = child(key)
        node.makeObject()
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(node: node, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let node = child(key)
        node.makeArray()
        return UnkeyedContainer(node: node, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder {
        ValueEncoder(codingPath: codingPath, storage: child(Key(stringValue: "super")!))
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        ValueEncoder(codingPath: codingPath + [key], storage: child(key))
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]

    var count: Int {
        if case .array(let elements) = node.content { elements.count } else { 0 }
    }

    private func append() -> Node {
        let child = Node()
        if case .array(var elements) = node.content {
            node.content = .empty
            elements.append(child)
            node.content = .array(elements)
        }
        return child
    }

    private func add(_ v: JSONValue) { append().content = .single(v) }
    private var nextPath: [any CodingKey] { codingPath + [IndexKey(count)] }

    mutating func encodeNil() throws { add(.null) }
    mutating func encode(_ value: Bool) throws { add(.bool(value)) }
    mutating func encode(_ value: String) throws { add(.string(value)) }
    mutating func encode(_ value: Double) throws { add(try Scalar.floating(value, path: nextPath)) }
    mutating func encode(_ value: Float) throws { add(try Scalar.floating(Double(value), path: nextPath)) }
    mutating func encode(_ value: Int) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: Int8) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: Int16) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: Int32) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: Int64) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: UInt) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: UInt8) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: UInt16) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: UInt32) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: UInt64) throws { add(Scalar.integer(value)) }

    mutating func encode(_ value: some Encodable) throws {
        let path = nextPath
        try value.encode(to: ValueEncoder(codingPath: path, storage: append()))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let path = nextPath
        let node = append()
        node.makeObject()
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(node: node, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = nextPath
        let node = append()
        node.makeArray()
        return UnkeyedContainer(node: node, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        ValueEncoder(codingPath: nextPath, storage: append())
    }
}
