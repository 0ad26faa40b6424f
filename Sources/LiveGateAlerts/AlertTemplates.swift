/// The texts the engine renders: viewer banners and injected danmaku per level, the host hint, the reply to a
/// viewer's stock question, and the keywords that make a danmaku a stock question.
///
/// A template is plain text with placeholders in braces; `{` and `}` are reserved for them. The placeholders:
///
/// | placeholder | value |
/// | --- | --- |
/// | `{name}` | the SKU's display name |
/// | `{left}` | sellable units ("can sell") |
/// | `{substitute}` | the substitute SKU's name, or ``substituteFallback`` when none is set |
/// | `{eta_min}` | minutes to stock-out at the current rate, rounded up (its clause is left out without a rate or when nothing is left) |
/// | `{free}` | unpaid reserved units that will probably come back (``SkuMetrics/mayFreeUp``; its clause is left out at 0) |
/// | `{free_min}` | the minutes within which they may come back (the reservation timeout, rounded up) |
/// | `{rate}` | the current rate in units per minute, one decimal (its clause is left out without a rate) |
///
/// ``validate()`` rejects any other placeholder, naming the template and the placeholder; config load calls it,
/// so a typo fails at start, never at sale time.
public struct AlertTemplates: Sendable, Hashable, Codable {
    /// The placeholders a template may use.
    public static let placeholders: Set<String> = ["name", "left", "substitute", "eta_min", "free", "free_min", "rate"]

    /// The viewers' banner at threshold.
    public var thresholdBanner: String
    /// The danmaku injected when threshold is raised.
    public var thresholdDanmaku: String
    /// The viewers' banner at emergency.
    public var emergencyBanner: String
    /// The danmaku injected when emergency is raised.
    public var emergencyDanmaku: String
    /// The viewers' banner at sold out.
    public var soldoutBanner: String
    /// The danmaku injected when the SKU sells out.
    public var soldoutDanmaku: String
    /// The host's teleprompter hint ("can sell 23 now, about 7 more may free up within 4 min").
    public var hostHint: String
    /// The reply to a stock question while units are sellable.
    public var stockReplyAvailable: String
    /// The reply to a stock question when nothing is sellable.
    public var stockReplySoldOut: String
    /// The text `{substitute}` renders to when the SKU has no substitute.
    public var substituteFallback: String
    /// Words that make a viewer's danmaku a stock question, matched as substrings, case-insensitively.
    public var stockQuestionKeywords: [String]

    /// Creates a template set from its texts.
    public init(
        thresholdBanner: String, thresholdDanmaku: String, emergencyBanner: String, emergencyDanmaku: String,
        soldoutBanner: String, soldoutDanmaku: String, hostHint: String, stockReplyAvailable: String,
        stockReplySoldOut: String, substituteFallback: String, stockQuestionKeywords: [String]
    ) {
        self.thresholdBanner = thresholdBanner
        self.thresholdDanmaku = thresholdDanmaku
        self.emergencyBanner = emergencyBanner
        self.emergencyDanmaku = emergencyDanmaku
        self.soldoutBanner = soldoutBanner
        self.soldoutDanmaku = soldoutDanmaku
        self.hostHint = hostHint
        self.stockReplyAvailable = stockReplyAvailable
        self.stockReplySoldOut = stockReplySoldOut
        self.substituteFallback = substituteFallback
        self.stockQuestionKeywords = stockQuestionKeywords
    }

    /// The default Chinese texts.
    public static let chinese = AlertTemplates(
        thresholdBanner: "库存紧张,仅剩{left}件",
        thresholdDanmaku: "这款库存不多了,想要的宝宝抓紧拍",
        emergencyBanner: "最后{left}件,手慢无",
        emergencyDanmaku: "最后{left}件,手慢无",
        soldoutBanner: "已售罄",
        soldoutDanmaku: "已售罄,没抢到的宝宝可以看看{substitute}",
        hostHint: "还能卖{left}件,约{free}件未付款可能在{free_min}分钟内释放;按当前速度约{eta_min}分钟卖完",
        stockReplyAvailable: "{name}还有{left}件,喜欢的宝宝抓紧拍",
        stockReplySoldOut: "{name}已售罄,可以看看{substitute}",
        substituteFallback: "直播间其他宝贝",
        stockQuestionKeywords: ["还有货吗", "有货吗", "还有吗", "有没有货", "还有没有", "卖完了吗", "in stock", "any left", "still available"]
    )

    /// The English texts.
    public static let english = AlertTemplates(
        thresholdBanner: "Only {left} left",
        thresholdDanmaku: "Stock is running low, grab yours now",
        emergencyBanner: "Last {left}, going fast",
        emergencyDanmaku: "Last {left}, don't miss out",
        soldoutBanner: "Sold out",
        soldoutDanmaku: "Sold out! Missed it? Have a look at {substitute}",
        hostHint: "Can sell {left} now, about {free} more may free up within {free_min} min; sells out in about {eta_min} min at this rate",
        stockReplyAvailable: "Yes! {name}: {left} left",
        stockReplySoldOut: "{name} is sold out, have a look at {substitute}",
        substituteFallback: "our other items",
        stockQuestionKeywords: ["in stock", "any left", "still available", "sold out?", "还有货吗", "有货吗", "还有吗"]
    )

    /// The templates with their config names, in a fixed order.
    var namedTemplates: [(name: String, text: String)] {
        [
            ("thresholdBanner", thresholdBanner), ("thresholdDanmaku", thresholdDanmaku),
            ("emergencyBanner", emergencyBanner), ("emergencyDanmaku", emergencyDanmaku),
            ("soldoutBanner", soldoutBanner), ("soldoutDanmaku", soldoutDanmaku),
            ("hostHint", hostHint), ("stockReplyAvailable", stockReplyAvailable),
            ("stockReplySoldOut", stockReplySoldOut),
        ]
    }

    /// Checks every template's placeholders and the keywords.
    ///
    /// - Throws: ``AlertTemplateError`` naming the template and the offending placeholder.
    /// - Complexity: O(total template length).
    public func validate() throws(AlertTemplateError) {
        _ = try compile()
    }

    /// Parses every template into segments.
    ///
    /// - Throws: ``AlertTemplateError`` naming the template and the offending placeholder.
    func compile() throws(AlertTemplateError) -> CompiledTemplates {
        if substituteFallback.contains("{") || substituteFallback.contains("}") {
            throw .reservedCharacter(template: "substituteFallback")
        }
        for keyword in stockQuestionKeywords where keyword.isEmpty {
            throw .emptyKeyword
        }
        return CompiledTemplates(
            thresholdBanner: try Template(thresholdBanner, name: "thresholdBanner"),
            thresholdDanmaku: try Template(thresholdDanmaku, name: "thresholdDanmaku"),
            emergencyBanner: try Template(emergencyBanner, name: "emergencyBanner"),
            emergencyDanmaku: try Template(emergencyDanmaku, name: "emergencyDanmaku"),
            soldoutBanner: try Template(soldoutBanner, name: "soldoutBanner"),
            soldoutDanmaku: try Template(soldoutDanmaku, name: "soldoutDanmaku"),
            hostHint: try Template(hostHint, name: "hostHint"),
            stockReplyAvailable: try Template(stockReplyAvailable, name: "stockReplyAvailable"),
            stockReplySoldOut: try Template(stockReplySoldOut, name: "stockReplySoldOut"),
            substituteFallback: substituteFallback,
            keywords: stockQuestionKeywords.map { $0.lowercased() }
        )
    }
}

/// A template that failed validation.
public enum AlertTemplateError: Error, Hashable, CustomStringConvertible {
    /// The template uses a placeholder the engine does not know.
    case unknownPlaceholder(template: String, placeholder: String)
    /// A `{` without its `}`, or a `}` without its `{`.
    case unbalancedBrace(template: String)
    /// `{` or `}` where no placeholder may be.
    case reservedCharacter(template: String)
    /// A stock-question keyword is empty (it would match every danmaku).
    case emptyKeyword

    /// A one-line explanation naming the template and the placeholder.
    public var description: String {
        switch self {
        case .unknownPlaceholder(let template, let placeholder):
            "alert template \(template): unknown placeholder {\(placeholder)}; known: "
                + AlertTemplates.placeholders.sorted().map { "{\($0)}" }.joined(separator: ", ")
        case .unbalancedBrace(let template): "alert template \(template): unbalanced { or }"
        case .reservedCharacter(let template): "alert template \(template): { and } are reserved for placeholders"
        case .emptyKeyword: "alert templates: a stock-question keyword is empty"
        }
    }
}

/// The live figures a template is rendered with.
struct TemplateValues {
    /// The SKU's display name.
    var name: String
    /// Sellable units.
    var left: Int64
    /// The substitute's name (already replaced by the fallback when there is none).
    var substitute: String
    /// Seconds to stock-out, nil when the rate is zero.
    var timeToStockOutSeconds: Double?
    /// Units that may free up.
    var free: Int64
    /// Seconds within which they may free up.
    var freeWithinSeconds: Int64
    /// Current rate, units per minute.
    var ratePerMinute: Double
}

/// One parsed template: literal text and placeholders.
struct Template: Sendable, Hashable {
    /// A piece of a template.
    enum Segment: Sendable, Hashable {
        /// Text copied as is (no clause separator in it).
        case literal(String)
        /// A clause separator (one of ``Template/clauseSeparators``), split out at parse time so that
        /// rendering appends whole pieces instead of walking characters.
        case separator(String)
        /// `{name}`.
        case name
        /// `{left}`.
        case left
        /// `{substitute}`.
        case substitute
        /// `{eta_min}`.
        case etaMinutes
        /// `{free}`.
        case free
        /// `{free_min}`.
        case freeMinutes
        /// `{rate}`.
        case rate
    }

    /// The pieces in order.
    var segments: [Segment]

    /// Parses `text`.
    ///
    /// - Parameters:
    ///   - text: the template.
    ///   - name: the template's config name, for errors.
    /// - Throws: ``AlertTemplateError`` on an unknown placeholder or an unbalanced brace.
    /// - Complexity: O(text length).
    init(_ text: String, name: String) throws(AlertTemplateError) {
        var segments: [Segment] = []
        var literal = ""
        var placeholder: String? = nil
        for character in text {
            if var open = placeholder {
                if character == "}" {
                    if !literal.isEmpty { segments.append(.literal(literal)); literal = "" }
                    switch open {
                    case "name": segments.append(.name)
                    case "left": segments.append(.left)
                    case "substitute": segments.append(.substitute)
                    case "eta_min": segments.append(.etaMinutes)
                    case "free": segments.append(.free)
                    case "free_min": segments.append(.freeMinutes)
                    case "rate": segments.append(.rate)
                    default: throw .unknownPlaceholder(template: name, placeholder: open)
                    }
                    placeholder = nil
                } else if character == "{" {
                    throw .unbalancedBrace(template: name)
                } else {
                    open.append(character)
                    placeholder = open
                }
            } else if character == "{" {
                placeholder = ""
            } else if character == "}" {
                throw .unbalancedBrace(template: name)
            } else if Self.clauseSeparators.contains(character) {
                if !literal.isEmpty { segments.append(.literal(literal)); literal = "" }
                segments.append(.separator(String(character)))
            } else {
                literal.append(character)
            }
        }
        guard placeholder == nil else { throw .unbalancedBrace(template: name) }
        if !literal.isEmpty { segments.append(.literal(literal)) }
        self.segments = segments
    }

    /// The characters that end a clause: a clause with nothing to say is left out up to its separator.
    static let clauseSeparators: Set<Character> = [",", ",", ";", ";", "。"]

    /// Renders the template with `values`, leaving out every clause with nothing to say.
    ///
    /// A clause is the text up to a separator (`,` `,` `;` `;` `。`). It has nothing to say when it holds
    /// `{free}` or `{free_min}` and no reserved unit is expected to free up, or `{eta_min}` or `{rate}` and there
    /// is no rate (nothing sold lately) or nothing left: "约0件未付款…释放", "约0分钟卖完" and "约-分钟卖完"
    /// are never printed. The clause before a left-out one takes its separator ("A, B; C" without B reads
    /// "A; C"), and a text ending in left-out clauses ends with the last kept one.
    ///
    /// - Complexity: O(output length).
    func render(_ values: TemplateValues) -> String {
        var out = ""
        var clause = ""
        var isSilent = false
        // The separator owed after the last kept clause (nil: no clause kept yet).
        var owed: String? = nil
        let hasRate = values.ratePerMinute > 0 && values.left > 0
        func finish(_ separator: String) {
            if isSilent {
                if owed != nil { owed = separator }
            } else {
                if let owed { out += owed }
                out += owed == nil ? String(clause.drop(while: { $0 == " " })) : clause
                owed = separator
            }
            clause = ""
            isSilent = false
        }
        for segment in segments {
            switch segment {
            case .literal(let text): clause += text
            case .separator(let separator): finish(separator)
            case .name: clause += values.name
            case .left: clause += String(values.left)
            case .substitute: clause += values.substitute
            case .etaMinutes:
                if hasRate, let seconds = values.timeToStockOutSeconds, seconds > 0 {
                    clause += String(Int64((seconds / 60).rounded(.up)))
                } else {
                    isSilent = true
                }
            case .free:
                if values.free > 0 { clause += String(values.free) } else { isSilent = true }
            case .freeMinutes:
                if values.free > 0 { clause += String((values.freeWithinSeconds + 59) / 60) } else { isSilent = true }
            case .rate:
                if hasRate {
                    let tenths = Int64((values.ratePerMinute * 10).rounded())
                    clause += "\(tenths / 10).\(tenths % 10)"
                } else {
                    isSilent = true
                }
            }
        }
        if clause.isEmpty && !isSilent {
            // The text ended with a separator: keep it after the last kept clause.
            if let owed { out += owed }
        } else {
            finish("")
            if let owed { out += owed }
        }
        return out
    }
}

/// The parsed form of ``AlertTemplates`` the engine renders from.
struct CompiledTemplates: Sendable, Hashable {
    /// Parsed ``AlertTemplates/thresholdBanner``.
    var thresholdBanner: Template
    /// Parsed ``AlertTemplates/thresholdDanmaku``.
    var thresholdDanmaku: Template
    /// Parsed ``AlertTemplates/emergencyBanner``.
    var emergencyBanner: Template
    /// Parsed ``AlertTemplates/emergencyDanmaku``.
    var emergencyDanmaku: Template
    /// Parsed ``AlertTemplates/soldoutBanner``.
    var soldoutBanner: Template
    /// Parsed ``AlertTemplates/soldoutDanmaku``.
    var soldoutDanmaku: Template
    /// Parsed ``AlertTemplates/hostHint``.
    var hostHint: Template
    /// Parsed ``AlertTemplates/stockReplyAvailable``.
    var stockReplyAvailable: Template
    /// Parsed ``AlertTemplates/stockReplySoldOut``.
    var stockReplySoldOut: Template
    /// ``AlertTemplates/substituteFallback``.
    var substituteFallback: String
    /// The keywords, lowercased.
    var keywords: [String]

    /// The banner template of `level`, nil below threshold.
    func banner(for level: AlertLevel) -> Template? {
        switch level {
        case .normal, .trend: nil
        case .threshold: thresholdBanner
        case .emergency: emergencyBanner
        case .soldout: soldoutBanner
        }
    }

    /// The danmaku template of `level`, nil below threshold.
    func danmaku(for level: AlertLevel) -> Template? {
        switch level {
        case .normal, .trend: nil
        case .threshold: thresholdDanmaku
        case .emergency: emergencyDanmaku
        case .soldout: soldoutDanmaku
        }
    }

    /// Whether `text` asks about stock: it contains a keyword, case-insensitively.
    ///
    /// - Complexity: O(text length × keywords).
    func isStockQuestion(_ text: String) -> Bool {
        let lowered = text.lowercased()
        return keywords.contains { lowered.contains($0) }
    }
}
