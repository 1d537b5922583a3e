/// A span that a fee is charged for: a month ("2026-10"), a quarter ("2026-Q4") or a year ("2026").
///
/// Bill runs are made for a month. A fee item with a longer cycle is billed in
/// the run for the first month of its quarter or year, for the whole span,
/// so a line's period is always the item's own period and idempotency holds
/// per (house, fee item, period).
public struct BillingPeriod: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    /// How often a fee item is billed.
    public enum Cycle: String, Codable, Sendable, CaseIterable {
        case monthly, quarterly, yearly

        /// Months in one period of this cycle.
        public var months: Int {
            switch self {
            case .monthly: return 1
            case .quarterly: return 3
            case .yearly: return 12
            }
        }
    }

    public let cycle: Cycle
    public let year: Int
    /// Month (1–12), quarter (1–4), or 1 for a year.
    public let index: Int

    /// Years a period may fall in. The last year is 9998 so that every period's ``end`` (the day after it) and the
    /// year after it still exist as a ``LocalDate``; the first is 1971 so that ``previousMonth`` does too.
    public static let years: ClosedRange<Int> = 1971...9998

    public init?(cycle: Cycle, year: Int, index: Int) {
        guard Self.years.contains(year) else { return nil }
        switch cycle {
        case .monthly: guard (1...12).contains(index) else { return nil }
        case .quarterly: guard (1...4).contains(index) else { return nil }
        case .yearly: guard index == 1 else { return nil }
        }
        self.init(unchecked: cycle, year: year, index: index)
    }

    /// A period already known to be valid (derived from a valid one, which ``years`` keeps in range).
    private init(unchecked cycle: Cycle, year: Int, index: Int) {
        self.cycle = cycle
        self.year = year
        self.index = index
    }

    /// Parses "2026-10", "2026-Q4" or "2026".
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard let first = parts.first, first.count == 4, let year = Int(first), first.allSatisfy(\.isASCII) else { return nil }
        if parts.count == 1 {
            self.init(cycle: .yearly, year: year, index: 1)
        } else if parts.count == 2, parts[1].hasPrefix("Q"), parts[1].count == 2, let quarter = Int(parts[1].dropFirst()) {
            self.init(cycle: .quarterly, year: year, index: quarter)
        } else if parts.count == 2, parts[1].count == 2, parts[1].allSatisfy(\.isNumber), let month = Int(parts[1]) {
            self.init(cycle: .monthly, year: year, index: month)
        } else {
            return nil
        }
    }

    public var description: String {
        let y = String(year)
        switch cycle {
        case .monthly: return y + "-" + (index < 10 ? "0" : "") + String(index)
        case .quarterly: return y + "-Q" + String(index)
        case .yearly: return y
        }
    }

    /// The first month of the period.
    public var firstMonth: Int { cycle == .monthly ? index : (index - 1) * cycle.months + 1 }

    /// The first day of the period.
    public var start: LocalDate { LocalDate(unchecked: year, month: firstMonth, day: 1) }

    /// The day after the period's last day.
    public var end: LocalDate {
        let month = firstMonth + cycle.months
        return month > 12 ? LocalDate(unchecked: year + 1, month: month - 12, day: 1) : LocalDate(unchecked: year, month: month, day: 1)
    }

    public var days: Int { end.daysSinceEpoch - start.daysSinceEpoch }
    public var months: Int { cycle.months }
    public var span: EffectivePeriod { EffectivePeriod(from: start, until: end) }

    /// The month just before this period starts (same cycle: monthly).
    public var previousMonth: BillingPeriod {
        firstMonth == 1
            ? BillingPeriod(unchecked: .monthly, year: year - 1, index: 12) : BillingPeriod(unchecked: .monthly, year: year, index: firstMonth - 1)
    }

    /// The period of `cycle` billed in the run for this month, or `nil` when none starts in it.
    public func billed(_ cycle: Cycle) -> BillingPeriod? {
        let month = firstMonth
        switch cycle {
        case .monthly: return self.cycle == .monthly ? self : nil
        case .quarterly: return month % 3 == 1 ? BillingPeriod(unchecked: .quarterly, year: year, index: (month - 1) / 3 + 1) : nil
        case .yearly: return month == 1 ? BillingPeriod(unchecked: .yearly, year: year, index: 1) : nil
        }
    }

    /// Months of the same year before this one ("2026-01" … "2026-09" for "2026-10"): where annual tiers accumulate.
    public var earlierMonthsOfYear: [BillingPeriod] {
        (1..<firstMonth).map { BillingPeriod(unchecked: .monthly, year: year, index: $0) }
    }

    /// The month this period starts with, as a monthly period.
    public var firstMonthPeriod: BillingPeriod { BillingPeriod(unchecked: .monthly, year: year, index: firstMonth) }

    /// This period's first month and the months after it in the same year ("2026-10" … "2026-12" for "2026-10").
    public var monthsToYearEnd: [BillingPeriod] {
        (firstMonth...12).map { BillingPeriod(unchecked: .monthly, year: year, index: $0) }
    }

    public static func < (lhs: BillingPeriod, rhs: BillingPeriod) -> Bool {
        (lhs.start, lhs.end) < (rhs.start, rhs.end)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let period = BillingPeriod(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "expected a period like 2026-10, 2026-Q4 or 2026"))
        }
        self = period
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
