/// A result member whose value is secret: one string (`secret`, `uri`) or an array
/// of strings (`recovery_codes`).
public enum SecretMember: Sendable {
    case string(any SecretText)
    case strings([any SecretText])
}
