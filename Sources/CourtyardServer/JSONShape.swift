/// One reading of a JSON request body for every route, before any decoder sees it.
///
/// Decoders differ at the edges (Foundation's accepted a trailing comma and took one of two equal member names; the
/// readings parser refused the comma and took the later name), and a body read two ways is how requests get past
/// checks. So every JSON body is first checked here, the same way everywhere:
/// - a UTF-8 byte-order mark at the start is dropped (RFC 8259 §8.1 allows ignoring it);
/// - the body must be an object or an array (`null` or a bare number is 400 `malformed_json`);
/// - no trailing commas, no member name twice in one object, no escaped control character other than tab, line feed
///   and carriage return (`control_character`).
enum JSONShape {
    enum Failure: Error, Equatable {
        case malformed(String)
        case controlCharacter(String)
    }

    /// The body without its byte-order mark, once it passed every check.
    static func check(_ bytes: [UInt8]) throws(Failure) -> ArraySlice<UInt8> {
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        var reader = Reader(bytes: body)
        reader.skipSpace()
        guard let first = reader.peek(), first == UInt8(ascii: "{") || first == UInt8(ascii: "[") else {
            throw .malformed("expected a JSON object or array")
        }
        try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.atEnd else { throw .malformed("text after the JSON value (at byte \(reader.offset))") }
        return body
    }

    private struct Reader {
        let bytes: ArraySlice<UInt8>
        var index: Int

        init(bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            self.index = bytes.startIndex
        }

        var atEnd: Bool { index >= bytes.endIndex }
        var offset: Int { index - bytes.startIndex }
        func peek() -> UInt8? { atEnd ? nil : bytes[index] }

        mutating func skipSpace() {
            while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        mutating func expect(_ byte: UInt8) throws(Failure) {
            guard peek() == byte else { throw .malformed("expected '\(Character(Unicode.Scalar(byte)))' at byte \(offset)") }
            index += 1
        }

        mutating func value(depth: Int) throws(Failure) {
            guard depth < 64 else { throw .malformed("nested deeper than 64 levels") }
            skipSpace()
            guard let byte = peek() else { throw .malformed("the body ends early") }
            switch byte {
            case UInt8(ascii: "{"): try object(depth: depth)
            case UInt8(ascii: "["): try array(depth: depth)
            case UInt8(ascii: "\""): _ = try string()
            default: try scalar()
            }
        }

        mutating func object(depth: Int) throws(Failure) {
            index += 1
            var names: Set<ArraySlice<UInt8>> = []
            skipSpace()
            if peek() == UInt8(ascii: "}") { index += 1; return }
            while true {
                skipSpace()
                guard peek() == UInt8(ascii: "\"") else {
                    throw .malformed(
                        peek() == UInt8(ascii: "}") ? "a trailing comma before '}' (at byte \(offset))" : "expected a member name at byte \(offset)")
                }
                let name = try string()
                guard names.insert(name).inserted else {
                    throw .malformed("the member \"\(String(decoding: name, as: UTF8.self).prefix(40))\" appears twice in one object")
                }
                skipSpace()
                try expect(UInt8(ascii: ":"))
                try value(depth: depth + 1)
                skipSpace()
                if peek() == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "}"))
                return
            }
        }

        mutating func array(depth: Int) throws(Failure) {
            index += 1
            skipSpace()
            if peek() == UInt8(ascii: "]") { index += 1; return }
            while true {
                skipSpace()
                if peek() == UInt8(ascii: "]") { throw .malformed("a trailing comma before ']' (at byte \(offset))") }
                try value(depth: depth + 1)
                skipSpace()
                if peek() == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "]"))
                return
            }
        }

        /// A string's raw bytes between the quotes (escapes kept as written: equal names compare equal when written alike).
        mutating func string() throws(Failure) -> ArraySlice<UInt8> {
            index += 1
            let start = index
            while let byte = peek() {
                switch byte {
                case UInt8(ascii: "\""):
                    let text = bytes[start..<index]
                    index += 1
                    return text
                case UInt8(ascii: "\\"):
                    index += 1
                    guard let escaped = peek() else { throw .malformed("the body ends inside a string") }
                    index += 1
                    if escaped == UInt8(ascii: "u") {
                        var value: UInt32 = 0
                        for _ in 0..<4 {
                            guard let digit = peek(), let nibble = Self.hex(digit) else { throw .malformed("a bad \\u escape at byte \(offset)") }
                            value = value << 4 | nibble
                            index += 1
                        }
                        if (value < 0x20 && value != 0x09 && value != 0x0A && value != 0x0D) || value == 0x7F {
                            throw .controlCharacter("U+" + String(value, radix: 16, uppercase: true).leftPadded(to: 4))
                        }
                    }
                case 0x00..<0x20:
                    throw .malformed("a raw control character inside a string at byte \(offset)")
                default:
                    index += 1
                }
            }
            throw .malformed("the body ends inside a string")
        }

        mutating func scalar() throws(Failure) {
            let start = index
            while let byte = peek(),
                !(byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]")
                    || byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D)
            {
                index += 1
            }
            let text = bytes[start..<index]
            guard !text.isEmpty else { throw .malformed("expected a value at byte \(offset)") }
            if text.elementsEqual("true".utf8) || text.elementsEqual("false".utf8) || text.elementsEqual("null".utf8) { return }
            // A number: -?digits[.digits][e[+-]digits]
            var numberOK = true
            var seenDigit = false
            for (position, byte) in text.enumerated() {
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): seenDigit = true
                case UInt8(ascii: "-"), UInt8(ascii: "+"):
                    numberOK =
                        numberOK
                        && (position == 0
                            || [UInt8(ascii: "e"), UInt8(ascii: "E")].contains(text[text.index(text.startIndex, offsetBy: position - 1)]))
                case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): break
                default: numberOK = false
                }
            }
            guard numberOK, seenDigit else { throw .malformed("not a JSON value at byte \(start - bytes.startIndex)") }
        }

        static func hex(_ byte: UInt8) -> UInt32? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
            default: nil
            }
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
