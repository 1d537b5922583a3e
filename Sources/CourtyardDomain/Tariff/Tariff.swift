/// What a quote is asked to price.
public struct QuoteInput: Sendable, Hashable {
    /// Metered usage in this period.
    public var usage: Quantity?
    /// Usage already counted in the accumulation span (the month or year so far): where tier position starts.
    public var position: Quantity
    /// Multiplier for tier bounds (多人口家庭: larger quotas), in thousandths; 1000 = as published.
    public var quotaScaleThousandths: Int64
    /// Usage per time-of-use window; must sum to `usage` when the rule has windows.
    public var windowUsage: [String: Quantity]?
    /// For per-m² rules.
    public var area: Area?
    /// Months charged (per-m² and fixed rules).
    public var months: Int64
    /// For per-duration rules.
    public var durationSeconds: Int64?

    public init(
        usage: Quantity? = nil, position: Quantity = .zero, quotaScaleThousandths: Int64 = 1000,
        windowUsage: [String: Quantity]? = nil, area: Area? = nil, months: Int64 = 1, durationSeconds: Int64? = nil
    ) {
        self.usage = usage
        self.position = position
        self.quotaScaleThousandths = quotaScaleThousandths
        self.windowUsage = windowUsage
        self.area = area
        self.months = months
        self.durationSeconds = durationSeconds
    }
}

/// A priced quantity: its lines, exact total, and the amount rounded once with the rule's mode.
public struct Quote: Codable, Sendable, Hashable {
    public var lines: [QuoteLine]
    public var exact: ExactAmount
    public var rounding: RoundingMode
    /// The rounded total, or the minimum charge when that is higher.
    public var amount: Money
    public var minimumApplied: Bool
}

/// Why a quote could not be computed; each names the input at fault.
public enum TariffError: Error, Hashable, Sendable {
    case invalidRule([RuleIssue])
    case missingInput(String)
    case invalidInput(field: String, message: String)
    case overflow
}

extension ExactAmount: Codable {
    /// Exact amounts travel as decimal strings with seven fraction digits ("444.1950000").
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = ExactAmount(decimalText: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected an exact amount"))
        }
        self = value
    }

    /// Parses the ``decimalText`` form ("444.1950000", "-3.5"): at most seven fraction digits.
    public init?(decimalText text: String) {
        let negative = text.hasPrefix("-")
        let parts = text.drop(while: { $0 == "-" }).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = Int128(parts[0]), parts.count == 1 || (parts[1].count <= 7 && Int128(parts[1]) != nil) else {
            return nil
        }
        guard whole >= 0, whole.magnitude < UInt128(1) << 100 else { return nil }
        var fraction: Int128 = parts.count == 2 ? Int128(parts[1]) ?? 0 : 0
        for _ in 0..<(7 - (parts.count == 2 ? parts[1].count : 0)) { fraction *= 10 }
        let value = whole * 10_000_000 + fraction
        self.init(tenMillionths: negative ? -value : value)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(decimalText)
    }
}

/// Prices quantities with a ``PricingRule``. Pure and deterministic.
public enum Tariff {
    /// Prices `input` with `rule`, or says which rule field or input is wrong.
    public static func quote(_ rule: PricingRule, _ input: QuoteInput) throws(TariffError) -> Quote {
        let issues = rule.validate()
        guard issues.isEmpty else { throw .invalidRule(issues) }
        return try quote(validated: rule, input)
    }

    /// Like ``quote(_:_:)`` for a rule the caller has already validated (a bill run validates each standard once, not per house).
    public static func quote(validated rule: PricingRule, _ input: QuoteInput) throws(TariffError) -> Quote {
        var lines: [QuoteLine] = []
        switch rule.kind {
        case .fixed:
            guard input.months > 0 else { throw .invalidInput(field: "months", message: "months must be at least 1") }
            let amount = rule.amount!
            guard let exact = product(Int128(amount.minorUnits), 100_000, Int128(input.months)) else { throw .overflow }
            lines.append(
                QuoteLine(
                    .fixed(months: input.months), tier: nil, window: nil, quantity: nil, unitPrice: nil,
                    exact: ExactAmount(tenMillionths: exact)))
        case .perArea:
            guard let area = input.area else { throw .missingInput("area") }
            guard area.hundredths > 0 else { throw .invalidInput(field: "area", message: "area must be greater than 0") }
            guard input.months > 0 else { throw .invalidInput(field: "months", message: "months must be at least 1") }
            let price = rule.pricePerSquareMetre!
            // 1e-4 yuan × 1e-2 m² = 1e-6 yuan = 10 × 1e-7.
            guard let exact = product(Int128(price.tenThousandths), Int128(area.hundredths), 10, Int128(input.months)) else {
                throw .overflow
            }
            lines.append(
                QuoteLine(
                    .area(area, months: input.months), tier: nil, window: nil, quantity: nil, unitPrice: price,
                    exact: ExactAmount(tenMillionths: exact)))
        case .metered:
            lines = try metered(rule, input)
        case .perDuration:
            guard let seconds = input.durationSeconds else { throw .missingInput("duration_seconds") }
            guard seconds >= 0 else { throw .invalidInput(field: "duration_seconds", message: "duration must not be negative") }
            // One line per day: a bound keeps both the arithmetic and the answer small (a year is a long parking stay).
            guard seconds <= maximumDurationSeconds else {
                throw .invalidInput(field: "duration_seconds", message: "duration is at most 366 days (31,622,400 s)")
            }
            lines = duration(rule.duration!, seconds: seconds)
        }
        var total: Int128 = 0
        for line in lines {
            let (sum, overflow) = total.addingReportingOverflow(line.exact.tenMillionths)
            guard !overflow else { throw .overflow }
            total = sum
        }
        let exact = ExactAmount(tenMillionths: total)
        guard let rounded = exact.rounded(rule.rounding) else { throw .overflow }
        var amount = rounded
        var minimumApplied = false
        if let minimum = rule.minimumCharge, rounded.minorUnits < minimum.minorUnits {
            amount = minimum
            minimumApplied = true
        }
        return Quote(lines: lines, exact: exact, rounding: rule.rounding, amount: amount, minimumApplied: minimumApplied)
    }

    /// The product of `factors`, or `nil` when it does not fit in Int128 (an area or a month count from outside can be
    /// anything; found by fuzzing, issue 25).
    static func product(_ factors: Int128...) -> Int128? {
        var result: Int128 = 1
        for factor in factors {
            let (next, overflow) = result.multipliedReportingOverflow(by: factor)
            guard !overflow else { return nil }
            result = next
        }
        return result
    }

    /// Tier bounds after quota scaling (floored to whole milli-units).
    static func bounds(_ tiers: [PricingRule.Tier], scale: Int64) -> [Int128?] {
        tiers.map { tier in tier.upTo.map { Int128($0.milliUnits) * Int128(scale) / 1000 } }
    }

    static func metered(_ rule: PricingRule, _ input: QuoteInput) throws(TariffError) -> [QuoteLine] {
        guard let usage = input.usage else { throw .missingInput("usage") }
        guard usage.milliUnits >= 0 else { throw .invalidInput(field: "usage", message: "usage must not be negative") }
        guard input.position.milliUnits >= 0 else { throw .invalidInput(field: "position", message: "position must not be negative") }
        guard input.quotaScaleThousandths > 0 else { throw .invalidInput(field: "quota_scale", message: "quota_scale must be positive") }
        let tiers = rule.tiers!
        let bounds = bounds(tiers, scale: input.quotaScaleThousandths)
        let start = Int128(input.position.milliUnits)
        let end = start + Int128(usage.milliUnits)
        // Slices of [start, end) per tier.
        var slices = [Int128](repeating: 0, count: tiers.count)
        switch rule.mode! {
        case .graduated:
            var lower: Int128 = 0
            for index in tiers.indices {
                let upper = bounds[index] ?? Int128.max
                slices[index] = max(0, min(end, upper) - max(start, lower))
                lower = upper
            }
        case .volume:
            let reached = tiers.indices.first { bounds[$0].map { end <= $0 } ?? true } ?? tiers.count - 1
            slices[reached] = Int128(usage.milliUnits)
        }
        let mode = rule.mode!
        guard let windows = rule.windows, !windows.isEmpty else {
            return tiers.indices.compactMap { index -> QuoteLine? in
                guard slices[index] > 0 else { return nil }
                let quantity = Quantity(milliUnits: Int64(slices[index]))
                return QuoteLine(
                    .tier(mode), tier: index + 1, window: nil, quantity: quantity, unitPrice: tiers[index].price,
                    exact: tiers[index].price.cost(of: quantity), unit: rule.unit)
            }
        }
        // Time of use: each tier slice is shared among windows in proportion to what is left of each window's usage.
        guard let split = input.windowUsage else { throw .missingInput("window_usage") }
        var remaining: [Int128] = []
        for window in windows {
            guard let value = split[window.name] else {
                throw .invalidInput(field: "window_usage.\(window.name)", message: "usage for window \(window.name) is required")
            }
            guard value.milliUnits >= 0 else {
                throw .invalidInput(field: "window_usage.\(window.name)", message: "window usage must not be negative")
            }
            remaining.append(Int128(value.milliUnits))
        }
        if let unknown = split.keys.first(where: { name in !windows.contains { $0.name == name } }) {
            throw .invalidInput(field: "window_usage.\(unknown)", message: "the rule has no window \(unknown)")
        }
        guard remaining.reduce(0, +) == Int128(usage.milliUnits) else {
            throw .invalidInput(field: "window_usage", message: "window usages must add up to usage")
        }
        var lines: [QuoteLine] = []
        for index in tiers.indices where slices[index] > 0 {
            let total = remaining.reduce(0, +)
            let shares = total == slices[index] ? remaining : Allocation.largestRemainder(total: slices[index], weights: remaining)
            for (windowIndex, window) in windows.enumerated() where shares[windowIndex] > 0 {
                remaining[windowIndex] -= shares[windowIndex]
                let quantity = Quantity(milliUnits: Int64(shares[windowIndex]))
                let price = window.prices[index]
                lines.append(
                    QuoteLine(
                        .window, tier: index + 1, window: window.name, quantity: quantity, unitPrice: price,
                        exact: price.cost(of: quantity), unit: rule.unit))
            }
        }
        return lines
    }

    /// The longest duration a quote prices.
    public static let maximumDurationSeconds: Int64 = 366 * 86_400

    static func duration(_ pricing: PricingRule.DurationPricing, seconds: Int64) -> [QuoteLine] {
        let minutes = (min(seconds, maximumDurationSeconds) + 59) / 60
        // In Int128: prices come from a rule someone typed, and a day's periods times a large price must not overflow.
        func charge(_ blockMinutes: Int64, free: Int64) -> Int128 {
            guard blockMinutes > free else { return 0 }
            let every = Int128(max(1, pricing.everyMinutes))
            let after = Int128(max(0, blockMinutes - Int64(pricing.firstMinutes)))
            let periods = (after + every - 1) / every
            let fen = Int128(pricing.firstPrice.minorUnits) + periods * Int128(pricing.everyPrice.minorUnits)
            return pricing.dailyCap.map { min(fen, Int128($0.minorUnits)) } ?? fen
        }
        var lines: [QuoteLine] = []
        var left = minutes
        var day = 0
        while left > 0 || (day == 0 && minutes == 0) {
            let block = min(left, 1440)
            let fen = charge(block, free: day == 0 ? Int64(pricing.freeMinutes) : 0)
            lines.append(
                QuoteLine(
                    .text("day \(day + 1): \(block) min" + (day == 0 ? " (\(pricing.freeMinutes) free)" : "")),
                    tier: nil, window: nil, quantity: nil, unitPrice: nil,
                    exact: ExactAmount(tenMillionths: fen * 100_000)))
            left -= block
            day += 1
            if minutes == 0 { break }
        }
        return lines
    }
}
