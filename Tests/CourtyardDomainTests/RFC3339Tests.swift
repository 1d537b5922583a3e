import Foundation
import PropertyBased
import Testing

@testable import CourtyardDomain

@Suite("RFC 3339 timestamps")
struct RFC3339Tests {
    @Test("a WeChat Pay success_time and a UTC time name the instants they say")
    func knownAnswers() {
        // 2026-12-06T02:15:30Z is 1,796,523,330 s after the epoch (20,428 days × 86,400 + 8,130 s).
        #expect(RFC3339.milliseconds("2026-12-06T10:15:30+08:00") == 1_796_523_330_000)
        #expect(RFC3339.milliseconds("2026-12-06T02:15:30Z") == 1_796_523_330_000)
        #expect(RFC3339.milliseconds("2026-12-05t20:15:30-06:00") == 1_796_523_330_000)
        #expect(RFC3339.milliseconds("2026-12-06T02:15:30.125z") == 1_796_523_330_125)
        #expect(RFC3339.milliseconds("2026-12-06T02:15:30.1Z") == 1_796_523_330_100)
        #expect(RFC3339.milliseconds("2026-12-06T02:15:30.123456789Z") == 1_796_523_330_123, "truncated to the millisecond")
        #expect(RFC3339.milliseconds("1970-01-01T00:00:00Z") == 0)
        #expect(RFC3339.milliseconds("1969-12-31T23:59:59.999Z") == -1)
        #expect(RFC3339.milliseconds("0001-01-01T00:00:00Z") == -62_135_596_800_000)
        #expect(RFC3339.milliseconds("9999-12-31T23:59:59+14:00") == 253_402_250_399_000)
        #expect(RFC3339.date("2024-02-29T12:00:00+08:00") == Date(timeIntervalSince1970: 1_709_179_200))
    }

    @Test(
        "what is not an RFC 3339 instant is refused, never rolled over",
        arguments: [
            "", "2026-12-06", "2026-12-06T10:15:30", "2026-12-06 10:15:30+08:00", "2026-12-06T10:15:30+0800",
            "2026-12-06T10:15:30+08", "2026-02-30T10:15:30Z", "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
            "2026-00-10T00:00:00Z", "2026-12-00T00:00:00Z", "0000-01-01T00:00:00Z", "2026-12-06T24:00:00Z",
            "2026-12-06T23:60:00Z", "2026-12-06T23:59:60Z", "2026-12-06T10:15:30.Z", "2026-12-06T10:15:30+24:00",
            "2026-12-06T10:15:30+08:60", "2026-12-06T10:15:30Zjunk", "2026-12-06T10:15:30+08:00 ",
            "+2026-12-06T10:15:30Z", "2026-12-06T10:15:3OZ", "２０２６-12-06T10:15:30Z",
            "2026-12-06T10:15:30." + String(repeating: "9", count: 60) + "Z",
        ])
    func refusals(_ text: String) {
        #expect(RFC3339.milliseconds(text) == nil)
    }

    @Test("every instant written by Foundation in any whole-minute offset reads back to the same millisecond")
    func agreesWithFoundation() async {
        let offsets = Gen.int(in: -(14 * 60)...(14 * 60))
        // From 1583 on: Foundation's calendar is Julian before the Gregorian reform of October 1582, RFC 3339's is
        // proleptic Gregorian (the known answers above cover year 1).
        let seconds = Gen.int(in: -12_212_553_600...253_402_300_799)
        await propertyCheck(count: 1_000, input: seconds, offsets, Gen.int(in: 0...999)) { second, offsetMinutes, millis in
            let zone = TimeZone(secondsFromGMT: offsetMinutes * 60)!
            let formatter = ISO8601DateFormatter()
            formatter.timeZone = zone
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let instant = Date(timeIntervalSince1970: TimeInterval(second) + TimeInterval(millis) / 1_000)
            let text = formatter.string(from: instant)
            // Foundation rounds the fraction to the millisecond it writes; read back what it wrote.
            guard let written = formatter.date(from: text), (1...9999).contains(Int(text.prefix(4)) ?? 0) else { return }
            let expected = Int64((written.timeIntervalSince1970 * 1_000).rounded())
            #expect(RFC3339.milliseconds(text) == expected, "\(text)")
        }
    }
}
