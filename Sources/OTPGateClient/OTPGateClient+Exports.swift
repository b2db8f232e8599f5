// The client's results and error codes are OTPGateProtocol's types (VerifyResult,
// WireErrorCode, ...); re-exported, so `import OTPGateClient` is all a caller needs.
@_exported public import OTPGateProtocol
