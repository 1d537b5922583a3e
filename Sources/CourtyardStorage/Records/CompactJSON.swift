import CourtyardDomain

/// Hand-written JSON for the two shapes a bill run writes per row (tier breakdowns, window usage), byte-for-byte what
/// ``StoredJSON`` produces and reads, without a `JSONEncoder` per row (which was a quarter of a bill run's time).
enum CompactJSON {
    /// A JSON string literal.
    static func quoted(_ text: String, into out: inout String) {
        out.append("\"")
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append("\"")
    }

    /// `[QuoteLine]` with sorted snake_case keys and absent optionals left out, as `StoredJSON.encode` writes it: slices whose
    /// sentence follows from their numbers are stored without it (and without the unit, which the bill line has).
    ///
    /// Written as bytes into one buffer, numbers formatted in place: built per bill line, string appends and
    /// `decimalText` were a seventh of a bill run's CPU.
    static func breakdown(_ lines: [QuoteLine]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(lines.count * 128)
        breakdown(lines, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// ``breakdown(_:)`` appended to `out` as UTF-8 (bulk writes put it straight into their row buffer).
    static func breakdown(_ lines: [QuoteLine], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (index, line) in lines.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "{"))
            var months: Int64?
            switch line.explanation {
            case .fixed(let count):
                months = count
            case .area(let area, let count):
                out.append(literal: #""area":""#)
                decimal(negative: area.hundredths < 0, magnitude: UInt128(area.hundredths.magnitude), scale: 2, into: &out)
                out.append(literal: #"","#)
                months = count
            case .tier, .window:
                break
            case .text(let text):
                out.append(literal: #""description":"#)
                quoted(bytes: text, into: &out)
                out.append(UInt8(ascii: ","))
            }
            out.append(literal: #""exact":""#)
            let exact = line.exact.tenMillionths
            decimal(negative: exact < 0, magnitude: exact.magnitude, scale: 7, into: &out)
            out.append(UInt8(ascii: "\""))
            if case .tier(.volume) = line.explanation { out.append(literal: #","mode":"volume""#) }
            if let months {
                out.append(literal: #","months":"#)
                decimal(negative: months < 0, magnitude: UInt128(months.magnitude), scale: 0, into: &out)
            }
            if let quantity = line.quantity {
                out.append(literal: #","quantity":""#)
                decimal(negative: quantity.milliUnits < 0, magnitude: UInt128(quantity.milliUnits.magnitude), scale: 3, into: &out)
                out.append(UInt8(ascii: "\""))
            }
            if let tier = line.tier {
                out.append(literal: #","tier":"#)
                decimal(negative: tier < 0, magnitude: UInt128(tier.magnitude), scale: 0, into: &out)
            }
            if let price = line.unitPrice {
                out.append(literal: #","unit_price":""#)
                decimal(negative: price.tenThousandths < 0, magnitude: UInt128(price.tenThousandths.magnitude), scale: 4, into: &out)
                out.append(UInt8(ascii: "\""))
            }
            if let window = line.window {
                out.append(literal: #","window":"#)
                quoted(bytes: window, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
    }

    /// ``quoted(_:into:)`` on bytes.
    static func quoted(bytes text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Almost every text needs no escape: then it is copied whole.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out.append(utf8: text)
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0x0A: out.append(contentsOf: #"\n"#.utf8)
            case 0x0D: out.append(contentsOf: #"\r"#.utf8)
            case 0x09: out.append(contentsOf: #"\t"#.utf8)
            case ..<0x20:
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hexDigit(byte >> 4))
                out.append(hexDigit(byte & 0x0F))
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 { value < 10 ? 0x30 + value : 0x57 + value }

    /// `FixedPoint.format` into bytes: the sign, the whole part, and exactly `scale` fraction digits.
    static func decimal(negative: Bool, magnitude: UInt128, scale: Int, into out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: FixedPoint.maximumLength(scale: scale)) { buffer in
            let count = FixedPoint.write(negative: negative, magnitude: magnitude, scale: scale, into: buffer)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<count]))
        }
    }

    /// A flat object of quantities (`{"peak":"120.000","valley":"133.400"}`), keys sorted.
    static func quantities(_ values: [String: Quantity]) -> String {
        var out = "{"
        for (index, key) in values.keys.sorted().enumerated() {
            if index > 0 { out.append(",") }
            quoted(key, into: &out)
            out.append(":\"" + values[key]!.decimalText + "\"")
        }
        out.append("}")
        return out
    }

    /// Reads what ``quantities(_:)`` writes (keys without escapes); `nil` for anything else, so callers fall back to `JSONDecoder`.
    static func parseQuantities(_ text: String) -> [String: Quantity]? {
        var result: [String: Quantity] = [:]
        var utf8 = Substring(text).utf8[...]
        func expect(_ byte: UInt8) -> Bool {
            guard utf8.first == byte else { return false }
            utf8 = utf8.dropFirst()
            return true
        }
        func string() -> Substring? {
            guard expect(UInt8(ascii: "\"")), let end = utf8.firstIndex(of: UInt8(ascii: "\"")) else { return nil }
            let value = Substring(utf8[utf8.startIndex..<end])
            guard !value.utf8.contains(UInt8(ascii: "\\")) else { return nil }
            utf8 = utf8[utf8.index(after: end)...]
            return value
        }
        guard expect(UInt8(ascii: "{")) else { return nil }
        if expect(UInt8(ascii: "}")) { return utf8.isEmpty ? result : nil }
        while true {
            guard let key = string(), expect(UInt8(ascii: ":")), let value = string(),
                let quantity = try? Quantity(parsing: value)
            else { return nil }
            result[String(key)] = quantity
            if expect(UInt8(ascii: ",")) { continue }
            guard expect(UInt8(ascii: "}")), utf8.isEmpty else { return nil }
            return result
        }
    }
}

extension [UInt8] {
    /// Appends a literal's UTF-8 in one copy (`append(contentsOf: "…".utf8)` went byte by byte in profiles).
    mutating func append(literal: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends `text`'s UTF-8 in one copy.
    mutating func append(utf8 text: String) {
        var text = text
        text.withUTF8 { append(contentsOf: $0) }
    }
}
