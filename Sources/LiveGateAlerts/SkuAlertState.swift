/// The engine's hot per-SKU state: window sums, smoothed rate, pay-through counts, last figures, latches and
/// markers. Plain values only (no strings), so updating it never retains or allocates.
struct SkuAlertState: Sendable, Hashable {
    /// The velocity windows' running sums and the ring's head.
    var sums: WindowSums
    /// The EWMA's decayed demand mass, in units; the smoothed rate is `mass / τ`.
    var smoothedMass: Double = 0
    /// Core time the mass was last updated, in nanoseconds.
    var smoothedAt: Int64 = .min
    /// Decayed units paid.
    var paidMass: Double = 0
    /// Decayed units cancelled or expired.
    var lostMass: Double = 0
    /// Core time the pay-through masses were last updated, in nanoseconds.
    var payAt: Int64 = .min
    /// The figures of the last observation.
    var figures: StockFigures
    /// The level latches.
    var debouncer = AlertDebouncer()
    /// Core time of the last injected danmaku, `Int64.min` if none.
    var lastDanmakuAt: Int64 = .min
    /// Core time of the last launch marker, `Int64.min` if none.
    var launchAt: Int64 = .min
    /// Core time the sold count last crossed the watch mark, `Int64.min` if never.
    var watchCrossedAt: Int64 = .min
    /// Units in a trend window at the baseline rate when trend was last raised: the pre-surge rate its hold
    /// compares with.
    var trendBaseline: Int64 = 0
    /// The trend level's baseline, dispersion and surge score.
    var surge = SurgeDetector()

    /// Creates the state of a new SKU.
    init(window: Int, figures: StockFigures) {
        sums = WindowSums(window: window)
        self.figures = figures
    }

    /// Whether a tick can skip the SKU: no sales in either window, no latch raised, no watch-mark crossing.
    var isIdle: Bool {
        sums.isEmpty && debouncer.raised == 0 && watchCrossedAt == .min && surge.score == 0
    }
}
