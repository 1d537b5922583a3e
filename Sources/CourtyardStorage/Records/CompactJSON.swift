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

    /// `[QuoteLine]` with sorted snake_case keys and absent optionals left out, as `StoredJSON.encode` writes it.
    static func breakdown(_ lines: [QuoteLine]) -> String {
        var out = "["
        for (index, line) in lines.enumerated() {
            if index > 0 { out.append(",") }
            out.append("{\"description\":")
            quoted(line.description, into: &out)
            out.append(",\"exact\":\"")
            out.append(line.exact.decimalText)
            out.append("\"")
            if let quantity = line.quantity { out.append(",\"quantity\":\"" + quantity.decimalText + "\"") }
            if let tier = line.tier { out.append(",\"tier\":" + String(tier)) }
            if let price = line.unitPrice { out.append(",\"unit_price\":\"" + price.decimalText + "\"") }
            if let window = line.window {
                out.append(",\"window\":")
                quoted(window, into: &out)
            }
            out.append("}")
        }
        out.append("]")
        return out
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
            guard !value.contains("\\") else { return nil }
            utf8 = utf8[utf8.index(after: end)...]
            return value
        }
        guard expect(UInt8(ascii: "{")) else { return nil }
        if expect(UInt8(ascii: "}")) { return utf8.isEmpty ? result : nil }
        while true {
            guard let key = string(), expect(UInt8(ascii: ":")), let value = string(),
                  let quantity = try? Quantity(parsing: value) else { return nil }
            result[String(key)] = quantity
            if expect(UInt8(ascii: ",")) { continue }
            guard expect(UInt8(ascii: "}")), utf8.isEmpty else { return nil }
            return result
        }
    }
}
