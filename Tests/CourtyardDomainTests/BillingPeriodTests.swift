import CourtyardDomain
import Testing

/// A period comes from outside (a bill-run request, a CLI flag, a usage file), so every period that parses must have
/// a start, an end, a previous month and later months that exist: a period whose end fell in year 10000 stopped the
/// server on a force-unwrap.
@Suite("Billing periods")
struct BillingPeriodTests {
    @Test(
        "periods parse only within years whose end, previous month and year-end months all exist",
        arguments: [
            "9999-12", "9999-Q4", "9999", "1970-01", "0000-01", "10000-01", "-001-01", "2026-13", "2026-00", "2026-Q5", "2026-Q0",
            "２０２６-01", "2026-1", "2026-001", "",
        ])
    func periodsOutOfRangeAreRefused(text: String) {
        #expect(BillingPeriod(text) == nil)
    }

    @Test("the first and last parseable periods have a start, an end, a previous month and later months")
    func periodsAtTheEdgesAreTotal() throws {
        for text in ["1971-01", "9998-12", "9998-Q4", "9998", "1971"] {
            let period = try #require(BillingPeriod(text))
            #expect(period.end > period.start)
            #expect(period.previousMonth < period)
            #expect(!period.monthsToYearEnd.isEmpty)
            #expect(period.days >= 28)
        }
        #expect(BillingPeriod("9998-12")?.end.description == "9999-01-01")
        #expect(BillingPeriod("1971-01")?.previousMonth.description == "1970-12")
        #expect(BillingPeriod("2026-10")?.monthsToYearEnd.map(\.description) == ["2026-10", "2026-11", "2026-12"])
    }

    @Test("a quarter or a year is billed in the run of its first month only")
    func longerCyclesAreBilledInTheirFirstMonth() throws {
        let october = try #require(BillingPeriod("2026-10"))
        #expect(october.billed(.quarterly)?.description == "2026-Q4")
        #expect(october.billed(.yearly) == nil)
        #expect(BillingPeriod("2026-01")?.billed(.yearly)?.description == "2026")
        #expect(BillingPeriod("2026-11")?.billed(.quarterly) == nil)
    }
}
