/// Why a byte string is not a valid meter frame.
///
/// Decoders never trap on input: every malformed capture (a truncated read, a
/// stray byte, a bad checksum, a field that is not BCD) ends in one of these
/// cases, each with a stable ``code`` for APIs and the offset where it went wrong.
public enum FrameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The input ends before the frame does; `needed` more bytes were expected.
    case truncated(needed: Int)
    /// A start delimiter (0x68) is missing at `offset`.
    case missingStart(offset: Int)
    /// The checksum byte disagrees with the sum of the frame.
    case badChecksum(expected: UInt8, found: UInt8)
    /// The end delimiter (0x16) is missing at `offset`.
    case missingEnd(offset: Int)
    /// Bytes follow the end delimiter.
    case trailingBytes(count: Int)
    /// A field that must be BCD holds a nibble above 9.
    case notBCD(field: String)
    /// The data field is shorter or longer than its control code requires.
    case badLength(field: String, expected: Int, found: Int)
    /// Text given as hex is not an even run of hex digits.
    case notHex
    /// A value to encode is out of range for its field.
    case invalidField(field: String, reason: String)

    /// A stable machine-readable code.
    public var code: String {
        switch self {
        case .truncated: "frame_truncated"
        case .missingStart: "frame_missing_start"
        case .badChecksum: "frame_bad_checksum"
        case .missingEnd: "frame_missing_end"
        case .trailingBytes: "frame_trailing_bytes"
        case .notBCD: "frame_not_bcd"
        case .badLength: "frame_bad_length"
        case .notHex: "frame_not_hex"
        case .invalidField: "frame_invalid_field"
        }
    }

    public var description: String {
        switch self {
        case .truncated(let needed): "the frame is truncated: \(needed) more byte(s) expected"
        case .missingStart(let offset): "no start delimiter 68 at byte \(offset)"
        case .badChecksum(let expected, let found): "checksum is \(Hex.byte(found)), the frame sums to \(Hex.byte(expected))"
        case .missingEnd(let offset): "no end delimiter 16 at byte \(offset)"
        case .trailingBytes(let count): "\(count) byte(s) follow the end delimiter"
        case .notBCD(let field): "\(field) is not BCD"
        case .badLength(let field, let expected, let found): "\(field) needs \(expected) byte(s), found \(found)"
        case .notHex: "the input is not an even number of hex digits"
        case .invalidField(let field, let reason): "\(field): \(reason)"
        }
    }
}

/// Hex text in and out: captures arrive as `FE FE 68 …`, `fefe68…` or `0x68,0x10,…`.
public enum Hex {
    /// Reads hex text, ignoring spaces, commas, colons, dashes and `0x` prefixes.
    public static func bytes(_ text: some StringProtocol) throws(FrameError) -> [UInt8] {
        var digits: [UInt8] = []
        digits.reserveCapacity(text.utf8.count)
        var previous: UInt8 = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: "-"), UInt8(ascii: "\n"),
                UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                previous = byte
                continue
            case UInt8(ascii: "x"), UInt8(ascii: "X"):
                // "0x" prefix: drop the 0 we just read, provided it started a byte.
                guard previous == UInt8(ascii: "0"), digits.count % 2 == 1 else { throw .notHex }
                digits.removeLast()
                previous = byte
                continue
            default:
                guard let value = nibble(byte) else { throw .notHex }
                digits.append(value)
                previous = byte
            }
        }
        guard digits.count % 2 == 0 else { throw .notHex }
        var result: [UInt8] = []
        result.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            result.append(digits[index] << 4 | digits[index + 1])
            index += 2
        }
        return result
    }

    /// Upper-case hex, bytes separated by spaces: `68 10 AA`.
    public static func string(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map(byte).joined(separator: " ")
    }

    /// One byte as two upper-case hex digits.
    public static func byte(_ value: UInt8) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        return String(decoding: [digits[Int(value >> 4)], digits[Int(value & 0x0F)]], as: UTF8.self)
    }

    static func nibble(_ ascii: UInt8) -> UInt8? {
        switch ascii {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): ascii - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): ascii - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): ascii - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
