import Foundation

/// Text from outside must not carry control characters: a NUL cannot even be stored by PostgreSQL (a name with one
/// answered 500 there and was kept on SQLite), and the others have no place in names, codes, zones or ids.
///
/// Checked at the boundary, for every route: query and path values as they arrive, and JSON bodies before they are
/// decoded (a `\u0000`…`\u001F` escape other than tab, line feed and carriage return, or DEL), so no handler has to
/// remember it.
enum InputText {
    /// The first control character in `text` ("U+0000"), or `nil`.
    static func controlCharacter(in text: some StringProtocol) -> String? {
        for scalar in text.unicodeScalars where scalar.value < 0x20 || scalar.value == 0x7F {
            return String(format: "U+%04X", scalar.value)
        }
        return nil
    }

    /// The first escaped control character in a JSON text (`\u0000`; tab, line feed and carriage return are allowed in
    /// free text), or `nil`. Raw control characters inside strings are already invalid JSON, refused by the parser.
    static func escapedControlCharacter(inJSON bytes: some Collection<UInt8>) -> String? {
        var iterator = bytes.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "\\") else { continue }
            guard let escaped = iterator.next() else { return nil }
            guard escaped == UInt8(ascii: "u") else { continue }
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let digit = iterator.next(), let nibble = hex(digit) else { return nil }
                value = value << 4 | nibble
            }
            if (value < 0x20 && value != 0x09 && value != 0x0A && value != 0x0D) || value == 0x7F {
                return String(format: "U+%04X", value)
            }
        }
        return nil
    }

    private static func hex(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
