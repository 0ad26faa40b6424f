import LiveGate

/// How a replay runs.
public struct ReplayOptions: Sendable {
    /// Where the gateway is.
    public enum Target: Sendable {
        /// A gateway started in this process on a fresh temporary data directory, with `clock: external`.
        case embedded
        /// A running gateway (started with `stock.clock: external`, a fresh data directory and the scenario's
        /// room and SKUs), whose tokens are signed with `tokenSecret`.
        case remote(host: String, port: Int, tokenSecret: String)
    }

    /// Scenario seconds per real second; nil: as fast as the gateway goes.
    public var speed: Double?
    /// Policy fields that replace the focus SKU's (a what-if run).
    public var policyOverride: PolicyFields?
    /// Where the gateway is.
    public var target: Target
    /// Receives a progress line now and then (nil: silent).
    public var progress: (@Sendable (String) -> Void)?

    /// Creates options; the default is an embedded gateway at full speed, silent.
    public init(
        speed: Double? = nil, policyOverride: PolicyFields? = nil, target: Target = .embedded,
        progress: (@Sendable (String) -> Void)? = nil
    ) {
        self.speed = speed
        self.policyOverride = policyOverride
        self.target = target
        self.progress = progress
    }
}
