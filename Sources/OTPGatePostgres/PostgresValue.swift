internal import NIOCore
internal import PostgresNIO

/// A value bound to a statement's placeholder, sent in binary as the type it names.
public enum PostgresValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int16(Int16)
    case int32(Int32)
    case int64(Int64)
    case double(Double)
    case text(String)
    case bytea([UInt8])

    var data: PostgresData {
        var buffer = ByteBuffer()
        switch self {
        case .null:
            return PostgresData(type: .null, value: nil)
        case .bool(let v):
            buffer.writeInteger(UInt8(v ? 1 : 0))
            return PostgresData(type: .bool, value: buffer)
        case .int16(let v):
            buffer.writeInteger(v)
            return PostgresData(type: .int2, value: buffer)
        case .int32(let v):
            buffer.writeInteger(v)
            return PostgresData(type: .int4, value: buffer)
        case .int64(let v):
            buffer.writeInteger(v)
            return PostgresData(type: .int8, value: buffer)
        case .double(let v):
            buffer.writeInteger(v.bitPattern)
            return PostgresData(type: .float8, value: buffer)
        case .text(let v):
            buffer.writeString(v)
            return PostgresData(type: .text, value: buffer)
        case .bytea(let v):
            buffer.writeBytes(v)
            return PostgresData(type: .bytea, value: buffer)
        }
    }
}
