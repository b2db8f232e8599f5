internal import COpenSSL

/// Plaintext secret bytes (a token secret, its base32 text, an otpauth URI, recovery
/// codes, a reply line that carries them) in memory this object owns, zeroed with
/// `OPENSSL_cleanse` when the object goes away and whenever it grows.
///
/// Why not `String` or `[UInt8]`: their storage is freed without being cleared, and
/// every concatenation, interpolation or growth leaves another copy behind in the
/// heap, where a core dump (or a later heap bug) finds it. Here there is one copy,
/// and it is wiped.
///
/// A class so that it has a deinit and is never copied implicitly. Not synchronised:
/// it is built on one thread and may be handed to another (hence `@unchecked
/// Sendable`), never used from two at once.
public final class SecretBytes: @unchecked Sendable {
    private var storage: UnsafeMutableRawBufferPointer
    public private(set) var count: Int

    /// Empty, with room for `capacity` bytes before it has to grow.
    public init(capacity: Int = 64) {
        storage = Self.allocate(max(capacity, 16))
        count = 0
    }

    /// `count` zero bytes, to be filled through `withUnsafeMutableBytes`.
    public init(zeros count: Int) {
        precondition(count >= 0)
        storage = Self.allocate(max(count, 16))
        self.count = count
    }

    deinit {
        Self.wipe(storage)
        storage.deallocate()
    }

    public var isEmpty: Bool { count == 0 }

    public subscript(index: Int) -> UInt8 {
        precondition(index >= 0 && index < count, "SecretBytes index out of range")
        return storage[index]
    }

    public func append(_ byte: UInt8) {
        reserve(1)
        storage[count] = byte
        count += 1
    }

    public func append(contentsOf bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        reserve(bytes.count)
        UnsafeMutableRawBufferPointer(rebasing: storage[count..<(count + bytes.count)]).copyMemory(from: bytes)
        count += bytes.count
    }

    public func append(_ other: SecretBytes) {
        other.withUnsafeBytes { append(contentsOf: $0) }
    }

    /// Text that is not secret (a field name, a parameter): no copy of it needs wiping.
    public func append(_ text: String) {
        var text = text
        text.withUTF8 { append(contentsOf: UnsafeRawBufferPointer($0)) }
    }

    /// The bytes, lent for the call; the pointer must not escape it.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }

    public func withUnsafeMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// Whether both hold the same bytes, in time that depends only on the lengths.
    public func equals(_ other: SecretBytes) -> Bool {
        withUnsafeBytes { a in
            other.withUnsafeBytes { b in
                guard a.count == b.count else { return false }
                var difference: UInt8 = 0
                for i in 0..<a.count { difference |= a[i] ^ b[i] }
                return difference == 0
            }
        }
    }

    /// Zeroes the contents now and empties it (the capacity stays).
    public func wipe() {
        Self.wipe(storage)
        count = 0
    }

    /// Zeroes `memory` in a way the compiler cannot leave out as a dead store.
    public static func wipe(_ memory: UnsafeMutableRawBufferPointer) {
        guard let base = memory.baseAddress, memory.count > 0 else { return }
        OPENSSL_cleanse(base, memory.count)
    }

    private func reserve(_ extra: Int) {
        let needed = count + extra
        guard needed > storage.count else { return }
        var capacity = storage.count
        while capacity < needed { capacity *= 2 }
        let grown = Self.allocate(capacity)
        UnsafeMutableRawBufferPointer(rebasing: grown[0..<count])
            .copyMemory(from: UnsafeRawBufferPointer(rebasing: storage[0..<count]))
        Self.wipe(storage)
        storage.deallocate()
        storage = grown
    }

    private static func allocate(_ capacity: Int) -> UnsafeMutableRawBufferPointer {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        memory.initializeMemory(as: UInt8.self, repeating: 0)
        return memory
    }
}
