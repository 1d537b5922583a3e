import CourtyardDomain
import PropertyBased
import Testing

/// The split between a prepaid plan and the postpaid bill, over random plan periods and random daily usage.
@Suite("Prepaid coverage")
struct PrepaidCoverageTests {
    static let october = BillingPeriod("2026-10")!

    @Test("each kWh is charged once: the plan's readings on its days, the bill the rest, for any plan period")
    func eachUsageIsChargedOnce() async {
        await propertyCheck(
            count: 500, input: Gen.int64(in: 0...50_000).array(of: 31...31), Gen.int(in: -40...40),
            Gen.int(in: -40...70)
        ) { daily, startOffset, length in
            let period = Self.october
            let from = period.start.adding(days: startOffset)
            let until: LocalDate? = length >= 60 ? nil : from.adding(days: max(1, length))
            let span = PrepaidCoverage.Span(planId: "p", from: from, until: until)
            // The plan charges the readings measured on its days; the meter recorded every day's usage.
            var charged: Int64 = 0
            var uncovered: Int64 = 0
            var coveredDays = 0
            for (index, usage) in daily.enumerated() {
                let day = period.start.adding(days: index)
                if day >= from, until.map({ day < $0 }) ?? true {
                    charged += usage
                    coveredDays += 1
                } else {
                    uncovered += usage
                }
            }
            let coverage = PrepaidCoverage(spans: [span], charged: charged > 0 ? ["": Quantity(milliUnits: charged)] : [:])
            let recorded = MeteredUsage(quantity: Quantity(milliUnits: charged + uncovered))
            #expect(coverage.coveredDays(in: period) == coveredDays)
            switch coverage.postpaid(recorded, in: period, unit: "kWh") {
            case .all(let usage):
                #expect(coveredDays == 0)
                #expect(usage == recorded)
            case .remainder(let usage, let note):
                #expect(coveredDays > 0 && coveredDays <= period.days)
                #expect(usage.quantity.milliUnits == uncovered, "the bill takes exactly the usage of the days the plan did not run")
                #expect(note.contains("prepaid on \(coveredDays) of 31 days"))
            case .none:
                #expect(coveredDays == period.days && from < period.start, "only a plan that ran all period leaves nothing to bill")
                #expect(uncovered == 0)
            }
        }
    }

    @Test("overlapping plans count each day once")
    func overlappingPlansCountDaysOnce() {
        let coverage = PrepaidCoverage(spans: [
            .init(planId: "a", from: LocalDate("2026-10-05")!, until: LocalDate("2026-10-15")!),
            .init(planId: "b", from: LocalDate("2026-10-10")!, until: LocalDate("2026-10-20")!),
            .init(planId: "c", from: LocalDate("2026-09-01")!, until: LocalDate("2026-10-02")!),
        ])
        #expect(coverage.coveredDays(in: Self.october) == 1 + 15)
        #expect(!coverage.coversWholePeriod(Self.october))
    }

    @Test("time-of-use usage is reduced window by window; usage charged outside any window comes off the largest")
    func windowsAreReducedOneByOne() throws {
        let coverage = PrepaidCoverage(
            spans: [.init(planId: "a", from: LocalDate("2026-10-20")!, until: nil)],
            charged: [
                "peak": Quantity(milliUnits: 30_000), "valley": Quantity(milliUnits: 50_000),
                "": Quantity(milliUnits: 10_000),
            ])
        let recorded = MeteredUsage(
            quantity: Quantity(milliUnits: 160_000),
            windows: [
                "peak": Quantity(milliUnits: 100_000), "valley": Quantity(milliUnits: 40_000),
                "flat": Quantity(milliUnits: 20_000),
            ])
        guard case .remainder(let usage, _) = coverage.postpaid(recorded, in: Self.october, unit: "kWh") else {
            Issue.record("expected a remainder"); return
        }
        // peak 100 − 30 − 10 (unassigned, largest first) = 60; valley 40 − 40 = 0 (10 over goes to the largest too: 60 − 10 = 50).
        #expect(usage.windows?["valley"] == Quantity(milliUnits: 0))
        #expect(usage.windows?["peak"] == Quantity(milliUnits: 50_000))
        #expect(usage.windows?["flat"] == Quantity(milliUnits: 20_000))
        #expect(usage.quantity == Quantity(milliUnits: 70_000))
    }
}
