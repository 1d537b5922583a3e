import Foundation

/// RFC 3339 timestamps with an offset ("2026-12-06T10:15:30+08:00", "2026-12-06T02:15:30.125Z"), read byte by byte.
///
/// Payment channels and API filters send instants this way. Foundation's `ISO8601DateFormatter` is built per call in
/// the places that read them, and building one took about a millisecond of a WeChat Pay callback's ten; this reader
/// takes microseconds, checks every field's range (a date that does not exist is refused, not rolled over) and never
/// traps on what it is given.
public enum RFC3339 {
    /// Milliseconds since the epoch, or `nil` unless `text` is `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` with a real
    /// date in years 1–9999. Fractions finer than a millisecond are truncated; `t` and `z` are accepted as RFC 3339
    /// allows; a time without an offset is refused (it names no instant).
    public static func milliseconds(_ text: some StringProtocol) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.count <= 64 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let date = LocalDate(year: year, month: month, day: day),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            hour < 24, minute < 60, second < 60
        else { return nil }
        var index = 19
        var millis = 0
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            var places = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                if places < 3 { millis = millis * 10 + Int(bytes[index] - UInt8(ascii: "0")) }
                places += 1
                index += 1
            }
            guard places > 0 else { return nil }
            for _ in min(places, 3)..<3 { millis *= 10 }
        }
        guard index < bytes.count else { return nil }
        var offset = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == bytes.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == bytes.count, bytes[index + 3] == UInt8(ascii: ":"),
                let hours = number((index + 1)..<(index + 3)), let minutes = number((index + 4)..<(index + 6)),
                hours < 24, minutes < 60
            else { return nil }
            offset = (hours * 3_600 + minutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        default:
            return nil
        }
        let seconds = Int64(date.daysSinceEpoch) * 86_400 + Int64(hour * 3_600 + minute * 60 + second) - Int64(offset)
        return seconds * 1_000 + Int64(millis)
    }

    /// The instant `text` names, or `nil` (see ``milliseconds(_:)``).
    public static func date(_ text: some StringProtocol) -> Date? {
        milliseconds(text).map { Date(timeIntervalSince1970: TimeInterval($0) / 1_000) }
    }
}
