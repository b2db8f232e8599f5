/// A string value that a reply carries without it ever being a Swift `String` (whose
/// memory is freed without being cleared): UTF-8 bytes in memory its owner wipes,
/// lent to the writer for the time of one call.
public protocol SecretText: Sendable {
    func withUTF8Bytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R
}
