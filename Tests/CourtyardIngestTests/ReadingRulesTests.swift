import CourtyardDevices
import CourtyardMeterProtocols
import CourtyardStorage
import Foundation
import PropertyBased
import Testing

@testable import CourtyardIngest

/// The pure rules of ingestion: usage from register readings, plausibility caps, parsing, signatures, bucketing.
@Suite struct ReadingRulesTests {
    typealias Point = ReadingRules.Point

    @Test func usageIsTheDifferenceOfConsecutiveReadings() {
        #expect(
            ReadingRules.delta(
                from: Point(measuredAt: 0, reading: 1_000), to: Point(measuredAt: 1, reading: 1_250), modulus: nil,
                replacement: nil) == .usage(250, rolledOver: false, replaced: false))
    }

    @Test func aFallIsAWrapOnlyWhenTheModulusExplainsIt() {
        let modulus: Int64 = 1_000_000_000  // 999999.999 kWh
        #expect(
            ReadingRules.delta(
                from: Point(measuredAt: 0, reading: 999_999_000), to: Point(measuredAt: 1, reading: 500), modulus: modulus,
                replacement: nil) == .usage(1_500, rolledOver: true, replaced: false))
        // A small fall is a fault (or tampering), not a wrap.
        #expect(
            ReadingRules.delta(
                from: Point(measuredAt: 0, reading: 5_000), to: Point(measuredAt: 1, reading: 4_000), modulus: modulus,
                replacement: nil) == .negative(-1_000))
        #expect(
            ReadingRules.delta(
                from: Point(measuredAt: 0, reading: 999_999_000), to: Point(measuredAt: 1, reading: 500), modulus: nil,
                replacement: nil) == .negative(-999_998_500))
    }

    /// The threshold itself (issue 25, point 7): a fall of exactly half the modulus is a fault, one unit more is a wrap,
    /// and readings the register cannot show (at or above the modulus, or negative) are never taken for a wrap.
    @Test func theWrapThresholdIsMoreThanHalfTheModulus() {
        func delta(_ previous: Int64, _ current: Int64, _ modulus: Int64) -> ReadingRules.Delta {
            ReadingRules.delta(
                from: Point(measuredAt: 0, reading: previous), to: Point(measuredAt: 1, reading: current), modulus: modulus,
                replacement: nil)
        }
        let modulus: Int64 = 1_000_000_000
        #expect(delta(600_000_000, 100_000_000, modulus) == .negative(-500_000_000), "exactly half: a fault")
        #expect(delta(600_000_001, 100_000_000, modulus) == .usage(499_999_999, rolledOver: true, replaced: false), "one more: a wrap")
        #expect(delta(999_999_999, 0, modulus) == .usage(1, rolledOver: true, replaced: false), "the smallest wrap: one unit")
        #expect(delta(1_000_000_000, 0, modulus) == .negative(-1_000_000_000), "a previous reading the register cannot show")
        #expect(delta(999_999_999, -1, modulus) == .negative(-1_000_000_000), "a negative reading")
        // An odd modulus rounds half down: 999 / 2 = 499, so a fall of 499 is a fault and 500 a wrap.
        #expect(delta(600, 101, 999) == .negative(-499))
        #expect(delta(600, 100, 999) == .usage(499, rolledOver: true, replaced: false))
        // No modulus, or a nonsensical one, never wraps.
        #expect(delta(999_999_999, 0, 0) == .negative(-999_999_999))
        #expect(delta(999_999_999, 0, -5) == .negative(-999_999_999))
    }

    @Test func aReplacementCountsTheOldMeterToItsEndAndTheNewOneFromItsStart() {
        let swap = ReadingRules.Replacement(replacedAt: 5, oldFinal: 12_000, newStart: 100)
        #expect(
            ReadingRules.delta(
                from: Point(measuredAt: 0, reading: 10_000), to: Point(measuredAt: 10, reading: 600), modulus: nil,
                replacement: swap) == .usage(2_500, rolledOver: false, replaced: true))
        // A replacement outside the interval does not apply.
        #expect(
            ReadingRules.delta(
                from: Point(measuredAt: 6, reading: 10_000), to: Point(measuredAt: 10, reading: 600), modulus: nil,
                replacement: swap) == .negative(-9_400))
    }

    @Test func usageOverAnyChainOfReadingsIsLastMinusFirst() async {
        // However readings are spaced, the usages of consecutive pairs add up to the whole (no wraps).
        await propertyCheck(count: 300, input: Gen.int64(in: 0...5_000).array(of: 1...50)) { steps in
            var readings: [Int64] = [1_000]
            for step in steps { readings.append(readings.last! + step) }
            var total: Int64 = 0
            for (index, pair) in zip(readings, readings.dropFirst()).enumerated() {
                guard
                    case .usage(let usage, _, _) = ReadingRules.delta(
                        from: Point(measuredAt: Int64(index), reading: pair.0),
                        to: Point(measuredAt: Int64(index + 1), reading: pair.1),
                        modulus: nil, replacement: nil)
                else { Issue.record("negative"); return }
                total += usage
            }
            #expect(total == readings.last! - readings.first!)
        }
    }

    @Test func theDailyCapScalesWithTheIntervalButNeverBelowOneDay() {
        #expect(ReadingRules.exceedsCap(usage: 999_999, intervalMilliseconds: 3_600_000, kind: .electricityMeter) == nil)
        #expect(ReadingRules.exceedsCap(usage: 1_000_001, intervalMilliseconds: 3_600_000, kind: .electricityMeter) == 1_000_000)
        #expect(ReadingRules.exceedsCap(usage: 2_900_000, intervalMilliseconds: 3 * 86_400_000, kind: .electricityMeter) == nil)
        #expect(ReadingRules.exceedsCap(usage: 60_000, intervalMilliseconds: nil, kind: .waterMeter) == 50_000)
        #expect(ReadingRules.exceedsCap(usage: .max, intervalMilliseconds: nil, kind: .plateCamera) == nil)
    }

    @Test func theRelativeRuleNeedsAWeekOfHistoryAndAllowsTenTimesTheP99() {
        #expect(ReadingRules.dailyP99([1, 2, 3, 4, 5, 6]) == nil)
        #expect(ReadingRules.dailyP99([5, 1, 9, 2, 3, 4, 7]) == 9)
        #expect(ReadingRules.exceedsRecent(usage: 90_000, intervalMilliseconds: 86_400_000, p99: 9_000) == nil)
        #expect(ReadingRules.exceedsRecent(usage: 90_001, intervalMilliseconds: 86_400_000, p99: 9_000) == 90_000)
        #expect(ReadingRules.exceedsRecent(usage: 170_000, intervalMilliseconds: 2 * 86_400_000, p99: 9_000) == nil)
    }

    @Test func timesAreReadAsInstantsOrAsLocalWallClock() {
        #expect(ReadingParser.parseTime("2026-10-01T00:00:00Z") == .instant(milliseconds: 1_790_812_800_000))
        #expect(ReadingParser.parseTime("2026-10-01T08:00:00+08:00") == .instant(milliseconds: 1_790_812_800_000))
        #expect(ReadingParser.parseTime("2026-10-01T00:00:00.25Z") == .instant(milliseconds: 1_790_812_800_250))
        #expect(ReadingParser.parseTime("2025-10-22 00:00:00") == .local(.init(year: 2025, month: 10, day: 22, hour: 0, minute: 0, second: 0)!))
        for bad in ["2026-02-30T00:00:00Z", "2026-10-01", "2026-10-01T24:00:00Z", "2026-10-01T00:00:00+8", "yesterday", "2026-10-01T00:00:00ZZ"] {
            #expect(ReadingParser.parseTime(bad) == nil, "\(bad)")
        }
    }

    @Test func localTimeUsesTheCommunityZone() {
        let shanghai = TimeZone(identifier: "Asia/Shanghai")!
        let clock = CourtyardMeterProtocolsClock.make(2025, 10, 22, 0, 0, 0)
        #expect(CivilTime.instant(clock, in: shanghai) == 1_761_062_400_000)
    }

    @Test func numbersAreReadExactlyFromJSONNumbersAndStrings() throws {
        let body = Data(
            #"[{"deviceId":"w1","usage":0.1,"time":"2025-10-22 00:00:00"},{"device_id":"e1","reading":"12345.678","measured_at":"2026-10-01T00:00:00Z"}]"#
                .utf8)
        let items = try ReadingParser.parse(body)
        #expect(try items[0].get().value == .interval(100))
        #expect(try items[1].get().value == .cumulative(12_345_678))
        #expect(try items[1].get().register == "energy_total")
    }

    @Test(
        "webhook timestamps that are not 1 to 12 digits, or at the 64-bit limits, are refused without overflow",
        arguments: ["-9223372036854775808", "9223372036854775807", "-1000", "+1000", "1e3", "", " 1000", "99999999999999999999"])
    func extremeWebhookTimestampsAreRefused(timestamp: String) {
        let signature = WebhookSignature.sign(body: Data("[]".utf8), timestamp: 1_000, secret: "s")
        #expect(throws: WebhookSignature.Failure.malformedTimestamp) {
            try WebhookSignature.verify(body: Data("[]".utf8), timestamp: timestamp, signature: signature, secrets: ["s"], nowSeconds: 1_000)
        }
        #expect(throws: WebhookSignature.Failure.staleTimestamp) {
            try WebhookSignature.verify(body: Data("[]".utf8), timestamp: "999999999999", signature: signature, secrets: ["s"], nowSeconds: .min)
        }
    }

    @Test("usage between any two readings, with or without a replacement or a modulus, is computed without a trap")
    func deltaIsTotalOverEveryInt64() async {
        let edge = Gen.oneOf(
            Gen.int64(in: Int64.min...Int64.max), Gen.always(Int64.max), Gen.always(Int64.min), Gen.always(0),
            Gen.int64(in: -5...5))
        await propertyCheck(count: 2_000, input: edge, edge, edge, edge, edge) { previous, current, oldFinal, newStart, modulus in
            let replacement = ReadingRules.Replacement(replacedAt: 5, oldFinal: oldFinal, newStart: newStart)
            for candidate in [nil, replacement] {
                let delta = ReadingRules.delta(
                    from: .init(measuredAt: 0, reading: previous), to: .init(measuredAt: 10, reading: current),
                    modulus: modulus, replacement: candidate)
                if case .usage(let usage, _, _) = delta { #expect(usage >= 0) }
            }
        }
    }

    @Test func signaturesVerifyWithEitherActiveSecretWithinTheTolerance() throws {
        let body = Data("[]".utf8)
        let signature = WebhookSignature.sign(body: body, timestamp: 1_000, secret: "new")
        #expect(
            try WebhookSignature.verify(body: body, timestamp: "1000", signature: signature, secrets: ["old", "new"], nowSeconds: 1_300) == 1_000)
        #expect(throws: WebhookSignature.Failure.staleTimestamp) {
            try WebhookSignature.verify(body: body, timestamp: "1000", signature: signature, secrets: ["new"], nowSeconds: 1_301)
        }
        #expect(throws: WebhookSignature.Failure.mismatch) {
            try WebhookSignature.verify(body: Data("[ ]".utf8), timestamp: "1000", signature: signature, secrets: ["new"], nowSeconds: 1_000)
        }
        #expect(throws: WebhookSignature.Failure.malformedSignature) {
            try WebhookSignature.verify(body: body, timestamp: "1000", signature: "sha1=00", secrets: ["new"], nowSeconds: 1_000)
        }
        // The same signature computed independently (Python's hmac module) for a platform's documentation.
        #expect(
            WebhookSignature.sign(body: Data(#"[{"device_id":"m1"}]"#.utf8), timestamp: 1_700_000_000, secret: "Jefe")
                == "sha256=41584ba404a98ddbb4faa31236d75bdfc64362afdce2f5093fa596ebde7ac107")
    }

    @Test func splittingUsageOverBucketsNeverLosesOrInventsAMilliUnit() async {
        await propertyCheck(count: 500, input: Gen.int64(in: 0...10_000_000), Gen.int64(in: 1...7_200_000).array(of: 1...30)) { amount, weights in
            let total = weights.reduce(0, +)
            let shares = UsageSeries.split(amount, weights: weights, total: total)
            #expect(shares.reduce(0, +) == amount)
            #expect(shares.allSatisfy { $0 >= 0 })
        }
    }
}

/// A meter clock for tests.
enum CourtyardMeterProtocolsClock {
    static func make(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int) -> MeterClock {
        MeterClock(year: year, month: month, day: day, hour: hour, minute: minute, second: second)!
    }
}
