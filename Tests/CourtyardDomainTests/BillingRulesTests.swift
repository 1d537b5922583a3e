import CourtyardDomain
import PropertyBased
import Testing

@Suite("Apportionment (公摊)")
struct ApportionmentTests {
    @Test("lift electricity is split by built area with the basis stated on every share")
    func byBuiltArea() throws {
        let houses = [Apportionment.Participant(id: "h1", weight: 8720), .init(id: "h2", weight: 12_000), .init(id: "h3", weight: 9_050)]
        let shares = try Apportionment.split(
            try Quantity(parsing: "1234.56"), unit: "kWh", over: houses, basis: .builtArea,
            label: "lift electricity")
        #expect(shares.reduce(0) { $0 + $1.value.milliUnits } == 1_234_560)
        #expect(shares[0].explanation == "lift electricity 1234.560 kWh × 87.20/297.70 m² built")
        let cost = try Apportionment.split(Money(minorUnits: 100), over: houses, basis: .household, label: "corridor lights")
        #expect(cost.map(\.value.minorUnits).reduce(0, +) == 100)
    }

    @Test(
        "refuses splits that cannot be explained",
        arguments: [
            ([Apportionment.Participant](), Apportionment.Failure.noParticipants),
            ([Apportionment.Participant(id: "a", weight: 0)], .zeroTotalWeight),
            ([Apportionment.Participant(id: "a", weight: -1)], .negativeWeight(id: "a")),
            ([Apportionment.Participant(id: "a", weight: 1), .init(id: "a", weight: 2)], .duplicateParticipant(id: "a")),
        ])
    func refusals(_ example: ([Apportionment.Participant], Apportionment.Failure)) {
        #expect(throws: example.1) { try Apportionment.split(Money(minorUnits: 1), over: example.0, basis: .household, label: "x") }
    }

    @Test("shares always sum exactly to the total")
    func sumsExactly() async {
        await propertyCheck(count: 300, input: Gen.int64(in: 0...10_000_000_000), Gen.int64(in: 1...2_000_000).array(of: 1...300)) { total, weights in
            let participants = weights.enumerated().map { Apportionment.Participant(id: "h\($0.offset)", weight: $0.element) }
            let shares = try? Apportionment.split(Money(minorUnits: total), over: participants, basis: .builtArea, label: "lift")
            #expect(shares?.reduce(Int64(0)) { $0 + $1.value.minorUnits } == total)
        }
    }
}

@Suite("Late fees")
struct LateFeeTests {
    let policy = LateFeePolicy(graceDays: 15, dailyRatePerMillion: 500)  // 0.05 % a day after 15 grace days
    func day(_ text: String) -> LocalDate { LocalDate(text)! }

    @Test("nothing within the grace days, then principal × rate × days, rounded once")
    func accrues() {
        let principal = Money(minorUnits: 123_456)  // 1234.56
        #expect(policy.assess(principal: principal, dueDate: day("2026-10-01"), asOf: day("2026-10-16")).fee == .zero())
        let assessment = policy.assess(principal: principal, dueDate: day("2026-10-01"), asOf: day("2026-11-15"))
        #expect(assessment.daysOverdue == 30)
        #expect(assessment.fee == Money(minorUnits: 1_852))  // 1234.56 × 0.0005 × 30 = 18.5184 → 18.52
        #expect(assessment.explanation.contains("30 day(s)"))
    }

    @Test("the fee never exceeds the principal, and a policy adopted later does not reach back")
    func capAndStart() {
        let fee = policy.assess(principal: Money(minorUnits: 10_000), dueDate: day("2020-01-01"), asOf: day("2026-01-01"))
        #expect(fee.fee == Money(minorUnits: 10_000))
        #expect(fee.capped)
        var later = policy
        later.startsOn = day("2026-11-01")
        #expect(later.assess(principal: Money(minorUnits: 10_000), dueDate: day("2026-01-01"), asOf: day("2026-11-10")).daysOverdue == 10)
    }

    @Test("day counts agree with the calendar across years and leap days")
    func dayArithmetic() async {
        #expect(day("1970-01-01").daysSinceEpoch == 0)
        #expect(day("2024-03-01").daysSinceEpoch - day("2024-02-28").daysSinceEpoch == 2)
        #expect(day("2026-11-22").adding(days: 40).description == "2027-01-01")
        await propertyCheck(count: 300, input: Gen.int(in: -200_000...200_000)) { days in
            #expect(LocalDate(daysSinceEpoch: days).daysSinceEpoch == days)
        }
    }
}
