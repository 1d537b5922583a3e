import CourtyardDomain
import Foundation
import PropertyBased
import Testing

@testable import CourtyardStorage

@Suite("Compact JSON for bill rows")
struct CompactJSONTests {
    static let lines: [[QuoteLine]] = [
        [],
        [
            QuoteLine(
                description: "tier 1 (graduated): 200.000 kWh × 0.5000", tier: 1, window: nil, quantity: Quantity(milliUnits: 200_000),
                unitPrice: UnitPrice(tenThousandths: 5_000), exact: ExactAmount(tenMillionths: 1_000_000_000))
        ],
        [
            QuoteLine(
                description: "87.20 m² × 2.5000/m²/month × 1 month(s)", tier: nil, window: nil, quantity: nil,
                unitPrice: UnitPrice(tenThousandths: 25_000), exact: ExactAmount(tenMillionths: 2_180_000_000)),
            QuoteLine(
                description: "quote \" backslash \\ tab \t newline \n bell \u{7} 峰", tier: 2, window: "峰 peak",
                quantity: Quantity(milliUnits: 1), unitPrice: nil, exact: ExactAmount(tenMillionths: -5)),
        ],
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
        await propertyCheck(
            count: 500, input: Gen.int64(in: -9_999_999_999...9_999_999_999), Gen.int64(in: -99_999_999...99_999_999),
            Gen.int(in: -3...12), text
        ) { exact, small, tier, description in
            let description = description ?? ""
            let line = QuoteLine(
                description: description, tier: tier == 0 ? nil : tier, window: tier > 5 ? description : nil,
                quantity: tier % 2 == 0 ? Quantity(milliUnits: small) : nil,
                unitPrice: tier % 3 == 0 ? UnitPrice(tenThousandths: small / 7) : nil,
                exact: ExactAmount(tenMillionths: Int128(exact) * Int128(small)))
            #expect(CompactJSON.breakdown([line, line]) == StoredJSON.encode([line, line]))
        }
    }

    /// Slices as a bill run makes them: their sentences follow from their numbers.
    static let selfExplaining: [QuoteLine] = [
        QuoteLine(
            .tier(.graduated), tier: 1, window: nil, quantity: Quantity(milliUnits: 200_000), unitPrice: UnitPrice(tenThousandths: 5_000),
            exact: ExactAmount(tenMillionths: 1_000_000_000), unit: "kWh"),
        QuoteLine(
            .tier(.volume), tier: 2, window: nil, quantity: Quantity(milliUnits: 200_000), unitPrice: UnitPrice(tenThousandths: 70_000),
            exact: ExactAmount(tenMillionths: 14_000_000_000), unit: "m³"),
        QuoteLine(
            .window, tier: 1, window: "peak", quantity: Quantity(milliUnits: 1_840_000), unitPrice: UnitPrice(tenThousandths: 5_680),
            exact: ExactAmount(tenMillionths: 10_451_200_000), unit: "kWh"),
        QuoteLine(
            .area(Area(hundredths: 8_720), months: 3), tier: nil, window: nil, quantity: nil,
            unitPrice: UnitPrice(tenThousandths: 25_000), exact: ExactAmount(tenMillionths: 6_540_000_000)),
        QuoteLine(.fixed(months: 3), tier: nil, window: nil, quantity: nil, unitPrice: nil, exact: ExactAmount(tenMillionths: 1_500_000_000)),
    ]

    @Test("slices whose sentence follows from their numbers are stored without it or their unit, and read back the same")
    func selfExplainingSlices() throws {
        let compact = CompactJSON.breakdown(Self.selfExplaining)
        #expect(compact == StoredJSON.encode(Self.selfExplaining))
        #expect(
            compact == #"[{"exact":"100.0000000","quantity":"200.000","tier":1,"unit_price":"0.5000"},"#
                + #"{"exact":"1400.0000000","mode":"volume","quantity":"200.000","tier":2,"unit_price":"7.0000"},"#
                + #"{"exact":"1045.1200000","quantity":"1840.000","tier":1,"unit_price":"0.5680","window":"peak"},"#
                + #"{"area":"87.20","exact":"654.0000000","months":3,"unit_price":"2.5000"},"#
                + #"{"exact":"150.0000000","months":3}]"#)
        var read = try StoredJSON.decode([QuoteLine].self, compact, table: "t", column: "c")
        #expect(
            read.map(\.description) == [
                "tier 1 (graduated): 200.000 × 0.5000", "tier 2 (volume): 200.000 × 7.0000",
                "tier 1 peak: 1840.000 × 0.5680", "87.20 m² × 2.5000/m²/month × 3 month(s)",
                "fixed 50.00 × 3 month(s)",
            ])
        for index in read.indices { read[index].restoreUnit(Self.selfExplaining[index].unit) }
        #expect(read == Self.selfExplaining)
        #expect(
            read.map(\.description) == [
                "tier 1 (graduated): 200.000 kWh × 0.5000", "tier 2 (volume): 200.000 m³ × 7.0000",
                "tier 1 peak: 1840.000 kWh × 0.5680", "87.20 m² × 2.5000/m²/month × 3 month(s)",
                "fixed 50.00 × 3 month(s)",
            ])
    }

    @Test("breakdowns stored before 2026-12 (with their sentences) read exactly as they were written")
    func storedBeforeTheChange() throws {
        // A time-of-use electricity line and an area line as bacbbc1 wrote them, byte for byte.
        let electricity =
            #"[{"description":"tier 1 peak: 120.000 kWh × 0.5680","exact":"68.1600000","quantity":"120.000","tier":1,"#
            + #""unit_price":"0.5680","window":"peak"},{"description":"tier 2 (volume): 15.500 kWh × 0.6180","exact":"9.5790000","#
            + #""quantity":"15.500","tier":2,"unit_price":"0.6180"}]"#
        var lines = try StoredJSON.decode([QuoteLine].self, electricity, table: "t", column: "c")
        for index in lines.indices { lines[index].restoreUnit("kWh") }
        #expect(lines.map(\.description) == ["tier 1 peak: 120.000 kWh × 0.5680", "tier 2 (volume): 15.500 kWh × 0.6180"])
        #expect(lines.map(\.exact) == [ExactAmount(tenMillionths: 681_600_000), ExactAmount(tenMillionths: 95_790_000)])
        #expect(lines.map(\.window) == ["peak", nil])
        let area = #"[{"description":"87.20 m² × 2.5000/m²/month × 1 month(s)","exact":"218.0000000","unit_price":"2.5000"}]"#
        let areaLines = try StoredJSON.decode([QuoteLine].self, area, table: "t", column: "c")
        #expect(areaLines.map(\.description) == ["87.20 m² × 2.5000/m²/month × 1 month(s)"])
        // Written again, an old slice keeps its sentence: nothing is lost by reading and rewriting.
        #expect(CompactJSON.breakdown(areaLines) == area)
        #expect(throws: StorageError.self) { try StoredJSON.decode([QuoteLine].self, #"[{"exact":"1.0000000"}]"#, table: "t", column: "c") }
    }

    @Test("the API form carries the sentence and the unit, and reads back to the same slice")
    func apiForm() throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(Self.selfExplaining[0])
        #expect(
            String(decoding: data, as: UTF8.self) == #"{"description":"tier 1 (graduated): 200.000 kWh × 0.5000","exact":"100.0000000","#
                + #""mode":"graduated","quantity":"200.000","tier":1,"unit":"kWh","unit_price":"0.5000"}"#)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        for line in Self.selfExplaining {
            #expect(try decoder.decode(QuoteLine.self, from: encoder.encode(line)) == line)
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
