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
        format(negative: value < 0, magnitude: UInt128(value.magnitude), scale: scale)
    }

    /// Formats `magnitude` units of `10^-scale` (with a leading `-` when `negative`) with exactly `scale` fractional digits.
    public static func format(negative: Bool, magnitude: UInt128, scale: Int) -> String {
        // One allocation, digits written in place: bill runs format several numbers per line.
        String(unsafeUninitializedCapacity: maximumLength(scale: scale)) { buffer in
            write(negative: negative, magnitude: magnitude, scale: scale, into: buffer)
        }
    }

    /// The most bytes ``write(negative:magnitude:scale:into:)`` writes: a sign, 39 digits or `scale` + 1, and the point.
    public static func maximumLength(scale: Int) -> Int { 2 + max(39, scale + 1) }

    /// Writes the text of ``format(negative:magnitude:scale:)`` as UTF-8 at the start of `out` (which holds at least
    /// ``maximumLength(scale:)`` bytes) and returns how many bytes it wrote.
    public static func write(negative: Bool, magnitude: UInt128, scale: Int, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        precondition(scale >= 0 && out.count >= maximumLength(scale: scale), "buffer too small for the formatted number")
        // Digits from the last, at the end of `out`; at least `scale` + 1 of them (a leading zero before the point).
        var end = out.count
        var count = 0
        /// One digit loop for both widths: UInt64 division is much cheaper than UInt128's, and most values fit.
        func digits<Value: FixedWidthInteger & UnsignedInteger>(_ value: Value) {
            var rest = value
            repeat {
                end -= 1
                out[end] = 0x30 + UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
                count += 1
            } while rest > 0 || count <= scale
        }
        if let small = UInt64(exactly: magnitude) { digits(small) } else { digits(magnitude) }
        // Then moved to the front (the regions may overlap: copyMemory is a memmove), the point put in.
        var position = 0
        if negative {
            out[0] = UInt8(ascii: "-")
            position = 1
        }
        let whole = count - scale
        let base = UnsafeMutableRawPointer(out.baseAddress!)
        base.advanced(by: position).copyMemory(from: base.advanced(by: end), byteCount: whole)
        position += whole
        guard scale > 0 else { return position }
        // The fraction's source lies after everything written so far, so this move never overwrites digits still to move.
        let fractionStart = end + whole
        out[position] = UInt8(ascii: ".")
        base.advanced(by: position + 1).copyMemory(from: base.advanced(by: fractionStart), byteCount: scale)
        return position + 1 + scale
    }
}
