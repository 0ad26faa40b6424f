/// The pure per-SKU state machine that turns raw conditions into a level without flapping.
///
/// Each latched level (trend, threshold, emergency, soldout) is a latch:
/// - it is **raised** as soon as its *enter* condition holds (an alert is never delayed);
/// - it **falls** only when its *hold* condition (the enter condition widened by the hysteresis margin) no longer
///   holds **and** it has been up for at least the cooldown;
/// - a **restock** re-arms threshold, emergency and soldout: they fall at once when their plain enter condition
///   no longer holds, margin and cooldown notwithstanding.
///
/// The SKU's level is its most severe raised latch; ``event(_:at:cooldown:)`` reports a change of it.
/// Because a latch stays up for at least the cooldown, the same level is raised at most once per cooldown, and
/// a figure hovering at a line (inside the margin) never toggles it.
///
/// The debouncer knows nothing of stock: ``AlertEngine`` computes the enter and hold bits (see
/// `AlertEngine.evaluate`), where the hold conditions are deliberately wider than "enter plus margin" for the
/// rate-driven lines: they use the largest of the smoothed and the two window rates, and a margin of at least
/// two standard errors of the rate estimate; trend holds while the rate stays above its pre-surge baseline.
struct AlertDebouncer: Sendable, Hashable {
    /// The raw conditions of one evaluation, one bit per latched level (bit `level.rawValue − 1`).
    struct Conditions: Sendable, Hashable {
        /// Levels whose enter condition holds.
        var enter: UInt8 = 0
        /// Levels whose hold condition (with the margin) holds; a superset of ``enter`` in practice.
        var hold: UInt8 = 0
        /// Whether the change being evaluated is a restock (or release, or upward count).
        var restocked = false

        /// Sets the bits of `level`.
        mutating func set(_ level: AlertLevel, enter isEntered: Bool, hold isHeld: Bool) {
            let bit = AlertDebouncer.bit(level)
            if isEntered { enter |= bit }
            if isEntered || isHeld { hold |= bit }
        }
    }

    /// What an evaluation did to the level.
    enum Action: Sendable, Hashable {
        /// The level is unchanged.
        case none
        /// The level changed.
        case transition(from: AlertLevel, to: AlertLevel)
    }

    /// The raised latches, one bit per latched level.
    private(set) var raised: UInt8 = 0
    /// Core time the trend latch was last raised, in nanoseconds; `Int64.min` if never.
    private(set) var trendRaisedAt: Int64 = .min
    /// Core time the threshold latch was last raised, in nanoseconds; `Int64.min` if never.
    private(set) var thresholdRaisedAt: Int64 = .min
    /// Core time the emergency latch was last raised, in nanoseconds; `Int64.min` if never.
    private(set) var emergencyRaisedAt: Int64 = .min
    /// Core time the soldout latch was last raised, in nanoseconds; `Int64.min` if never.
    private(set) var soldoutRaisedAt: Int64 = .min

    /// The current level: the most severe raised latch (the highest set bit), or normal.
    var level: AlertLevel {
        raised == 0 ? .normal : AlertLevel(rawValue: UInt8(8 - raised.leadingZeroBitCount)) ?? .soldout
    }

    /// Creates a debouncer with every latch down.
    init() {}

    /// Restores a debouncer from its snapshot fields.
    init(raised: UInt8, trendRaisedAt: Int64, thresholdRaisedAt: Int64, emergencyRaisedAt: Int64, soldoutRaisedAt: Int64) {
        self.raised = raised & 0x0F
        self.trendRaisedAt = trendRaisedAt
        self.thresholdRaisedAt = thresholdRaisedAt
        self.emergencyRaisedAt = emergencyRaisedAt
        self.soldoutRaisedAt = soldoutRaisedAt
    }

    /// The bit of a latched level.
    @inline(__always)
    static func bit(_ level: AlertLevel) -> UInt8 {
        level == .normal ? 0 : 1 << (level.rawValue - 1)
    }

    /// When `level`'s latch was last raised.
    func raisedTime(_ level: AlertLevel) -> Int64 {
        switch level {
        case .normal: .min
        case .trend: trendRaisedAt
        case .threshold: thresholdRaisedAt
        case .emergency: emergencyRaisedAt
        case .soldout: soldoutRaisedAt
        }
    }

    /// Records that `level`'s latch was raised at `time`.
    private mutating func setRaisedTime(_ level: AlertLevel, _ time: Int64) {
        switch level {
        case .normal: break
        case .trend: trendRaisedAt = time
        case .threshold: thresholdRaisedAt = time
        case .emergency: emergencyRaisedAt = time
        case .soldout: soldoutRaisedAt = time
        }
    }

    /// Applies one evaluation's conditions.
    ///
    /// - Parameters:
    ///   - conditions: the raw conditions at `now`.
    ///   - now: core time in nanoseconds.
    ///   - cooldown: the minimum time a latch stays raised, in nanoseconds.
    /// - Returns: the level change, if any.
    /// - Complexity: O(1).
    mutating func event(_ conditions: Conditions, at now: Int64, cooldown: Int64) -> Action {
        let before = level
        for candidate in AlertLevel.latched {
            let bit = AlertDebouncer.bit(candidate)
            let entered = conditions.enter & bit != 0
            if raised & bit != 0 {
                let keep: Bool
                if conditions.restocked && candidate >= .threshold {
                    keep = entered
                } else {
                    let since = raisedTime(candidate)
                    keep = conditions.hold & bit != 0 || now &- since < cooldown
                }
                if !keep { raised &= ~bit }
            } else if entered {
                raised |= bit
                setRaisedTime(candidate, now)
            }
        }
        let after = level
        return after == before ? .none : .transition(from: before, to: after)
    }
}
