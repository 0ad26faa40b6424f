import Foundation
import LiveGate
import LiveGateAlerts
import LiveGateCore
import LiveGateStock

/// Runs scenarios through a real gateway.
public enum Replay {
    /// Runs `scenario` once.
    /// - Throws: ``ReplayClientError`` or a gateway start-up error.
    public static func run(_ scenario: Scenario, options: ReplayOptions = ReplayOptions()) throws -> ReplayRun {
        let driver = try ReplayDriver(scenario: scenario, options: options)
        defer { driver.finish() }
        return try driver.run()
    }

    /// The gateway configuration of an embedded replay of `scenario` in `dataDir`.
    /// - Throws: ``SkuPolicyError`` if the focus SKU's policy with the override breaks a rule between fields.
    public static func configuration(for scenario: Scenario, policyOverride: PolicyFields?, dataDir: String, tokenSecret: String)
        throws -> Configuration
    {
        var configuration = Configuration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.ioThreads = 1
        configuration.logLevel = .warning
        configuration.shutdownGraceSeconds = 1
        configuration.dataDir = dataDir
        configuration.tokenSecret = tokenSecret
        configuration.stockClock = .external
        configuration.alerts.templates = .english
        configuration.skus = try scenario.skus.map { sku in
            var fields = sku.policy ?? PolicyFields()
            if sku.id == scenario.focusSku, let policyOverride { fields = fields.merged(with: policyOverride) }
            var policy = try fields.apply(to: configuration.alerts.defaultPolicy)
            policy.substitute = sku.substitute
            try policy.validate(horizon: configuration.alerts.horizon)
            return SkuSpec(id: sku.id, name: sku.name ?? sku.id, onHand: sku.onHand, substitute: sku.substitute, policy: policy)
        }
        configuration.rooms = [
            RoomSpec(id: scenario.room ?? "replay", title: scenario.name, skus: scenario.skus.map(\.id), featured: scenario.focusSku)
        ]
        return configuration
    }

    /// The focus SKU's policy fields as a run uses them (the defaults filled in), by name.
    static func effectivePolicy(_ scenario: Scenario, override: PolicyFields?) throws -> [(String, Double)] {
        let configuration = try configuration(for: scenario, policyOverride: override, dataDir: "", tokenSecret: "x")
        guard let policy = configuration.skus.first(where: { $0.id == scenario.focusSku })?.policy else { return [] }
        return SkuPolicy.fields.map { ($0.name, policy.value(of: $0)) }
    }
}
