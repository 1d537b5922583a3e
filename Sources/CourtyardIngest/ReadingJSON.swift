/// A strict JSON reader for reading bodies (RFC 8259), which keeps only the fields a reading can have.
///
/// Batches of thousands of readings arrive many times a second, and Foundation's `JSONDecoder` (a tree of values, then
/// `Codable` containers per field) was about half of the request side's time per reading. This reader walks the bytes
/// once, builds no tree, and keeps each known field as its text: numbers stay exact decimal text (never binary floating
/// point). What `JSONDecoder` refuses is refused: invalid UTF-8, lone surrogates, bad escapes and numbers,
/// trailing text, nesting beyond ``maximumDepth``. One difference, on the strict side: a raw control character or
/// invalid UTF-8 inside a string makes the body malformed (RFC 8259 §7, §8.1), where `JSONDecoder` fails only the item
/// that holds it.
struct ReadingJSON {
    /// One field of a reading object, as far as the parser cares.
    enum Value: Equatable {
        case null
        case string(String)
        /// A JSON number, as plain decimal text without exponent or trailing fractional zeros ("1.50e1" is "15").
        case number(String)
        /// `true`, `false`, an object or an array.
        case other
    }

    /// The fields of one reading object (an object giving a field twice is ``Element/repeated(_:)``).
    struct Fields {
        var values: [Value?] = Array(repeating: nil, count: ReadingParser.Key.allCases.count)

        subscript(key: ReadingParser.Key) -> Value? {
            get { values[key.index] }
            set { values[key.index] = newValue }
        }
    }

    /// One element of the body: an object's fields, or something else (a bad item).
    enum Element {
        case object(Fields)
        case notAnObject
        /// An object that gives this reading field more than once.
        case repeated(ReadingParser.Key)
    }

    /// Why the bytes are not JSON; the message names the offset.
    struct Malformed: Error {
        var message: String
    }

    static let maximumDepth = 128

    private let bytes: UnsafeBufferPointer<UInt8>
    private var at = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// The elements of a top-level array (`isArray`), or the one top-level value; `limit` bounds how many elements are
    /// kept (the rest are checked and counted only).
    static func read(_ bytes: UnsafeBufferPointer<UInt8>, limit: Int) throws(Malformed) -> (elements: [Element], count: Int, isArray: Bool) {
        var reader = ReadingJSON(bytes)
        reader.skipSpace()
        guard reader.at < bytes.count else { throw Malformed(message: "the body is empty") }
        var elements: [Element] = []
        var count = 0
        let isArray = bytes[reader.at] == UInt8(ascii: "[")
        if isArray {
            reader.at += 1
            reader.skipSpace()
            if reader.peek == UInt8(ascii: "]") {
                reader.at += 1
            } else {
                while true {
                    reader.skipSpace()
                    if count < limit { elements.append(try reader.element()) } else { try reader.skipValue(depth: 1) }
                    count += 1
                    reader.skipSpace()
                    guard let next = reader.peek else { throw reader.malformed("the array is not closed") }
                    reader.at += 1
                    if next == UInt8(ascii: "]") { break }
                    guard next == UInt8(ascii: ",") else { throw reader.malformed("expected ',' or ']'", offset: reader.at - 1) }
                }
            }
        } else {
            elements.append(try reader.element())
            count = 1
        }
        reader.skipSpace()
        guard reader.at == bytes.count else { throw reader.malformed("unexpected text after the JSON value") }
        return (elements, count, isArray)
    }

    private var peek: UInt8? { at < bytes.count ? bytes[at] : nil }

    private func malformed(_ what: String, offset: Int? = nil) -> Malformed {
        Malformed(message: "\(what) at byte \(offset ?? at)")
    }

    private mutating func skipSpace() {
        while at < bytes.count {
            switch bytes[at] {
            case 0x20, 0x0A, 0x0D, 0x09: at += 1
            default: return
            }
        }
    }

    private mutating func element() throws(Malformed) -> Element {
        guard peek == UInt8(ascii: "{") else {
            try skipValue(depth: 1)
            return .notAnObject
        }
        at += 1
        var fields = Fields()
        var repeated: ReadingParser.Key?
        skipSpace()
        if peek == UInt8(ascii: "}") {
            at += 1
            return .object(fields)
        }
        while true {
            skipSpace()
            guard peek == UInt8(ascii: "\"") else { throw malformed("expected a member name") }
            let key = try keyName()
            skipSpace()
            guard peek == UInt8(ascii: ":") else { throw malformed("expected ':'") }
            at += 1
            skipSpace()
            if let key {
                // A field given twice has two meanings, and which one a reader keeps differs between parsers: the item is
                // refused (its neighbours are not), on every transport, MQTT included.
                let parsed = try value()
                if fields[key] != nil, repeated == nil { repeated = key }
                fields[key] = parsed
            } else {
                try skipValue(depth: 2)
            }
            skipSpace()
            guard let next = peek else { throw malformed("the object is not closed") }
            at += 1
            if next == UInt8(ascii: "}") { return repeated.map(Element.repeated) ?? .object(fields) }
            guard next == UInt8(ascii: ",") else { throw malformed("expected ',' or '}'", offset: at - 1) }
        }
    }

    /// A member name: the field it is, or nil for a name the parser ignores.
    private mutating func keyName() throws(Malformed) -> ReadingParser.Key? {
        let start = at + 1
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 { end += 1 }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            let name = UnsafeBufferPointer(rebasing: bytes[start..<end])
            if name.contains(where: { $0 >= 0x80 }), String(validating: name, as: UTF8.self) == nil {
                throw malformed("invalid UTF-8 in a member name", offset: start)
            }
            at = end + 1
            return ReadingParser.Key.matching(name)
        }
        let name = try string()
        return ReadingParser.Key(rawValue: name)
    }

    private mutating func value() throws(Malformed) -> Value {
        guard let first = peek else { throw malformed("expected a value") }
        switch first {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default:
            try skipValue(depth: 2)
            return .other
        }
    }

    private mutating func literal(_ word: StaticString) throws(Malformed) {
        let count = word.utf8CodeUnitCount
        guard at + count <= bytes.count else { throw malformed("unexpected end of the body") }
        for offset in 0..<count where bytes[at + offset] != word.utf8Start[offset] { throw malformed("invalid literal") }
        at += count
    }

    /// Skips one value of any kind, checking it.
    private mutating func skipValue(depth: Int) throws(Malformed) {
        guard depth <= Self.maximumDepth else { throw malformed("nested too deeply") }
        guard let first = peek else { throw malformed("expected a value") }
        switch first {
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try number()
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            let object = first == UInt8(ascii: "{")
            let close = object ? UInt8(ascii: "}") : UInt8(ascii: "]")
            at += 1
            skipSpace()
            if peek == close {
                at += 1
                return
            }
            while true {
                skipSpace()
                if object {
                    guard peek == UInt8(ascii: "\"") else { throw malformed("expected a member name") }
                    _ = try string()
                    skipSpace()
                    guard peek == UInt8(ascii: ":") else { throw malformed("expected ':'") }
                    at += 1
                    skipSpace()
                }
                try skipValue(depth: depth + 1)
                skipSpace()
                guard let next = peek else { throw malformed("unexpected end of the body") }
                at += 1
                if next == close { return }
                guard next == UInt8(ascii: ",") else { throw malformed("expected ',' or '\(Character(Unicode.Scalar(close)))'", offset: at - 1) }
            }
        default:
            throw malformed("unexpected character")
        }
    }

    /// A string (at its opening quote), unescaped and checked as UTF-8.
    private mutating func string() throws(Malformed) -> String {
        let start = at + 1
        var index = start
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 { index += 1 }
        guard index < bytes.count else { throw malformed("the string is not closed", offset: start - 1) }
        if bytes[index] == UInt8(ascii: "\"") {
            at = index + 1
            guard let text = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self) else {
                throw malformed("invalid UTF-8 in a string", offset: start)
            }
            return text
        }
        var unescaped = Array(bytes[start..<index])
        while true {
            guard index < bytes.count else { throw malformed("the string is not closed", offset: start - 1) }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { break }
            guard byte >= 0x20 else { throw malformed("a control character in a string must be escaped", offset: index) }
            guard byte == UInt8(ascii: "\\") else {
                unescaped.append(byte)
                index += 1
                continue
            }
            guard index + 1 < bytes.count else { throw malformed("the string is not closed", offset: start - 1) }
            let escape = bytes[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): unescaped.append(escape)
            case UInt8(ascii: "b"): unescaped.append(0x08)
            case UInt8(ascii: "f"): unescaped.append(0x0C)
            case UInt8(ascii: "n"): unescaped.append(0x0A)
            case UInt8(ascii: "r"): unescaped.append(0x0D)
            case UInt8(ascii: "t"): unescaped.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(at: index)
                index += 4
                if (0xD800..<0xDC00).contains(scalar) {
                    guard index + 6 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                        throw malformed("a lone surrogate in a string", offset: index)
                    }
                    let low = try hex4(at: index + 2)
                    guard (0xDC00..<0xE000).contains(low) else { throw malformed("a lone surrogate in a string", offset: index) }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw malformed("a lone surrogate in a string", offset: index - 6)
                }
                guard let character = Unicode.Scalar(scalar) else { throw malformed("an invalid escape", offset: index - 6) }
                unescaped.append(contentsOf: String(character).utf8)
            default:
                throw malformed("an invalid escape", offset: index - 2)
            }
        }
        at = index + 1
        guard let text = String(validating: unescaped, as: UTF8.self) else { throw malformed("invalid UTF-8 in a string", offset: start) }
        return text
    }

    private func hex4(at index: Int) throws(Malformed) -> UInt32 {
        guard index + 4 <= bytes.count else { throw malformed("unexpected end of the body") }
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = bytes[index + offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw malformed("an invalid \\u escape", offset: index + offset)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// A number (RFC 8259 grammar), as plain decimal text: the exponent applied, trailing fractional zeros dropped.
    private mutating func number() throws(Malformed) -> String {
        let start = at
        var index = at
        func digits() -> Int {
            let from = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return index - from
        }
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        let integerStart = index
        let integerDigits = digits()
        guard integerDigits > 0, !(integerDigits > 1 && bytes[integerStart] == UInt8(ascii: "0")) else {
            throw malformed("an invalid number", offset: start)
        }
        var fraction = integerStart..<integerStart
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let fractionStart = index
            guard digits() > 0 else { throw malformed("an invalid number", offset: start) }
            fraction = fractionStart..<index
        }
        var exponent = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            var exponentNegative = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            let exponentStart = index
            guard digits() > 0 else { throw malformed("an invalid number", offset: start) }
            for offset in exponentStart..<index {
                // Anything this large is out of range for every field anyway; clamp rather than overflow.
                exponent = min(exponent * 10 + Int(bytes[offset] - UInt8(ascii: "0")), 10_000)
            }
            if exponentNegative { exponent = -exponent }
        }
        at = index
        // All significant digits, and where the decimal point goes among them.
        var significant = Array(bytes[integerStart..<(integerStart + integerDigits)])
        significant.append(contentsOf: bytes[fraction])
        var point = integerDigits + exponent
        while significant.count > 1, significant.first == UInt8(ascii: "0"), point > 1 {
            significant.removeFirst()
            point -= 1
        }
        var text = negative ? "-" : ""
        if point <= 0 {
            text += "0." + String(repeating: "0", count: min(-point, 10_000))
            text += String(decoding: significant, as: UTF8.self)
        } else if point >= significant.count {
            text += String(decoding: significant, as: UTF8.self) + String(repeating: "0", count: min(point - significant.count, 10_000))
        } else {
            text += String(decoding: significant[..<point], as: UTF8.self) + "." + String(decoding: significant[point...], as: UTF8.self)
        }
        if text.contains(".") {
            while text.last == "0" { text.removeLast() }
            if text.last == "." { text.removeLast() }
        }
        return text
    }
}
