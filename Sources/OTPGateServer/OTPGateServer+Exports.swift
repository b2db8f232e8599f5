// The daemon's library is configured with `ServerConfig`, which lives in OTPGateConfig
// so that the CLI can read the same file without linking the server. Re-exported, so
// every file here and every user of OTPGateServer sees it as before.
@_exported public import OTPGateConfig
