import CourtyardDomain
import Foundation
import PropertyBased
import Testing
@testable import CourtyardStorage

@Suite("Compact JSON for bill rows")
struct CompactJSONTests {
    static let lines: [[QuoteLine]] = [
        [],
        [QuoteLine(description: "tier 1 (graduated): 200.000 kWh × 0.5000", tier: 1, window: nil, quantity: Quantity(milliUnits: 200_000),
                   unitPrice: UnitPrice(tenThousandths: 5_000), exact: ExactAmount(tenMillionths: 1_000_000_000))],
        [QuoteLine(description: "87.20 m² × 2.5000/m²/month × 1 month(s)", tier: nil, window: nil, quantity: nil,
                   unitPrice: UnitPrice(tenThousandths: 25_000), exact: ExactAmount(tenMillionths: 2_180_000_000)),
         QuoteLine(description: "quote \" backslash \\ tab \t newline \n bell \u{7} 峰", tier: 2, window: "峰 peak",
                   quantity: Quantity(milliUnits: 1), unitPrice: nil, exact: ExactAmount(tenMillionths: -5))],
    ]

    @Test("breakdowns are written exactly as JSONEncoder writes them, and read back", arguments: lines)
    func breakdown(_ lines: [QuoteLine]) throws {
        let compact = CompactJSON.breakdown(lines)
        #expect(compact == StoredJSON.encode(lines))
        #expect(try StoredJSON.decode([QuoteLine].self, compact, table: "t", column: "c") == lines)
    }

    @Test("any amounts, quantities, prices, tiers and texts are written exactly as JSONEncoder writes them")
    func randomBreakdowns() async {
        let text = Gen.element(of: ["", "峰 peak", "a/b \"q\" \\ \t\n\u{1}", "tier 1 (graduated): 200.000 kWh × 0.5000"])
        await propertyCheck(count: 500, input: Gen.int64(in: -9_999_999_999...9_999_999_999), Gen.int64(in: -99_999_999...99_999_999),
                            Gen.int(in: -3...12), text) { exact, small, tier, description in
            let description = description ?? ""
            let line = QuoteLine(description: description, tier: tier == 0 ? nil : tier, window: tier > 5 ? description : nil,
                                 quantity: tier % 2 == 0 ? Quantity(milliUnits: small) : nil,
                                 unitPrice: tier % 3 == 0 ? UnitPrice(tenThousandths: small / 7) : nil,
                                 exact: ExactAmount(tenMillionths: Int128(exact) * Int128(small)))
            #expect(CompactJSON.breakdown([line, line]) == StoredJSON.encode([line, line]))
        }
    }

    @Test("window usage round-trips, and anything unusual falls back to the full decoder")
    func quantities() throws {
        let values = ["valley": Quantity(milliUnits: 133_400), "peak": Quantity(milliUnits: 120_000)]
        let text = CompactJSON.quantities(values)
        #expect(text == StoredJSON.encode(values))
        #expect(CompactJSON.parseQuantities(text) == values)
        #expect(CompactJSON.parseQuantities("{}") == [:])
        #expect(CompactJSON.parseQuantities("{\"a\":\"1.5\"} ") == nil)
        #expect(CompactJSON.parseQuantities("{\"a\\\"\":\"1\"}") == nil)
        #expect(CompactJSON.parseQuantities("{\"a\":\"x\"}") == nil)
    }
}
