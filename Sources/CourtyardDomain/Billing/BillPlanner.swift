/// What a fee item charges for; decides which source of quantity the bill run uses.
public enum FeeCategory: String, Codable, Sendable, CaseIterable {
    case propertyFee = "property_fee"
    case water, electricity, gas, heating, parking
    case maintenanceFund = "maintenance_fund"
    case garbage
    /// A shared meter's cost split over houses (公摊).
    case commonArea = "common_area"
    case custom
}

/// The kind of metered usage a metered fee item is priced on.
public enum UsageKind: String, Codable, Sendable, CaseIterable {
    case electricity, water, gas, heat
}

/// Larger tier quotas for households with many residents (多人口家庭).
public struct LargeHouseholdQuota: Codable, Sendable, Hashable {
    /// Residents (owners, residents and tenants living there on the period's first day) needed for the larger quota.
    public var minResidents: Int
    /// Tier bounds are multiplied by this many thousandths (1500 = 1.5×).
    public var quotaScaleThousandths: Int64

    public init(minResidents: Int, quotaScaleThousandths: Int64) {
        self.minResidents = minResidents
        self.quotaScaleThousandths = quotaScaleThousandths
    }
}

/// One fee item's terms for one period: the standard version in force and how to price it.
public struct ChargeTerms: Sendable, Hashable {
    public var feeItemId: String
    public var code: String
    public var name: String
    public var category: FeeCategory
    /// The item's own period (a quarter for a quarterly item).
    public var period: BillingPeriod
    public var standardId: String
    public var version: Int
    public let rule: PricingRule
    public var usageKind: UsageKind?
    public var largeHousehold: LargeHouseholdQuota?
    /// The rule's problems, found once when the terms are made (a run prices many houses with one rule).
    public let ruleIssues: [RuleIssue]

    public init(
        feeItemId: String, code: String, name: String, category: FeeCategory, period: BillingPeriod, standardId: String,
        version: Int, rule: PricingRule, usageKind: UsageKind?, largeHousehold: LargeHouseholdQuota?
    ) {
        self.feeItemId = feeItemId; self.code = code; self.name = name; self.category = category; self.period = period
        self.standardId = standardId; self.version = version; self.rule = rule; self.usageKind = usageKind
        self.largeHousehold = largeHousehold
        self.ruleIssues = rule.validate()
    }
}

/// What the planner knows about a house.
public struct HouseFacts: Sendable, Hashable {
    public var id: String
    public var builtArea: Area
    public var indoorArea: Area
    /// People living there on the period's first day.
    public var residents: Int
    /// Spans during which the house had an owner (pro-rating by move-in/move-out), or `nil` when no ownership is recorded
    /// (then the house is charged for the whole period).
    public var ownership: [EffectivePeriod]?

    public init(id: String, builtArea: Area, indoorArea: Area, residents: Int = 0, ownership: [EffectivePeriod]? = nil) {
        self.id = id; self.builtArea = builtArea; self.indoorArea = indoorArea; self.residents = residents
        self.ownership = ownership
    }

    /// Days of `period` covered by ownership (the union of spans, so overlapping records count once).
    public func billableDays(in period: BillingPeriod) -> Int {
        guard let ownership else { return period.days }
        let spans = ownership.sorted { $0.from < $1.from }
        var days = 0
        var coveredUntil = period.start
        for span in spans {
            let from = max(span.from, coveredUntil)
            let until = min(span.until ?? period.end, period.end)
            if until > from {
                days += until.daysSinceEpoch - from.daysSinceEpoch
                coveredUntil = until
            }
        }
        return days
    }
}

/// A house's metered usage for a period, as the usage store holds it.
public struct MeteredUsage: Sendable, Hashable {
    public var quantity: Quantity
    /// Usage per time-of-use window, when the meter reports it.
    public var windows: [String: Quantity]?
    /// Usage of the same kind earlier in the year (annual tier position).
    public var yearToDate: Quantity
    /// Derived from a gap rather than readings.
    public var estimated: Bool

    public init(quantity: Quantity, windows: [String: Quantity]? = nil, yearToDate: Quantity = .zero, estimated: Bool = false) {
        self.quantity = quantity; self.windows = windows; self.yearToDate = yearToDate; self.estimated = estimated
    }
}

/// One computed bill line, with everything needed to explain it.
public struct PlannedLine: Sendable, Hashable {
    public var feeItemId: String
    public var period: BillingPeriod
    public var standardId: String
    public var version: Int
    public var quantity: Quantity?
    public var unit: String?
    /// The single price when there is one (per-m², or one tier); tiered lines carry their breakdown.
    public var unitPrice: UnitPrice?
    public var breakdown: [QuoteLine]
    /// The sentence a finance clerk reads ("87.20 m² × 2.5000/m²/month × 1 month(s), 17/31 days owned").
    public var basis: String
    /// The exact amount before the line's single rounding, for the whole period (before pro-rating).
    public var exact: ExactAmount
    /// How the amount was rounded: a ``RoundingMode`` raw value, or `largest_remainder` for apportioned shares.
    public var rounding: String
    public var billableDays: Int
    public var periodDays: Int
    public var amount: Money
    /// A zero line kept on the bill for what it says (a metered fee left out because the meter was prepaid all period).
    public var informational = false

    public init(
        feeItemId: String, period: BillingPeriod, standardId: String, version: Int, quantity: Quantity?, unit: String?,
        unitPrice: UnitPrice?, breakdown: [QuoteLine], basis: String, exact: ExactAmount, rounding: String, billableDays: Int,
        periodDays: Int, amount: Money
    ) {
        self.feeItemId = feeItemId; self.period = period; self.standardId = standardId; self.version = version
        self.quantity = quantity; self.unit = unit; self.unitPrice = unitPrice; self.breakdown = breakdown; self.basis = basis
        self.exact = exact; self.rounding = rounding; self.billableDays = billableDays; self.periodDays = periodDays; self.amount = amount
    }
}

/// Turns a fee item's terms and a house's facts into a bill line. Pure and deterministic.
///
/// Fixed and per-m² fees are pro-rated by owned days (move-in and move-out
/// mid-period), with one rounding of exact × days ÷ period days. Metered fees
/// price the period's usage at the house's tier position (annual accumulation
/// starts from the year-to-date usage) with the household's quota scale.
/// Common-area shares come from ``Apportionment`` and are not rounded again.
public enum BillPlanner {
    /// Why a house gets no line for an item; counted in the run's summary, never a silent zero.
    public enum Skip: String, Error, Hashable, Sendable, Codable {
        /// Not owned on any day of the period (moved out before, or moved in after).
        case notOwned = "not_owned"
        /// A metered item without usage for the period.
        case missingUsage = "missing_usage"
    }

    public static func line(_ terms: ChargeTerms, house: HouseFacts, usage: MeteredUsage?) throws(TariffError) -> Result<PlannedLine, Skip> {
        let rule = terms.rule
        let period = terms.period
        guard terms.ruleIssues.isEmpty else { throw .invalidRule(terms.ruleIssues) }
        switch rule.kind {
        case .fixed, .perArea:
            let days = house.billableDays(in: period)
            guard days > 0 else { return .failure(.notOwned) }
            let area: Area = rule.areaBasis == .indoor ? house.indoorArea : house.builtArea
            let quote = try Tariff.quote(validated: rule, QuoteInput(area: area, months: Int64(period.months)))
            var amount = quote.amount
            var basis = quote.lines.map(\.description).joined(separator: "; ")
            if rule.kind == .perArea { basis = (rule.areaBasis == .indoor ? "indoor area " : "built area ") + basis }
            if days < period.days {
                let fen = rule.rounding.divide(quote.exact.tenMillionths * Int128(days), by: Int128(period.days) * 100_000)
                guard let value = Int64(exactly: fen) else { throw .overflow }
                amount = Money(minorUnits: value, currency: quote.amount.currency)
                basis += ", × \(days)/\(period.days) days owned"
            }
            return .success(
                PlannedLine(
                    feeItemId: terms.feeItemId, period: period, standardId: terms.standardId, version: terms.version,
                    quantity: nil, unit: rule.kind == .perArea ? "m²" : nil,
                    unitPrice: rule.kind == .perArea ? rule.pricePerSquareMetre : nil,
                    breakdown: quote.lines, basis: basis, exact: quote.exact, rounding: rule.rounding.rawValue,
                    billableDays: days, periodDays: period.days, amount: amount))
        case .metered:
            guard let usage else { return .failure(.missingUsage) }
            var scale: Int64 = 1000
            if let quota = terms.largeHousehold, house.residents >= quota.minResidents { scale = quota.quotaScaleThousandths }
            let annual = rule.accumulation == .annual
            let input = QuoteInput(
                usage: usage.quantity, position: annual ? usage.yearToDate : .zero, quotaScaleThousandths: scale,
                windowUsage: rule.windows?.isEmpty == false ? usage.windows : nil)
            let quote = try Tariff.quote(validated: rule, input)
            let unit = rule.unit ?? ""
            var basis = "\(terms.name) \(usage.quantity.decimalText) \(unit)"
            if annual { basis += " from annual position \(usage.yearToDate.decimalText) \(unit)" }
            if scale != 1000 { basis += ", tier quotas × \(FixedPoint.format(scale, scale: 3)) (\(house.residents) residents)" }
            if usage.estimated { basis += ", estimated usage" }
            // Time-of-use: how each tier's quantity was divided among the windows, so the owner can redo the split.
            let windowed = quote.lines.filter { if case .window = $0.explanation { true } else { false } }
            if !windowed.isEmpty {
                let tiers = Dictionary(grouping: windowed, by: { $0.tier ?? 0 })
                let parts = tiers.keys.sorted().map { tier -> String in
                    let split = (tiers[tier] ?? []).map { "\($0.window ?? "?") \($0.quantity?.decimalText ?? "0.000")" }.joined(separator: " + ")
                    return "tier \(tier): \(split)"
                }
                basis +=
                    "; each tier shared among the windows in proportion to what was left of each window's usage (largest remainder): "
                    + parts.joined(separator: "; ")
            }
            if quote.minimumApplied { basis += ", minimum charge applied" }
            // The line's unit price when every slice has the same one (no set per line: this runs for every house).
            var price = quote.lines.first?.unitPrice
            for slice in quote.lines where slice.unitPrice != price { price = nil; break }
            return .success(
                PlannedLine(
                    feeItemId: terms.feeItemId, period: period, standardId: terms.standardId, version: terms.version,
                    quantity: usage.quantity, unit: rule.unit, unitPrice: price,
                    breakdown: quote.lines, basis: basis, exact: quote.exact, rounding: rule.rounding.rawValue,
                    billableDays: period.days, periodDays: period.days, amount: quote.amount))
        case .perDuration:
            throw .invalidInput(field: "rule.kind", message: "per-duration rules are charged per session, not in bill runs")
        }
    }

    /// The common meter's cost for the period: its usage priced once with the item's rule (rounded once, at the meter).
    public static func commonCost(_ terms: ChargeTerms, usage: MeteredUsage) throws(TariffError) -> Quote {
        try Tariff.quote(
            terms.rule,
            QuoteInput(
                usage: usage.quantity, position: .zero,
                windowUsage: terms.rule.windows?.isEmpty == false ? usage.windows : nil))
    }

    /// A house's line for its share of a common meter's cost.
    public static func apportionedLine(
        _ terms: ChargeTerms, share: Apportionment.Share<Money>, cost: Quote,
        usage: Quantity
    ) -> PlannedLine {
        PlannedLine(
            feeItemId: terms.feeItemId, period: terms.period, standardId: terms.standardId, version: terms.version,
            quantity: nil, unit: terms.rule.unit, unitPrice: nil, breakdown: cost.lines,
            basis: share.explanation + " (\(usage.decimalText) \(terms.rule.unit ?? "") on the common meter)",
            exact: share.exact ?? ExactAmount(tenMillionths: Int128(share.value.minorUnits) * 100_000), rounding: "largest_remainder",
            billableDays: terms.period.days, periodDays: terms.period.days, amount: share.value)
    }
}
