/// How a house's prepaid plans of one utility cover a billing period, and so what is left to bill postpaid.
///
/// A meter's usage is prepaid or postpaid, never both. A prepaid plan charges each reading as it arrives, from the
/// moment the plan starts until it ends; the bill run must then leave that usage out of the postpaid bill:
/// - **Whole period**: a plan that began before the period and had not ended when it closed covers every day of it.
///   The line is replaced by a zero line that says so (even if no readings came in: a prepaid meter's usage is
///   never billed postpaid, it is charged when its readings arrive).
/// - **Part of the period** (a plan that starts or ends mid-period): the postpaid quantity is the recorded usage less
///   what the plans already charged for readings measured in the period, window by window for time-of-use usage. Each
///   reading is charged once: by the plan if it arrived while the plan ran, else on the bill.
/// - **No plan day** in the period: the usage is billed as recorded.
public struct PrepaidCoverage: Sendable, Hashable {
    /// One plan's span in local days: from the day it started; `until` is the day after it ended (`nil` while it runs).
    public struct Span: Sendable, Hashable {
        public var planId: String
        public var from: LocalDate
        public var until: LocalDate?

        public init(planId: String, from: LocalDate, until: LocalDate?) {
            self.planId = planId
            self.from = from
            self.until = until
        }
    }

    public var spans: [Span]
    /// Usage the plans charged for readings measured in the period, by time window (`""` for readings outside any window).
    public var charged: [String: Quantity]

    public init(spans: [Span], charged: [String: Quantity] = [:]) {
        self.spans = spans
        self.charged = charged
    }

    /// Days of `period` on which some plan ran (each day counted once, however many plans overlap it).
    public func coveredDays(in period: BillingPeriod) -> Int {
        let start = period.start.daysSinceEpoch
        let end = period.end.daysSinceEpoch
        let ranges = spans.map { span in
            (max(start, span.from.daysSinceEpoch), min(end, span.until?.daysSinceEpoch ?? end))
        }.filter { $0.0 < $0.1 }.sorted { $0.0 < $1.0 }
        var covered = 0
        var reached = start
        for (from, until) in ranges where until > reached {
            covered += until - max(from, reached)
            reached = until
        }
        return covered
    }

    /// Whether one plan ran through the whole period: started before its first day, not ended before its last was over.
    public func coversWholePeriod(_ period: BillingPeriod) -> Bool {
        spans.contains { $0.from < period.start && ($0.until.map { $0 > period.end } ?? true) }
    }

    /// The total the plans charged in the period.
    public var chargedTotal: Quantity {
        Quantity(
            milliUnits: charged.values.reduce(Int64(0)) { sum, quantity in
                let (next, overflow) = sum.addingReportingOverflow(quantity.milliUnits)
                return overflow ? .max : next
            })
    }

    /// What the bill run does with a house's recorded usage for `period`.
    public enum Postpaid: Sendable, Hashable {
        /// No plan ran in the period: bill the usage as recorded.
        case all(MeteredUsage)
        /// Plans ran on some days: bill what they did not charge; `note` explains the difference on the line.
        case remainder(MeteredUsage, note: String)
        /// A plan ran all period: nothing is billed postpaid; `note` says so on a zero line.
        case none(note: String)
    }

    /// Splits recorded usage between the plans and the bill.
    public func postpaid(_ usage: MeteredUsage, in period: BillingPeriod, unit: String) -> Postpaid {
        let days = coveredDays(in: period)
        guard days > 0 else { return .all(usage) }
        let first = spans.map(\.from).min().map { max($0, period.start) } ?? period.start
        if coversWholePeriod(period) {
            return .none(
                note: "prepaid all period (plan from \(spans.map(\.from).min() ?? first)): "
                    + "\(chargedTotal.decimalText) \(unit) charged to the prepaid wallet as readings arrived; not billed here")
        }
        var remainder = usage
        if var windows = usage.windows, !windows.isEmpty {
            // Window by window; usage charged outside any window is taken from the windows in order of size.
            var unassigned = charged[""]?.milliUnits ?? 0
            for (name, quantity) in charged where !name.isEmpty {
                if let recorded = windows[name] {
                    let take = min(recorded.milliUnits, quantity.milliUnits)
                    windows[name] = Quantity(milliUnits: recorded.milliUnits - take)
                    unassigned += quantity.milliUnits - take
                } else {
                    unassigned += quantity.milliUnits
                }
            }
            let largestFirst = windows.sorted { ($0.value.milliUnits, $1.key) > ($1.value.milliUnits, $0.key) }.map(\.key)
            for name in largestFirst where unassigned > 0 {
                let recorded = windows[name]?.milliUnits ?? 0
                let take = min(recorded, unassigned)
                windows[name] = Quantity(milliUnits: recorded - take)
                unassigned -= take
            }
            remainder.windows = windows
            remainder.quantity = Quantity(milliUnits: windows.values.reduce(0) { $0 + $1.milliUnits })
        } else {
            remainder.quantity = Quantity(milliUnits: max(0, usage.quantity.milliUnits - chargedTotal.milliUnits))
        }
        let note =
            "prepaid on \(days) of \(period.days) days (plan from \(first)): \(chargedTotal.decimalText) \(unit) charged prepaid "
            + "left out of \(usage.quantity.decimalText) \(unit) recorded"
        return .remainder(remainder, note: note)
    }
}

extension BillPlanner {
    /// A metered line for usage that prepaid plans may have covered in part or in whole (see ``PrepaidCoverage``).
    public static func line(
        _ terms: ChargeTerms, house: HouseFacts, usage: MeteredUsage?,
        prepaid coverage: PrepaidCoverage?
    ) throws(TariffError) -> Result<PlannedLine, Skip> {
        guard let coverage, terms.rule.kind == .metered else { return try line(terms, house: house, usage: usage) }
        let unit = terms.rule.unit ?? ""
        if coverage.coversWholePeriod(terms.period) {
            let note =
                usage.map { usage -> String in
                    if case .none(let note) = coverage.postpaid(usage, in: terms.period, unit: unit) { return note }
                    return ""
                } ?? "prepaid all period: charged to the prepaid wallet as readings arrived; not billed here"
            return .success(prepaidLine(terms, note: note))
        }
        guard let usage else { return .failure(.missingUsage) }
        switch coverage.postpaid(usage, in: terms.period, unit: unit) {
        case .all(let all):
            return try line(terms, house: house, usage: all)
        case .none(let note):
            return .success(prepaidLine(terms, note: note))
        case .remainder(let remainder, let note):
            switch try line(terms, house: house, usage: remainder) {
            case .success(var planned):
                planned.basis += "; " + note
                return .success(planned)
            case .failure(let skip):
                return .failure(skip)
            }
        }
    }

    /// The zero line that tells the owner why a metered fee is not on this bill: the meter was prepaid all period.
    static func prepaidLine(_ terms: ChargeTerms, note: String) -> PlannedLine {
        var line = PlannedLine(
            feeItemId: terms.feeItemId, period: terms.period, standardId: terms.standardId, version: terms.version,
            quantity: .zero, unit: terms.rule.unit, unitPrice: nil, breakdown: [], basis: "\(terms.name): " + note,
            exact: ExactAmount(tenMillionths: 0), rounding: terms.rule.rounding.rawValue, billableDays: 0,
            periodDays: terms.period.days, amount: .zero())
        line.informational = true
        return line
    }
}
