import CourtyardDomain
import Foundation

/// Money, quantities and times as people read them on a page: `¥1,234.56`, `1,234.5 kWh`, `2026-11-22 10:05` in the
/// community's zone. Every figure is formatted from its exact integer; nothing passes through floating point.
public enum WebFormat {
    /// `¥1,234.56`, `-¥12.00`; another currency keeps its code (`USD 12.00`).
    public static func money(_ minorUnits: Int64, currency: Currency = .cny) -> String {
        let text = FixedPoint.format(negative: false, magnitude: UInt128(minorUnits.magnitude), scale: currency.minorUnitDigits)
        let sign = minorUnits < 0 ? "-" : ""
        let symbol = currency.code == "CNY" ? "¥" : currency.code + " "
        return sign + symbol + grouped(text)
    }

    public static func money(_ money: Money) -> String { self.money(money.minorUnits, currency: money.currency) }

    /// A quantity kept in thousandths (milli-units), shown with its unit and without trailing zeros: `1,234.5 kWh`.
    public static func quantity(milli: Int64, unit: String) -> String {
        var text = FixedPoint.format(negative: false, magnitude: UInt128(milli.magnitude), scale: 3)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return (milli < 0 ? "-" : "") + grouped(text) + (unit.isEmpty ? "" : " " + unit)
    }

    /// A share in basis points of a whole, as a percentage with one decimal: `96.4%`. `nil` when there is no whole.
    public static func percent(_ part: Int64, of whole: Int64) -> String? {
        guard whole > 0 else { return nil }
        // Tenths of a percent, rounded half up, in 128 bits so no amount can overflow.
        let tenths = (Int128(part) * 1_000 * 2 + Int128(whole)) / (Int128(whole) * 2)
        let value = Int64(clamping: tenths)
        return "\(value / 10).\(value.magnitude % 10)%"
    }

    /// `2026-11-22 10:05` in `zone`.
    public static func localDateTime(_ instant: Date, zone: TimeZone) -> String {
        let parts = calendar(zone).dateComponents([.year, .month, .day, .hour, .minute], from: instant)
        return String(
            format: "%04d-%02d-%02d %02d:%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0, parts.minute ?? 0)
    }

    /// `2026-11-22` in `zone`.
    public static func localDate(_ instant: Date, zone: TimeZone) -> String {
        LocalDate.of(instant, timeZone: zone.identifier).description
    }

    static func calendar(_ zone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar
    }

    /// Thousands separators in the integer part of a plain decimal text (`1234567.89` → `1,234,567.89`).
    static func grouped(_ text: String) -> String {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = Array(parts[0])
        var out = ""
        for (index, digit) in whole.enumerated() {
            if index > 0, (whole.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return parts.count > 1 ? out + "." + parts[1] : out
    }
}
