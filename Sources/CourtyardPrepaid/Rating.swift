import CourtyardDomain
import Foundation

/// Rates one reading's usage at its own instant: the tier position of its accumulation period and the time-of-use
/// window its local time falls in. Pure.
public enum Rating {
    /// The accumulation period a local day belongs to: `2026-11` (monthly, the default) or `2026` (annual).
    public static func periodKey(_ rule: PricingRule, day: Int64) -> String {
        let date = LocalClock.date(day: day)
        if rule.accumulation == .annual { return String(date.year) }
        return String(date.description.prefix(7))
    }

    /// The name of the time-of-use window containing local `minute`, or nil for a rule without windows.
    public static func window(_ rule: PricingRule, minute: Int) -> String? {
        guard let windows = rule.windows, !windows.isEmpty else { return nil }
        for window in windows {
            guard let start = FriendlyWindow.minutes(window.start), let end = FriendlyWindow.minutes(window.end) else { continue }
            let inside = start < end ? (minute >= start && minute < end) : (minute >= start || minute < end)
            if inside { return window.name }
        }
        // Validated windows cover the day; a gap falls to the first window rather than pricing at zero.
        return windows[0].name
    }

    /// The exact price of `usage` milli-units at tier position `position` inside `window`.
    public static func exact(_ rule: PricingRule, usage: Int64, position: Int64, window: String?) throws(TariffError) -> Quote {
        var windowUsage: [String: Quantity]?
        if let windows = rule.windows, !windows.isEmpty {
            var split: [String: Quantity] = [:]
            for item in windows { split[item.name] = Quantity(milliUnits: item.name == window ? usage : 0) }
            windowUsage = split
        }
        return try Tariff.quote(
            validated: rule,
            QuoteInput(
                usage: Quantity(milliUnits: usage), position: Quantity(milliUnits: position),
                windowUsage: windowUsage))
    }

    /// Turns an exact amount into whole fen with the remainder carried from earlier readings, so that many small
    /// readings are charged what their sum costs: one rounding per charge line, of (carry + exact), in `mode`.
    /// Returns the fen to deduct and the new carry (1e-7 yuan, less than a fen either way).
    public static func deduct(exact: Int128, carry: Int64, mode: RoundingMode) -> (fen: Int64, carry: Int64) {
        let total = exact + Int128(carry)
        let fen = mode.divide(total, by: 100_000)
        return (Int64(fen), Int64(total - fen * 100_000))
    }
}
