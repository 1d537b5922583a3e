import CourtyardStorage

/// The pure rules that turn consecutive register readings into usage, and that decide when a reading is implausible.
public enum ReadingRules {
    /// One accepted reading of a cumulative register.
    public struct Point: Hashable, Sendable {
        public var measuredAt: Int64
        public var reading: Int64
        public init(measuredAt: Int64, reading: Int64) {
            self.measuredAt = measuredAt
            self.reading = reading
        }
    }

    /// A meter swapped for a new one between two readings: the old meter's final reading and the new one's start.
    public struct Replacement: Hashable, Sendable {
        public var replacedAt: Int64
        public var oldFinal: Int64
        public var newStart: Int64
        public init(replacedAt: Int64, oldFinal: Int64, newStart: Int64) {
            self.replacedAt = replacedAt
            self.oldFinal = oldFinal
            self.newStart = newStart
        }
    }

    /// Usage between two readings, or why there is none.
    public enum Delta: Hashable, Sendable {
        /// Usage in milli-units; `rolledOver` when the register wrapped past its modulus, `replaced` across a meter swap.
        case usage(Int64, rolledOver: Bool, replaced: Bool)
        /// The register went down by this much and neither a wrap nor a replacement explains it.
        case negative(Int64)
    }

    /// Usage from `previous` to `current`.
    ///
    /// - A meter replacement between them counts the old meter up to its final reading and the new one from its start.
    /// - A fall of more than half the modulus is a wrap past the register's maximum (999999.99 → 000000.12).
    /// - Any other fall is negative and goes to review.
    public static func delta(from previous: Point, to current: Point, modulus: Int64?, replacement: Replacement?) -> Delta {
        // Readings, final and start readings come from outside: every step is overflow-checked, and a result that does
        // not fit is implausible (held for review as a fall) rather than a trap.
        if let replacement, replacement.replacedAt > previous.measuredAt, replacement.replacedAt <= current.measuredAt {
            let old = replacement.oldFinal.subtractingReportingOverflow(previous.reading)
            let new = current.reading.subtractingReportingOverflow(replacement.newStart)
            guard !old.overflow, !new.overflow else { return .negative(-1) }
            guard old.partialValue >= 0, new.partialValue >= 0 else { return .negative(min(old.partialValue, new.partialValue)) }
            let total = old.partialValue.addingReportingOverflow(new.partialValue)
            guard !total.overflow else { return .negative(-1) }
            return .usage(total.partialValue, rolledOver: false, replaced: true)
        }
        let rise = current.reading.subtractingReportingOverflow(previous.reading)
        guard !rise.overflow else { return .negative(-1) }
        if rise.partialValue >= 0 {
            return .usage(rise.partialValue, rolledOver: false, replaced: false)
        }
        let fall = rise.partialValue.magnitude  // a magnitude: negating Int64.min would trap
        if let modulus, modulus > 0, previous.reading >= 0, current.reading >= 0, previous.reading < modulus, current.reading < modulus,
            fall > UInt64(modulus / 2)
        {
            // current < previous < modulus, so current + (modulus - previous) stays below modulus.
            return .usage(current.reading + (modulus - previous.reading), rolledOver: true, replaced: false)
        }
        return .negative(rise.partialValue)
    }

    /// The most a household meter of `kind` may plausibly measure in one day, in milli-units.
    ///
    /// 1,000 kWh of electricity, 50 m³ of water or gas, 5,000 kWh of heat. A reading over the cap for its interval
    /// (at least one day) is held for review instead of billed.
    public static func dailyCap(_ kind: Device.Kind) -> Int64? {
        switch kind {
        case .electricityMeter: 1_000_000
        case .waterMeter: 50_000
        case .gasMeter: 50_000
        case .heatMeter: 5_000_000
        default: nil
        }
    }

    /// How many times a household's recent daily p99 a reading may use per day before it is held.
    public static let recentMultiple: Int64 = 10
    /// Days of history needed before the relative rule applies.
    public static let recentMinimumDays = 7

    /// The 99th percentile of daily usages (nearest rank), or nil with too little history.
    public static func dailyP99(_ days: [Int64]) -> Int64? {
        guard days.count >= recentMinimumDays else { return nil }
        let sorted = days.sorted()
        let rank = max(1, Int((Double(sorted.count) * 0.99).rounded(.up)))
        return sorted[rank - 1]
    }

    /// Whether `usage` over `intervalMilliseconds` is more than ``recentMultiple`` × `p99` per day; the limit if so.
    public static func exceedsRecent(usage: Int64, intervalMilliseconds: Int64, p99: Int64) -> Int64? {
        let days = max(1, (intervalMilliseconds + 86_399_999) / 86_400_000)
        let (limit, overflow) = p99.multipliedReportingOverflow(by: recentMultiple * days)
        guard !overflow, p99 > 0 else { return nil }
        return usage > limit ? limit : nil
    }

    /// Whether `usage` over `intervalMilliseconds` exceeds the daily cap (an interval under a day counts as a day).
    public static func exceedsCap(usage: Int64, intervalMilliseconds: Int64?, kind: Device.Kind) -> Int64? {
        guard let cap = dailyCap(kind) else { return nil }
        let days = max(1, ((intervalMilliseconds ?? 0) + 86_399_999) / 86_400_000)
        let allowed = cap.multipliedReportingOverflow(by: days)
        guard !allowed.overflow else { return nil }
        return usage > allowed.partialValue ? allowed.partialValue : nil
    }
}
