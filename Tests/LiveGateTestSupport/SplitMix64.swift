// The seeded generator tests use lives in LiveGateCore (the fault simulation uses it too); test
// targets that import this module see it without importing LiveGateCore themselves.
@_exported import struct LiveGateCore.SplitMix64
