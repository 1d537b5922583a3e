import CourtyardDomain
import Foundation
import PropertyBased
import Testing

@Suite("Money")
struct MoneyTests {
    @Test("decimal text parses to exact fen and formats back with two decimals")
    func parsesAndFormats() throws {
        #expect(try Money(parsing: "12.34").minorUnits == 1234)
        #expect(try Money(parsing: "12.3").minorUnits == 1230)
        #expect(try Money(parsing: "7").minorUnits == 700)
        #expect(try Money(parsing: "-0.05").minorUnits == -5)
        #expect(try Money(parsing: "444.19").decimalText == "444.19")
        #expect(Money(minorUnits: -5).decimalText == "-0.05")
        #expect(Money(minorUnits: 0).decimalText == "0.00")
    }

    @Test(
        "text that is not an exact amount is refused, never rounded",
        arguments: [
            "1.234", "1e3", "1,000", " 12", "12 ", "12.", ".5", "", "-", "+", "--1", "1.2.3", "¥12", "0x10", "NaN",
        ])
    func refusesInexactText(_ text: String) {
        #expect(throws: FixedPoint.ParseError.self) { try Money(parsing: text) }
    }

    @Test("amounts beyond 64 bits are refused")
    func refusesOverflow() {
        #expect(throws: FixedPoint.ParseError.outOfRange) { try Money(parsing: "92233720368547758.08") }
        #expect(throws: FixedPoint.ParseError.outOfRange) { try Money(parsing: "99999999999999999999999") }
    }

    @Test("every amount survives a round trip through its text")
    func roundTripsThroughText() async {
        await propertyCheck(count: 500, input: Gen.int64(in: -1_000_000_000_000_000...1_000_000_000_000_000)) { fen in
            let money = Money(minorUnits: fen)
            #expect((try? Money(parsing: money.decimalText)) == money)
        }
    }

    @Test("addition and subtraction report overflow instead of trapping")
    func checkedArithmetic() throws {
        #expect(try Money(minorUnits: 150).adding(Money(minorUnits: -50)) == Money(minorUnits: 100))
        #expect(throws: Money.ArithmeticError.overflow) { try Money(minorUnits: .max).adding(Money(minorUnits: 1)) }
        #expect(throws: Money.ArithmeticError.overflow) { try Money(minorUnits: .min).subtracting(Money(minorUnits: 1)) }
        #expect(throws: Money.ArithmeticError.currencyMismatch) {
            try Money(minorUnits: 1).adding(Money(minorUnits: 1, currency: Currency(code: "HKD")))
        }
    }

    @Test("a split always sums to the total and each part is within one fen of its exact share")
    func splitSumsToTotal() async {
        let weights = Gen.int64(in: 0...1_000_000).array(of: 1...40)
        await propertyCheck(count: 300, input: Gen.int64(in: -100_000_000_000...100_000_000_000), weights) { total, weights in
            guard weights.contains(where: { $0 > 0 }) else { return }
            let parts = Money(minorUnits: total).split(byWeights: weights)
            #expect(parts.count == weights.count)
            #expect(parts.reduce(Int128(0)) { $0 + Int128($1.minorUnits) } == Int128(total))
            let weightSum = weights.reduce(Int128(0)) { $0 + Int128($1) }
            for (part, weight) in zip(parts, weights) {
                // |part × Σw − total × w| < Σw  ⇔  the part is less than one fen from its exact share.
                let error = Int128(part.minorUnits) * weightSum - Int128(total) * Int128(weight)
                #expect(error.magnitude < weightSum.magnitude)
            }
        }
    }

    @Test("leftover fen go to the largest remainders, ties to the earlier part")
    func splitHandsOutRemainders() {
        #expect(Money(minorUnits: 100).split(byWeights: [1, 1, 1]).map(\.minorUnits) == [34, 33, 33])
        #expect(Money(minorUnits: 10).split(byWeights: [1, 2]).map(\.minorUnits) == [3, 7])
        #expect(Money(minorUnits: -100).split(byWeights: [1, 1, 1]).map(\.minorUnits) == [-34, -33, -33])
        #expect(Money(minorUnits: 5).split(byWeights: [0, 3, 0]).map(\.minorUnits) == [0, 5, 0])
    }

    @Test("money is written to the API as a string amount with its currency")
    func apiForm() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(Money(minorUnits: 1234))
        #expect(String(decoding: data, as: UTF8.self) == #"{"amount":"12.34","currency":"CNY"}"#)
        let decoded = try JSONDecoder().decode(Money.self, from: Data(#"{"amount":"0.10"}"#.utf8))
        #expect(decoded == Money(minorUnits: 10))
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Money.self, from: Data(#"{"amount":"0.105"}"#.utf8)) }
    }
}
