import CourtyardDomain
import Foundation
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
