import CourtyardDomain
import Foundation
import PropertyBased
import Testing

@Suite("Quantities, prices and rounding")
struct QuantityTests {
    @Test("quantities keep three decimals, prices four, areas two")
    func scales() throws {
        #expect(try Quantity(parsing: "9759.073").milliUnits == 9_759_073)
        #expect(try UnitPrice(parsing: "0.5283").tenThousandths == 5283)
        #expect(try Area(parsing: "87.2").hundredths == 8720)
        #expect(Quantity(milliUnits: 5).decimalText == "0.005")
        #expect(UnitPrice(tenThousandths: 5283).decimalText == "0.5283")
        #expect(Area(hundredths: 8720).decimalText == "87.20")
        #expect(throws: FixedPoint.ParseError.tooManyFractionDigits(allowed: 4)) { try UnitPrice(parsing: "0.52831") }
    }

    @Test("price × quantity is exact, and rounds once to fen with the line's mode")
    func costIsExact() throws {
        // 444.195 is the amount an incumbent turned into 44.19 through Double; here it is exact.
        let cost = try UnitPrice(parsing: "4.4419").cost(of: Quantity(parsing: "100.000"))
        #expect(cost.decimalText == "444.1900000")
        let halfFen = ExactAmount(tenMillionths: 4_441_950_000)
        #expect(halfFen.rounded(.halfUp)?.minorUnits == 44_420)
        #expect(halfFen.rounded(.halfEven)?.minorUnits == 44_420)
        #expect(halfFen.rounded(.floor)?.minorUnits == 44_419)
        #expect(halfFen.rounded(.ceiling)?.minorUnits == 44_420)
        let zhejiangTier1 = try UnitPrice(parsing: "0.538").cost(of: Quantity(parsing: "2760"))
        #expect(zhejiangTier1.rounded(.halfUp)?.minorUnits == 148_488)
    }

    @Test(
        "rounding modes on halves and negatives",
        arguments: [
            // (numerator, denominator, halfUp, halfEven, floor, ceiling)
            (25, 10, 3, 2, 2, 3), (35, 10, 4, 4, 3, 4), (-25, 10, -3, -2, -3, -2), (24, 10, 2, 2, 2, 3),
            (26, 10, 3, 3, 2, 3), (-26, 10, -3, -3, -3, -2), (20, 10, 2, 2, 2, 2), (1, 3, 0, 0, 0, 1),
        ])
    func roundingTable(_ row: (Int, Int, Int, Int, Int, Int)) {
        let (n, d) = (Int128(row.0), Int128(row.1))
        #expect(RoundingMode.halfUp.divide(n, by: d) == Int128(row.2))
        #expect(RoundingMode.halfEven.divide(n, by: d) == Int128(row.3))
        #expect(RoundingMode.floor.divide(n, by: d) == Int128(row.4))
        #expect(RoundingMode.ceiling.divide(n, by: d) == Int128(row.5))
    }

    @Test("realistic prices and quantities never overflow and stay within half a fen of the exact cost")
    func noOverflowForRealisticRanges() async {
        // Prices up to 10,000 yuan per unit, quantities up to one billion units (a district's yearly heat).
        await propertyCheck(count: 500, input: Gen.int64(in: 0...100_000_000), Gen.int64(in: 0...1_000_000_000_000)) { price, quantity in
            let exact = UnitPrice(tenThousandths: price).cost(of: Quantity(milliUnits: quantity))
            guard let fen = exact.rounded(.halfUp) else {
                Issue.record("overflow for \(price) × \(quantity)")
                return
            }
            let difference = Int128(fen.minorUnits) * 100_000 - exact.tenMillionths
            #expect(difference.magnitude <= 50_000)
        }
    }

    @Test("quantities, prices and areas survive a round trip through their text")
    func roundTrips() async {
        await propertyCheck(count: 300, input: Gen.int64(in: -1_000_000_000_000_000...1_000_000_000_000_000)) { value in
            #expect((try? Quantity(parsing: Quantity(milliUnits: value).decimalText)) == Quantity(milliUnits: value))
            #expect((try? UnitPrice(parsing: UnitPrice(tenThousandths: value).decimalText)) == UnitPrice(tenThousandths: value))
            #expect((try? Area(parsing: Area(hundredths: value).decimalText)) == Area(hundredths: value))
        }
    }

    @Test("areas are read from strings or exact JSON numbers")
    func areaDecoding() throws {
        let decoder = JSONDecoder()
        #expect(try decoder.decode([Area].self, from: Data(#"["87.20", 87.2, 100]"#.utf8)).map(\.hundredths) == [8720, 8720, 10000])
        #expect(throws: DecodingError.self) { try decoder.decode([Area].self, from: Data(#"["87.205"]"#.utf8)) }
        #expect(throws: DecodingError.self) { try decoder.decode([Area].self, from: Data(#"[true]"#.utf8)) }
    }
}
