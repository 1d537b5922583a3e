import CourtyardDomain
import CourtyardPrepaid
import Foundation
import PropertyBased
import Testing

/// Rating one reading at its instant: tier position, time-of-use window, and the carried remainder that makes many
/// small deductions add up to what their sum costs.
@Suite("Prepaid rating")
struct RatingTests {
    static let tiered = PricingRule(
        kind: .metered, unit: "kWh", mode: .graduated, accumulation: .monthly,
        tiers: [
            .init(upTo: Quantity(milliUnits: 230_000), price: UnitPrice(tenThousandths: 5_380)),
            .init(upTo: nil, price: UnitPrice(tenThousandths: 5_880)),
        ])

    @Test("a reading that crosses a tier bound is priced at both tiers from its position")
    func crossesTier() throws {
        // 220 kWh used this month; 20 more: 10 at 0.538 and 10 at 0.588 = 11.26.
        let quote = try Rating.exact(Self.tiered, usage: 20_000, position: 220_000, window: nil)
        #expect(quote.exact.tenMillionths == 11_260_000_0)
        #expect(quote.lines.map(\.tier) == [1, 2])
    }

    @Test("the window is the one the local minute falls in, including one that wraps midnight")
    func window() {
        let rule = PricingRule(
            kind: .metered, mode: .graduated, tiers: [.init(upTo: nil, price: UnitPrice(tenThousandths: 10_000))],
            windows: [
                .init(name: "peak", start: "08:00", end: "22:00", prices: [UnitPrice(tenThousandths: 10_000)]),
                .init(name: "valley", start: "22:00", end: "08:00", prices: [UnitPrice(tenThousandths: 3_000)]),
            ])
        #expect(Rating.window(rule, minute: 8 * 60) == "peak")
        #expect(Rating.window(rule, minute: 22 * 60 - 1) == "peak")
        #expect(Rating.window(rule, minute: 22 * 60) == "valley")
        #expect(Rating.window(rule, minute: 3 * 60) == "valley")
        #expect(Rating.window(Self.tiered, minute: 0) == nil)
    }

    @Test("periods: monthly by local month, annual by local year")
    func periods() {
        let day = Int64(20_392)  // 2025-10-31
        #expect(LocalClock.date(day: day).description == "2025-10-31")
        #expect(Rating.periodKey(Self.tiered, day: day) == "2025-10")
        var annual = Self.tiered
        annual.accumulation = .annual
        #expect(Rating.periodKey(annual, day: day) == "2025")
    }

    @Test("carried remainders: any run of small readings is deducted within one fen of its exact total")
    func carry() async {
        await propertyCheck(count: 300, input: Gen.int64(in: 0...2_000_000).array(of: 1...60)) { exacts in
            var carry: Int64 = 0
            var fen: Int64 = 0
            for exact in exacts {
                let step = Rating.deduct(exact: Int128(exact), carry: carry, mode: .halfUp)
                fen += step.fen
                carry = step.carry
                #expect(abs(carry) <= 50_000)
            }
            let total = exacts.reduce(0, +)
            #expect(fen * 100_000 + carry == total)
            #expect(abs(fen * 100_000 - total) <= 50_000)
        }
    }

    @Test("local dates match Foundation's calendar, and instants round-trip, in Shanghai and New York")
    func localClock() async {
        await propertyCheck(count: 400, input: Gen.int64(in: 0...4_102_444_800_000)) { millis in
            for zoneName in ["Asia/Shanghai", "America/New_York"] {
                let zone = TimeZone(identifier: zoneName)!
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = zone
                let parts = calendar.dateComponents(
                    [.year, .month, .day, .hour, .minute, .weekday],
                    from: Date(timeIntervalSince1970: TimeInterval(millis) / 1000))
                let clock = LocalClock(zone: zone)
                let (day, minute) = clock.local(millis)
                let date = LocalClock.date(day: day)
                #expect(date.year == parts.year! && date.month == parts.month! && date.day == parts.day!)
                #expect(minute == parts.hour! * 60 + parts.minute!)
                // Foundation: 1 = Sunday; ours: 1 = Monday … 7 = Sunday.
                #expect(LocalClock.weekday(day: day) == (parts.weekday! + 5) % 7 + 1)
            }
        }
    }
}
