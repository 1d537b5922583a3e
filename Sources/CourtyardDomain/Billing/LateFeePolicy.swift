/// Late fees (滞纳金) for one fee item: grace days, a daily rate, and a cap — computed deterministically as of a date.
///
/// The fee is principal × daily rate × days overdue (days after the due date
/// and the grace days, from `startsOn` if later), rounded once (half-up by
/// default), and capped (by default at the principal). Waivers are a separate,
/// approved and logged act; this only computes.
public struct LateFeePolicy: Codable, Sendable, Hashable {
    /// What the fee may not exceed.
    public enum Cap: String, Codable, Sendable, CaseIterable {
        /// Not above the principal (the common rule, and the default).
        case principal
        /// No cap.
        case none
    }

    public var graceDays: Int
    /// Daily rate in parts per million of the principal (0.05 % a day = 500).
    public var dailyRatePerMillion: Int64
    public var cap: Cap
    /// Late fees accrue only from this date (a policy adopted later does not reach back).
    public var startsOn: LocalDate?
    public var rounding: RoundingMode

    public init(
        graceDays: Int = 0, dailyRatePerMillion: Int64, cap: Cap = .principal, startsOn: LocalDate? = nil,
        rounding: RoundingMode = .halfUp
    ) {
        self.graceDays = graceDays
        self.dailyRatePerMillion = dailyRatePerMillion
        self.cap = cap
        self.startsOn = startsOn
        self.rounding = rounding
    }

    /// The fee and how it was reached.
    public struct Assessment: Hashable, Sendable {
        public var daysOverdue: Int
        public var fee: Money
        public var capped: Bool
        public var explanation: String
    }

    /// Why a policy is unusable.
    public var problems: [RuleIssue] {
        var issues: [RuleIssue] = []
        if graceDays < 0 { issues.append(RuleIssue(path: "grace_days", code: "must_not_be_negative", message: "grace_days must be 0 or more")) }
        if dailyRatePerMillion < 0 || dailyRatePerMillion > 1_000_000 {
            issues.append(RuleIssue(path: "daily_rate_per_million", code: "out_of_range", message: "the daily rate must be 0 to 1,000,000 ppm"))
        }
        return issues
    }

    /// The late fee on `principal` due on `dueDate`, as of `asOf` (all local dates of the community).
    public func assess(principal: Money, dueDate: LocalDate, asOf: LocalDate) -> Assessment {
        var from = dueDate.adding(days: graceDays)
        if let startsOn, startsOn.adding(days: -1) > from { from = startsOn.adding(days: -1) }
        let days = max(0, asOf.daysSinceEpoch - from.daysSinceEpoch)
        guard days > 0, principal.minorUnits > 0 else {
            return Assessment(
                daysOverdue: 0, fee: .zero(principal.currency), capped: false,
                explanation: "not overdue beyond \(graceDays) grace day(s) as of \(asOf)")
        }
        let exact = Int128(principal.minorUnits) * Int128(dailyRatePerMillion) * Int128(days)
        var fen = Int64(clamping: rounding.divide(exact, by: 1_000_000))
        var capped = false
        if cap == .principal, fen > principal.minorUnits {
            fen = principal.minorUnits
            capped = true
        }
        let rate = FixedPoint.format(dailyRatePerMillion, scale: 4)
        return Assessment(
            daysOverdue: days, fee: Money(minorUnits: fen, currency: principal.currency), capped: capped,
            explanation: "\(principal.decimalText) × \(rate)% × \(days) day(s) overdue since \(from)" + (capped ? ", capped at the principal" : ""))
    }
}

extension LocalDate {
    /// Days since 1970-01-01 (proleptic Gregorian; Howard Hinnant's days-from-civil).
    public var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Day counts of 0001-01-01 and 9999-12-31, the dates a ``LocalDate`` can hold.
    public static let representableDays: ClosedRange<Int> = -719_162...2_932_896

    /// The date `days` after the epoch day count, held within 0001-01-01…9999-12-31 (a day count past either end, which
    /// only absurd input can produce, gives that end rather than a trap).
    public init(daysSinceEpoch z0: Int) {
        let z = min(max(z0, Self.representableDays.lowerBound), Self.representableDays.upperBound) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(unchecked: yoe + era * 400 + (m <= 2 ? 1 : 0), month: m, day: d)
    }

    /// This date moved by `days` (negative moves back), held within the representable dates.
    public func adding(days: Int) -> LocalDate {
        let (moved, overflow) = daysSinceEpoch.addingReportingOverflow(days)
        return LocalDate(daysSinceEpoch: overflow ? (days < 0 ? Int.min : Int.max) : moved)
    }
}
