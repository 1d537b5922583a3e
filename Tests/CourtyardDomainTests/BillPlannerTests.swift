import CourtyardDomain
import Foundation
import PropertyBased
import Testing

@Suite("Bill planner")
struct BillPlannerTests {
    static let october = BillingPeriod("2026-10")!
    static let perArea = PricingRule(kind: .perArea, pricePerSquareMetre: UnitPrice(tenThousandths: 25_000), areaBasis: .built)

    static func terms(_ rule: PricingRule, period: BillingPeriod = october) -> ChargeTerms {
        ChargeTerms(
            feeItemId: "item", code: "property_fee", name: "property fee", category: .propertyFee, period: period,
            standardId: "standard", version: 3, rule: rule, usageKind: nil, largeHousehold: nil)
    }

    @Test("periods: months, quarters and years, their days, and which run bills them")
    func periods() {
        #expect(BillingPeriod("2026-02")!.days == 28)
        #expect(BillingPeriod("2028-02")!.days == 29)
        #expect(BillingPeriod("2026-Q4")!.days == 92)
        #expect(BillingPeriod("2026")!.end == LocalDate("2027-01-01"))
        #expect(BillingPeriod("2026-10")!.billed(.quarterly) == BillingPeriod("2026-Q4"))
        #expect(BillingPeriod("2026-11")!.billed(.quarterly) == nil)
        #expect(BillingPeriod("2026-01")!.billed(.yearly) == BillingPeriod("2026"))
        for bad in ["2026-13", "2026-1", "26-10", "2026-Q5", "October", ""] { #expect(BillingPeriod(bad) == nil, "\(bad)") }
    }

    @Test("a house owned all month pays the full amount; pro-rating is monotone in owned days and rounds once")
    func proRating() async {
        await propertyCheck(count: 200, input: Gen.int64(in: 1_000...50_000), Gen.int(in: 1...31)) { hundredths, from in
            let area = Area(hundredths: hundredths)
            let full = try! BillPlanner.line(
                Self.terms(Self.perArea), house: HouseFacts(id: "h", builtArea: area, indoorArea: area),
                usage: nil
            ).get()
            #expect(full.amount == (try! Tariff.quote(Self.perArea, QuoteInput(area: area))).amount)
            #expect(full.billableDays == 31)
            let movedIn = LocalDate(year: 2026, month: 10, day: from)!
            let partial = try! BillPlanner.line(
                Self.terms(Self.perArea),
                house: HouseFacts(
                    id: "h", builtArea: area, indoorArea: area,
                    ownership: [EffectivePeriod(from: movedIn, until: nil)]),
                usage: nil
            ).get()
            #expect(partial.billableDays == 32 - from)
            #expect(partial.amount <= full.amount)
            // exact × days ÷ 31, rounded half-up once (exact is in 1e-7 yuan, amounts in fen).
            let expected = RoundingMode.halfUp.divide(full.exact.tenMillionths * Int128(32 - from), by: 31 * 100_000)
            #expect(Int128(partial.amount.minorUnits) == expected)
            #expect(partial.version == 3)
        }
    }

    @Test("overlapping ownership records count each day once; a house sold before the month is not billed")
    func ownershipUnion() throws {
        let area = Area(hundredths: 10_000)
        let overlapping = HouseFacts(
            id: "h", builtArea: area, indoorArea: area,
            ownership: [
                EffectivePeriod(from: LocalDate("2026-10-05")!, until: LocalDate("2026-10-20")!),
                EffectivePeriod(from: LocalDate("2026-10-10")!, until: LocalDate("2026-10-25")!),
            ])
        #expect(overlapping.billableDays(in: Self.october) == 20)
        let sold = HouseFacts(
            id: "h", builtArea: area, indoorArea: area,
            ownership: [EffectivePeriod(from: LocalDate("2020-01-01")!, until: LocalDate("2026-09-15")!)])
        #expect(try BillPlanner.line(Self.terms(Self.perArea), house: sold, usage: nil) == .failure(.notOwned))
    }

    @Test("metered items without usage are skipped, never charged zero; an invalid rule is refused")
    func meteredNeedsUsage() throws {
        let rule = PricingRule(
            kind: .metered, unit: "kWh", mode: .graduated, accumulation: .monthly,
            tiers: [.init(upTo: nil, price: UnitPrice(tenThousandths: 5_000))])
        var terms = Self.terms(rule)
        terms.usageKind = .electricity
        let house = HouseFacts(id: "h", builtArea: Area(hundredths: 1), indoorArea: Area(hundredths: 1))
        #expect(try BillPlanner.line(terms, house: house, usage: nil) == .failure(.missingUsage))
        let broken = PricingRule(kind: .metered, unit: "kWh", mode: .graduated, accumulation: .monthly, tiers: [])
        #expect(throws: TariffError.self) { try BillPlanner.line(Self.terms(broken), house: house, usage: MeteredUsage(quantity: .zero)) }
    }

    @Test("a time-of-use line states how each tier was divided among the windows")
    func timeOfUseLinesStateTheSplit() throws {
        var terms = Self.terms(TariffTests.zhejiangTOU)
        terms.usageKind = .electricity
        terms.name = "electricity"
        let house = HouseFacts(id: "h", builtArea: Area(hundredths: 1), indoorArea: Area(hundredths: 1))
        // 3,000 kWh from zero, 2,000 at peak and 1,000 in the valley: tier 1 (2,760) and tier 2 (240) are each shared
        // 2:1 by what is left of the windows' usage.
        let usage = MeteredUsage(
            quantity: Quantity(milliUnits: 3_000_000),
            windows: ["peak": Quantity(milliUnits: 2_000_000), "valley": Quantity(milliUnits: 1_000_000)])
        guard case .success(let line) = try BillPlanner.line(terms, house: house, usage: usage) else { Issue.record("no line"); return }
        #expect(line.basis.contains("tier 1: peak 1840.000 + valley 920.000; tier 2: peak 160.000 + valley 80.000"), "\(line.basis)")
    }
}
