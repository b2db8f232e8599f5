import Foundation
import OTPGateProtocol

/// Google Authenticator's export (`otpauth-migration://offline?data=BASE64`): a
/// protobuf `MigrationPayload` whose published schema is
///
///     message MigrationPayload {
///       repeated OtpParameters otp_parameters = 1;
///       int32 version = 2; int32 batch_size = 3; int32 batch_index = 4; int32 batch_id = 5;
///     }
///     message OtpParameters {
///       bytes secret = 1; string name = 2; string issuer = 3;
///       Algorithm algorithm = 4;   // 0 unspecified, 1 SHA1, 2 SHA256, 3 SHA512, 4 MD5
///       DigitCount digits = 5;     // 0 unspecified, 1 six, 2 eight
///       OtpType type = 6;          // 0 unspecified, 1 HOTP, 2 TOTP
///       int64 counter = 7;
///     }
///
/// Decoded by hand: it needs only varints and length-delimited fields. Unknown fields
/// are skipped, as protobuf readers do. The export has no period: it is always 30 s.
struct MigrationPayload {
    struct Entry {
        var secret: [UInt8] = []
        var name = ""
        var issuer = ""
        var algorithm = TokenAlgorithm.sha1
        var digits = 6
        var hotp = false
        var counter: UInt64 = 0
        /// Why this entry cannot be imported, if it cannot.
        var problem: String?
    }

    var entries: [Entry] = []
    var batchSize = 1
    var batchIndex = 0

    enum Parsed {
        case success(MigrationPayload)
        case failure(String)
    }

    static func parse(_ uri: String) -> Parsed {
        guard let components = URLComponents(string: uri), components.host?.lowercased() == "offline",
            let data = components.queryItems?.first(where: { $0.name == "data" })?.value, !data.isEmpty
        else { return .failure("not an otpauth-migration://offline?data=… URI") }
        // URLComponents has already undone the percent-encoding; some readers leave
        // '+' as a space.
        var base64 = data.replacingOccurrences(of: " ", with: "+")
        base64 = base64.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let bytes = Data(base64Encoded: base64) else { return .failure("the data parameter is not base64") }
        return decode(Array(bytes))
    }

    static func decode(_ bytes: [UInt8]) -> Parsed {
        var payload = MigrationPayload()
        var reader = ProtobufReader(bytes)
        do {
            while let (field, value) = try reader.next() {
                switch (field, value) {
                case (1, .bytes(let b)): payload.entries.append(try entry(b))
                case (3, .varint(let v)): payload.batchSize = Int(clamping: v)
                case (4, .varint(let v)): payload.batchIndex = Int(clamping: v)
                default: continue
                }
            }
        } catch {
            return .failure("the export payload is not a valid protobuf message (\(error.reason))")
        }
        guard !payload.entries.isEmpty else { return .failure("the export holds no accounts") }
        return .success(payload)
    }

    private static func entry(_ bytes: [UInt8]) throws(ProtobufReader.Malformed) -> Entry {
        var e = Entry()
        var reader = ProtobufReader(bytes)
        var type: UInt64 = 0
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (1, .bytes(let b)): e.secret = b
            case (2, .bytes(let b)): e.name = String(decoding: b, as: UTF8.self)
            case (3, .bytes(let b)): e.issuer = String(decoding: b, as: UTF8.self)
            case (4, .varint(let v)):
                switch v {
                case 0, 1: e.algorithm = .sha1
                case 2: e.algorithm = .sha256
                case 3: e.algorithm = .sha512
                default: e.problem = "algorithm \(v == 4 ? "MD5" : "number \(v)") is not supported"
                }
            case (5, .varint(let v)):
                switch v {
                case 0, 1: e.digits = 6
                case 2: e.digits = 8
                default: e.problem = "digit count number \(v) is unknown"
                }
            case (6, .varint(let v)): type = v
            case (7, .varint(let v)): e.counter = v
            default: continue
            }
        }
        switch type {
        case 1: e.hotp = true
        case 0, 2: e.hotp = false
        default: e.problem = e.problem ?? "OTP type number \(type) is unknown"
        }
        if e.secret.isEmpty { e.problem = e.problem ?? "it has no secret" }
        return e
    }
}

/// The two protobuf wire types the export uses; fixed32/fixed64 are skipped.
struct ProtobufReader {
    enum Value {
        case varint(UInt64)
        case bytes([UInt8])
        case skipped
    }

    struct Malformed: Error {
        let reason: String
    }

    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func varint() throws(Malformed) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw Malformed(reason: "a number runs past the end") }
            guard shift < 64 else { throw Malformed(reason: "a number is longer than 64 bits") }
            let b = bytes[offset]
            offset += 1
            value |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return value }
            shift += 7
        }
    }

    mutating func next() throws(Malformed) -> (Int, Value)? {
        guard offset < bytes.count else { return nil }
        let key = try varint()
        let field = Int(clamping: key >> 3)
        guard field > 0 else { throw Malformed(reason: "field number 0") }
        switch key & 7 {
        case 0: return (field, .varint(try varint()))
        case 1, 5:
            let size = key & 7 == 1 ? 8 : 4
            guard bytes.count - offset >= size else { throw Malformed(reason: "a fixed-size field runs past the end") }
            offset += size
            return (field, .skipped)
        case 2:
            let length = try varint()
            guard length <= UInt64(bytes.count - offset) else { throw Malformed(reason: "a field is longer than the message") }
            let b = Array(bytes[offset..<(offset + Int(length))])
            offset += Int(length)
            return (field, .bytes(b))
        default:
            throw Malformed(reason: "wire type \(key & 7) is not used by this message")
        }
    }
}
