/// Parsing and formatting of exact fixed-point decimal text ("12.34", "-0.005").
///
/// Every exact quantity in Courtyard (money, unit prices, metered quantities,
/// areas) is an integer count of a small unit. This type converts between that
/// integer and its decimal text without ever passing through binary floating
/// point, so "444.195" stays 444.195.
public enum FixedPoint {
    /// Why a decimal text could not be read as a fixed-point value.
    public enum ParseError: Error, Equatable, Sendable {
        /// The text is not a plain decimal number (`-?digits[.digits]`).
        case notANumber
        /// The text has more fractional digits than the type can hold exactly.
        case tooManyFractionDigits(allowed: Int)
        /// The value does not fit in 64 bits at this scale.
        case outOfRange
    }

    /// Reads `text` as an integer count of `10^-scale` units.
    ///
    /// Accepts an optional leading `-` or `+`, digits, and optionally a `.`
    /// followed by at most `scale` digits. Refuses anything else rather than
    /// guessing: `1e3`, `1,000`, ` 12`, and `12.` are errors.
    public static func parse(_ text: some StringProtocol, scale: Int) throws(ParseError) -> Int64 {
        var utf8 = Substring(text).utf8[...]
        var negative = false
        if let first = utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            utf8 = utf8.dropFirst()
        }
        var magnitude: Int128 = 0
        var digits = 0
        var fractionDigits = 0
        var seenPoint = false
        for byte in utf8 {
            if byte == UInt8(ascii: ".") {
                if seenPoint || digits == 0 { throw .notANumber }
                seenPoint = true
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw .notANumber }
            if seenPoint {
                fractionDigits += 1
                if fractionDigits > scale { throw .tooManyFractionDigits(allowed: scale) }
            }
            digits += 1
            magnitude = magnitude * 10 + Int128(byte - UInt8(ascii: "0"))
            if magnitude > Int128(Int64.max) * 10 { throw .outOfRange }
        }
        if digits == 0 || (seenPoint && fractionDigits == 0) { throw .notANumber }
        for _ in fractionDigits..<scale {
            magnitude *= 10
            if magnitude > Int128(Int64.max) { throw .outOfRange }
        }
        let signed = negative ? -magnitude : magnitude
        guard signed >= Int128(Int64.min + 1), signed <= Int128(Int64.max) else { throw .outOfRange }
        return Int64(signed)
    }

    /// Formats an integer count of `10^-scale` units with exactly `scale` fractional digits.
    public static func format(_ value: Int64, scale: Int) -> String {
        let negative = value < 0
        let magnitude = value.magnitude
        var divisor: UInt64 = 1
        for _ in 0..<scale { divisor *= 10 }
        let whole = magnitude / divisor
        var text = negative ? "-" : ""
        text += String(whole)
        if scale > 0 {
            let fraction = String(magnitude % divisor)
            text += "." + String(repeating: "0", count: scale - fraction.count) + fraction
        }
        return text
    }
}
