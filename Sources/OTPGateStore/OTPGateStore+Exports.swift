// Callers of the SQLite store see the contract types (models, errors, keys) with it.
@_exported public import OTPGateStoreContract
