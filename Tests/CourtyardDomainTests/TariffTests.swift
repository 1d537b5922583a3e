import CourtyardDomain
import Foundation
import PropertyBased
import Testing

@Suite("Tariff engine")
struct TariffTests {
    static func q(_ text: String) -> Quantity { try! Quantity(parsing: text) }
    static func p(_ text: String) -> UnitPrice { try! UnitPrice(parsing: text) }

    /// Zhejiang residential electricity, annual tiers: ≤2760 kWh 0.538; 2761–4800 0.588; >4800 0.838 yuan/kWh.
    /// Source: shared/reference/DOMAIN.md ("Tariffs (public examples)"), from the provincial tariff table.
    static let zhejiang = PricingRule(
        kind: .metered, unit: "kWh", mode: .graduated, accumulation: .annual,
        tiers: [
            .init(upTo: q("2760"), price: p("0.538")), .init(upTo: q("4800"), price: p("0.588")), .init(upTo: nil, price: p("0.838")),
        ])

    /// Zhejiang time-of-use by tier: peak 0.568/0.618/0.868, valley 0.288/0.338/0.588 (same source). Peak 08:00–22:00.
    static var zhejiangTOU: PricingRule {
        var rule = zhejiang
        rule.windows = [
            .init(name: "peak", start: "08:00", end: "22:00", prices: [p("0.568"), p("0.618"), p("0.868")]),
            .init(name: "valley", start: "22:00", end: "08:00", prices: [p("0.288"), p("0.338"), p("0.588")]),
        ]
        return rule
    }

    /// Beijing residential water, annual per household: 0–180 m³ 5; 181–260 7; >260 9 yuan/m³ (same source).
    static let beijingWater = PricingRule(
        kind: .metered, unit: "m³", mode: .graduated, accumulation: .annual,
        tiers: [
            .init(upTo: q("180"), price: p("5")), .init(upTo: q("260"), price: p("7")), .init(upTo: nil, price: p("9")),
        ])

    @Test("graduated tiers price each slice at its own rate (Zhejiang, 3000 kWh from zero)")
    func zhejiangGraduated() throws {
        let quote = try Tariff.quote(Self.zhejiang, QuoteInput(usage: Self.q("3000")))
        #expect(quote.lines.map(\.quantity) == [Self.q("2760"), Self.q("240")])
        #expect(quote.amount == Money(minorUnits: 148_488 + 14_112))  // 2760 × 0.538 + 240 × 0.588 = 1626.00
    }

    @Test("annual position moves the month into the right tiers (Zhejiang, 500 kWh after 2600 this year)")
    func annualPosition() throws {
        let quote = try Tariff.quote(Self.zhejiang, QuoteInput(usage: Self.q("500"), position: Self.q("2600")))
        #expect(quote.lines.map(\.quantity) == [Self.q("160"), Self.q("340")])
        #expect(quote.amount == Money(minorUnits: 8_608 + 19_992))  // 160 × 0.538 + 340 × 0.588
    }

    @Test("Beijing water: 200 m³ is 180 × 5 + 20 × 7 = 1040.00; larger households get larger quotas")
    func beijingWater() throws {
        #expect(try Tariff.quote(Self.beijingWater, QuoteInput(usage: Self.q("200"))).amount == Money(minorUnits: 104_000))
        // A 1.5× quota: 270 × 5 = 1350.00.
        let scaled = try Tariff.quote(Self.beijingWater, QuoteInput(usage: Self.q("200"), quotaScaleThousandths: 1500))
        #expect(scaled.amount == Money(minorUnits: 100_000))
    }

    @Test("volume tiers price the whole usage at the tier reached")
    func volume() throws {
        var rule = Self.beijingWater
        rule.mode = .volume
        #expect(try Tariff.quote(rule, QuoteInput(usage: Self.q("180"))).amount == Money(minorUnits: 90_000))
        #expect(try Tariff.quote(rule, QuoteInput(usage: Self.q("180.001"))).amount == Money(minorUnits: 126_001))  // 180.001 × 7
    }

    @Test("time-of-use splits each tier slice between windows and prices them by window and tier")
    func timeOfUse() throws {
        let quote = try Tariff.quote(
            Self.zhejiangTOU,
            QuoteInput(
                usage: Self.q("3000"),
                windowUsage: ["peak": Self.q("2000"), "valley": Self.q("1000")]))
        let quantities = Dictionary(grouping: quote.lines, by: { $0.window! }).mapValues { $0.reduce(0) { $0 + $1.quantity!.milliUnits } }
        #expect(quantities == ["peak": 2_000_000, "valley": 1_000_000])
        let tiers = Dictionary(grouping: quote.lines, by: { $0.tier! }).mapValues { $0.reduce(0) { $0 + $1.quantity!.milliUnits } }
        #expect(tiers == [1: 2_760_000, 2: 240_000])
        // Tier 1: 1840 peak × 0.568 + 920 valley × 0.288; tier 2: 160 peak × 0.618 + 80 valley × 0.338.
        #expect(quote.amount == Money(minorUnits: 104_512 + 26_496 + 9_888 + 2_704))
    }

    @Test("every slice says what it is in the same words as the bills printed before slices stopped storing them")
    func sentences() throws {
        let graduated = try Tariff.quote(Self.zhejiang, QuoteInput(usage: Self.q("3000")))
        #expect(graduated.lines.map(\.description) == ["tier 1 (graduated): 2760.000 kWh × 0.5380", "tier 2 (graduated): 240.000 kWh × 0.5880"])
        var volume = Self.beijingWater
        volume.mode = .volume
        #expect(try Tariff.quote(volume, QuoteInput(usage: Self.q("200"))).lines.map(\.description) == ["tier 2 (volume): 200.000 m³ × 7.0000"])
        let timeOfUse = try Tariff.quote(
            Self.zhejiangTOU,
            QuoteInput(
                usage: Self.q("3000"),
                windowUsage: ["peak": Self.q("2000"), "valley": Self.q("1000")]))
        #expect(
            timeOfUse.lines.map(\.description) == [
                "tier 1 peak: 1840.000 kWh × 0.5680", "tier 1 valley: 920.000 kWh × 0.2880",
                "tier 2 peak: 160.000 kWh × 0.6180", "tier 2 valley: 80.000 kWh × 0.3380",
            ])
        let area = PricingRule(kind: .perArea, pricePerSquareMetre: Self.p("2.5"))
        #expect(
            try Tariff.quote(area, QuoteInput(area: Area(hundredths: 8_720), months: 3)).lines.map(\.description)
                == ["87.20 m² × 2.5000/m²/month × 3 month(s)"])
        let fixed = PricingRule(kind: .fixed, amount: Money(minorUnits: 5_000))
        #expect(try Tariff.quote(fixed, QuoteInput(months: 3)).lines.map(\.description) == ["fixed 50.00 × 3 month(s)"])
    }

    @Test("an area, a month count or a fixed amount too large for the arithmetic is refused as overflow, never a trap (found by fuzzing)")
    func hugeInputsOverflowCleanly() {
        let area = PricingRule(kind: .perArea, pricePerSquareMetre: Self.p("1.35"))
        #expect(throws: TariffError.overflow) {
            try Tariff.quote(area, QuoteInput(area: Area(hundredths: .max), months: .max))
        }
        let fixed = PricingRule(kind: .fixed, amount: Money(minorUnits: .max))
        #expect(throws: TariffError.overflow) { try Tariff.quote(fixed, QuoteInput(months: .max)) }
        // Each line fits, their sum does not fit in Money: still a clean refusal.
        #expect(throws: TariffError.overflow) { try Tariff.quote(fixed, QuoteInput(months: 1_000_000)) }
    }

    @Test(
        "bad rules are refused with the offending field",
        arguments: [
            (
                "tiers not ascending",
                PricingRule(
                    kind: .metered, mode: .graduated, accumulation: .monthly,
                    tiers: [
                        .init(upTo: q("100"), price: p("1")), .init(upTo: q("50"), price: p("2")),
                        .init(upTo: nil, price: p("3")),
                    ]), "tiers.1.up_to"
            ),
            (
                "negative price",
                PricingRule(
                    kind: .metered, mode: .graduated, accumulation: .monthly,
                    tiers: [.init(upTo: nil, price: p("-1"))]), "tiers.0.price"
            ),
            (
                "bounded last tier",
                PricingRule(
                    kind: .metered, mode: .graduated, accumulation: .monthly,
                    tiers: [.init(upTo: q("10"), price: p("1"))]), "tiers.0.up_to"
            ),
            (
                "windows with a gap",
                PricingRule(
                    kind: .metered, mode: .graduated, accumulation: .monthly,
                    tiers: [.init(upTo: nil, price: p("1"))],
                    windows: [.init(name: "day", start: "08:00", end: "20:00", prices: [p("1")])]), "windows"
            ),
            ("fixed without amount", PricingRule(kind: .fixed), "amount"),
        ])
    func badRules(_ example: (String, PricingRule, String)) {
        let issues = example.1.validate()
        #expect(issues.map(\.path).contains(example.2), "\(example.0): \(issues)")
        #expect(throws: TariffError.self) { try Tariff.quote(example.1, QuoteInput(usage: Self.q("1"))) }
    }

    @Test("extreme inputs are refused or priced, never trapped: durations past a year, usage and prices at the 64-bit limits")
    func extremeInputsNeverTrap() throws {
        let parking = PricingRule(
            kind: .perDuration,
            duration: .init(
                freeMinutes: 0, firstMinutes: 1, firstPrice: Money(minorUnits: .max),
                everyMinutes: 1, everyPrice: Money(minorUnits: .max), dailyCap: nil))
        #expect(throws: TariffError.self) { try Tariff.quote(parking, QuoteInput(durationSeconds: .max)) }
        #expect(throws: TariffError.self) { try Tariff.quote(parking, QuoteInput(durationSeconds: Tariff.maximumDurationSeconds + 1)) }
        // A year at Int64.max fen a minute does not fit in money: an error, not an overflow.
        #expect(throws: TariffError.self) { try Tariff.quote(parking, QuoteInput(durationSeconds: Tariff.maximumDurationSeconds)) }
        let huge = PricingRule(
            kind: .metered, unit: "kWh", mode: .graduated, accumulation: .monthly,
            tiers: [.init(upTo: nil, price: UnitPrice(tenThousandths: .max))])
        #expect(throws: TariffError.self) { try Tariff.quote(huge, QuoteInput(usage: Quantity(milliUnits: .max))) }
        #expect(throws: TariffError.self) {
            try Tariff.quote(huge, QuoteInput(usage: Quantity(milliUnits: .max), position: Quantity(milliUnits: .max)))
        }
        #expect(ExactAmount(decimalText: "99999999999999999999999999999999999999") == nil)
        #expect(ExactAmount(decimalText: "-99999999999999999999999999999999999999") == nil)
    }

    @Test("per-m², fixed and per-duration rules, and the minimum charge")
    func otherKinds() throws {
        let area = PricingRule(kind: .perArea, pricePerSquareMetre: Self.p("2.35"), areaBasis: .built)
        #expect(try Tariff.quote(area, QuoteInput(area: Area(hundredths: 8720), months: 3)).amount == Money(minorUnits: 61_476))  // 87.20 × 2.35 × 3
        let fixed = PricingRule(kind: .fixed, amount: Money(minorUnits: 1_500))
        #expect(try Tariff.quote(fixed, QuoteInput(months: 2)).amount == Money(minorUnits: 3_000))
        // 15 free minutes, first hour 5.00, then 2.00 per 30 min, capped at 30.00 a day.
        let parking = PricingRule(
            kind: .perDuration,
            duration: .init(
                freeMinutes: 15, firstMinutes: 60, firstPrice: Money(minorUnits: 500),
                everyMinutes: 30, everyPrice: Money(minorUnits: 200),
                dailyCap: Money(minorUnits: 3_000)))
        #expect(try Tariff.quote(parking, QuoteInput(durationSeconds: 14 * 60)).amount == .zero())
        #expect(try Tariff.quote(parking, QuoteInput(durationSeconds: 100 * 60)).amount == Money(minorUnits: 900))  // 5 + 2 × 2
        #expect(try Tariff.quote(parking, QuoteInput(durationSeconds: 30 * 3600)).amount == Money(minorUnits: 3_000 + 2_500))  // cap + (5 + 10 × 2) for 6 h
        var minimum = Self.zhejiang
        minimum.minimumCharge = Money(minorUnits: 1_000)
        let quote = try Tariff.quote(minimum, QuoteInput(usage: Self.q("1")))
        #expect(quote.amount == Money(minorUnits: 1_000))
        #expect(quote.minimumApplied)
    }

    @Test("graduated: slices sum to the usage and the total is the sum of slices; volume is monotone in usage")
    func tierProperties() async {
        await propertyCheck(count: 300, input: Gen.int64(in: 0...20_000_000), Gen.int64(in: 0...10_000_000)) { usage, position in
            let input = QuoteInput(usage: Quantity(milliUnits: usage), position: Quantity(milliUnits: position))
            guard let quote = try? Tariff.quote(Self.zhejiang, input) else { Issue.record("quote failed"); return }
            #expect(quote.lines.reduce(Int64(0)) { $0 + $1.quantity!.milliUnits } == usage)
            #expect(quote.lines.reduce(ExactAmount(tenMillionths: 0)) { $0 + $1.exact } == quote.exact)
            var volume = Self.zhejiang
            volume.mode = .volume
            let smaller = try? Tariff.quote(volume, QuoteInput(usage: Quantity(milliUnits: usage)))
            let larger = try? Tariff.quote(volume, QuoteInput(usage: Quantity(milliUnits: usage + 1)))
            #expect(smaller!.exact <= larger!.exact)
        }
    }

    @Test("annual tiers over twelve monthly quotes equal the annual computation on the year's total, exactly")
    func annualEqualsMonthly() async {
        await propertyCheck(count: 100, input: Gen.int64(in: 0...900_000).array(of: 12...12)) { months in
            var position: Int64 = 0
            var sum = ExactAmount(tenMillionths: 0)
            for month in months {
                sum =
                    sum
                    + (try! Tariff.quote(
                        Self.zhejiang,
                        QuoteInput(
                            usage: Quantity(milliUnits: month),
                            position: Quantity(milliUnits: position)))).exact
                position += month
            }
            let year = try! Tariff.quote(Self.zhejiang, QuoteInput(usage: Quantity(milliUnits: position)))
            // Exact amounts agree to the 1e-7 yuan; rounding each monthly bill line can differ by at most half a fen per month.
            #expect(sum == year.exact)
        }
    }

    @Test("a rule round-trips through its JSON form")
    func json() throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let data = try encoder.encode(Self.zhejiangTOU)
        #expect(try decoder.decode(PricingRule.self, from: data) == Self.zhejiangTOU)
        let text = #"{"kind":"metered","mode":"graduated","accumulation":"annual","tiers":[{"up_to":"2760","price":"0.538"},{"price":0.588}]}"#
        let rule = try decoder.decode(PricingRule.self, from: Data(text.utf8))
        #expect(rule.tiers?[1].price == Self.p("0.588"))
        #expect(rule.rounding == .halfUp)
    }
}
