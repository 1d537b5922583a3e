import CourtyardDomain
import Foundation
import PropertyBased
import Testing

@testable import CourtyardIngest

/// The hand-written reading parser reads exactly what Foundation's `JSONDecoder` reads, refuses what it refuses, and
/// survives any bytes.
@Suite struct ReadingJSONTests {
    @Test func controlCharactersInTextFieldsAreRefusedPerItem() throws {
        let body = Data(
            #"[{"device_id":"m\n1","reading":"1","measured_at":"2026-10-01T00:00:00Z"},{"device_id":"m\u00001","reading":"1","measured_at":"2026-10-01T00:00:00Z"},{"device_id":"ok","reading":"1","measured_at":"2026-10-01T00:00:00Z"}]"#
                .utf8)
        let items = try ReadingParser.parse(body)
        for index in 0..<2 {
            guard case .failure(let error) = items[index] else { Issue.record("item \(index) should fail"); continue }
            #expect(error.code == "control_character")
            #expect(error.field == "device_id")
        }
        #expect(try items[2].get().deviceKey == "ok", "one bad item does not reject its neighbours")
    }

    @Test func escapesExponentsAndUnknownMembersAreReadLikeAnyJSONReader() throws {
        let body = Data(
            #"""
            [{"device_id":"m\u00e9\ud83d\ude00","reading":1.50e1,"measured_at":"2026-10-01T00:00:00Z","extra":{"a":[1,{"b":null}],"c":true}},
             {"deviceId":"w1","usage":0.0012e2,"time":"2025-10-22 00:00:00"},
             {"device_id":"a","device_id":"b","reading":"1","measured_at":"2026-10-01T00:00:00Z"},
             42, "text", [1], {}]
            """#.utf8)
        let items = try ReadingParser.parse(body)
        #expect(items.count == 7)
        #expect(try items[0].get().deviceKey == "mé😀")
        #expect(try items[0].get().value == .cumulative(15_000))
        #expect(try items[1].get().value == .interval(120))
        guard case .failure(let repeated) = items[2] else { Issue.record("a repeated member is refused"); return }
        #expect(repeated.code == "duplicate_field" && repeated.field == "device_id")
        for index in 3..<6 {
            guard case .failure(let error) = items[index] else { Issue.record("item \(index) should fail"); continue }
            #expect(error.code == "invalid_item")
        }
        guard case .failure(let missing) = items[6] else { Issue.record("an empty object has no device"); return }
        #expect(missing.code == "missing_field")
    }

    @Test(
        "bodies that are not JSON are refused as a whole",
        arguments: [
            "", "   ", "[", "[{}", "[{},]", "{\"device_id\" \"x\"}", "[01]", "[1.]", "[-]", "[1e]", "[\"\\x\"]", "[\"\u{01}\"]",
            "[\"\\ud800\"]", "[\"\\udc00\"]", "[nul]", "[tru]", "{} {}", "[] x",
            String(repeating: "[", count: 200) + String(repeating: "]", count: 200),
        ])
    func malformedBodiesAreRefused(_ text: String) {
        #expect(throws: ReadingParser.BodyError.self) { try ReadingParser.parse(Data(text.utf8)) }
    }

    @Test(
        "a reading field given twice refuses that reading, on every transport (MQTT has no other body check)",
        arguments: [
            #"[{"device_id":"m","reading":"1","reading":"2","measured_at":"2026-10-01T00:00:00Z"}]"#,
            #"{"device_id":"m","device_id":"n","reading":"1","measured_at":"2026-10-01T00:00:00Z"}"#,
            #"[{"deviceId":"m","usage":1,"time":"2026-10-01T00:00:00Z","time":"2026-10-02T00:00:00Z"}]"#,
        ])
    func repeatedFieldsAreRefused(_ text: String) throws {
        let items = try ReadingParser.parse(Data(text.utf8))
        guard case .failure(let error) = items.first else { Issue.record("a repeated field must refuse the reading"); return }
        #expect(error.code == "duplicate_field")
        #expect(["reading", "device_id", "time"].contains(error.field))
    }

    @Test("device_key names the device's key; device_id and deviceId are its older spellings; two different keys are refused")
    func deviceKeyAndItsOlderSpellings() throws {
        let text =
            #"[{"device_key":"m1","reading":"1","measured_at":"2026-10-01T00:00:00Z"},"#
            + #"{"device_id":"m2","reading":"1","measured_at":"2026-10-01T00:00:00Z"},"#
            + #"{"device_key":"m3","device_id":"m3","reading":"1","measured_at":"2026-10-01T00:00:00Z"},"#
            + #"{"device_key":"m4","device_id":"m5","reading":"1","measured_at":"2026-10-01T00:00:00Z"},"#
            + #"{"reading":"1","measured_at":"2026-10-01T00:00:00Z"}]"#
        let items = try ReadingParser.parse(Data(text.utf8))
        #expect(try items[0].get().deviceKey == "m1")
        #expect(try items[1].get().deviceKey == "m2")
        #expect(try items[2].get().deviceKey == "m3", "the same key under both names is one device")
        guard case .failure(let ambiguous) = items[3], case .failure(let missing) = items[4] else { Issue.record("\(items)"); return }
        #expect(ambiguous.code == "ambiguous_device" && ambiguous.field == "device_id")
        #expect(missing.code == "missing_field" && missing.field == "device_key")
    }

    @Test("the same name in two different readings, or an ignored member twice, is fine")
    func repeatsAcrossObjectsAreFine() throws {
        let text =
            #"[{"device_id":"m","reading":"1","measured_at":"2026-10-01T00:00:00Z","note":1,"note":2},"#
            + #"{"device_id":"m","reading":"2","measured_at":"2026-10-01T01:00:00Z"}]"#
        let items = try ReadingParser.parse(Data(text.utf8))
        #expect(items.count == 2)
        #expect(items.allSatisfy { if case .success = $0 { true } else { false } })
    }

    @Test func invalidUTF8InAStringIsRefused() {
        var bytes = Array(#"[{"device_id":"m"#.utf8)
        bytes += [0xC3, 0x28]
        bytes += Array(#"","reading":"1","measured_at":"2026-10-01T00:00:00Z"}]"#.utf8)
        #expect(throws: ReadingParser.BodyError.self) { try ReadingParser.parse(Data(bytes)) }
    }

    @Test func emptyAndOversizedBatchesAreRefused() {
        #expect(throws: ReadingParser.BodyError.empty) { try ReadingParser.parse(Data("[ ]".utf8)) }
        let item = #"{"device_id":"m","reading":"1","measured_at":"2026-10-01T00:00:00Z"}"#
        let body = "[" + Array(repeating: item, count: ReadingParser.maximumBatch + 1).joined(separator: ",") + "]"
        #expect(throws: ReadingParser.BodyError.tooMany(ReadingParser.maximumBatch + 1)) { try ReadingParser.parse(Data(body.utf8)) }
    }

    @Test func arbitraryBytesNeverCrashTheParser() async {
        await propertyCheck(count: 3_000, input: Gen.uint8().array(of: 0...120)) { bytes in
            _ = try? ReadingParser.parse(Data(bytes))
            _ = try? ReadingParser.parse(Data(Array("[{\"device_id\":".utf8) + bytes))
        }
    }

    @Test func randomBodiesReadAsJSONDecoderReadsThemAndDamagedOnesNeverReadDifferently() async {
        await propertyCheck(count: 1_500, input: Gen.uint64(), Gen.int(in: 0...10_000), Gen.uint8()) { seed, position, byte in
            var random = SplitMix64(seed: seed)
            let body = Array(RandomReadingBody.make(using: &random).utf8)
            Self.expectSameAsReference(body, strict: false)
            // The same body cut short, or with one byte replaced. JSONDecoder checks a string's escapes and UTF-8, and a
            // number's digits, only when a field is read, so it lets through bodies that RFC 8259 and the parser refuse:
            // the parser may refuse more, but whatever it reads, it reads as JSONDecoder does.
            Self.expectSameAsReference(Array(body[..<(position % (body.count + 1))]), strict: true)
            var damaged = body
            damaged[position % body.count] = byte
            Self.expectSameAsReference(damaged, strict: true)
        }
    }

    static func expectSameAsReference(_ bytes: [UInt8], strict: Bool) {
        let data = Data(bytes)
        let ours = Result { () throws(ReadingParser.BodyError) in try ReadingParser.parse(data, defaultDevice: nil) }
        let reference = FoundationReadingParser.parse(data)
        switch (ours, reference) {
        case (.success(let a), .success(let b)):
            #expect(a == b, "\(String(decoding: bytes, as: UTF8.self))")
        case (.failure(.malformedJSON), .failure(.malformedJSON)), (.failure(.empty), .failure(.empty)):
            break
        case (.failure(.malformedJSON), .success) where strict:
            break
        case (.failure(.tooMany(let a)), .failure(.tooMany(let b))):
            #expect(a == b)
        default:
            Issue.record("ours \(ours), Foundation's \(reference) for \(String(decoding: bytes, as: UTF8.self))")
        }
    }
}

/// The reference: Foundation's `JSONDecoder` reads each member the reading parser knows (numbers through `Decimal`,
/// as the parser did before it was hand-written), and the same field rules turn them into submissions.
enum FoundationReadingParser {
    struct Item: Decodable {
        var fields: ReadingJSON.Fields?

        struct Name: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: any Decoder) throws {
            guard let container = try? decoder.container(keyedBy: Name.self) else { return }
            var fields = ReadingJSON.Fields()
            for key in ReadingParser.Key.allCases {
                let name = Name(stringValue: key.rawValue)
                guard container.contains(name) else { continue }
                if (try? container.decodeNil(forKey: name)) == true {
                    fields[key] = .null
                } else if let text = try? container.decode(String.self, forKey: name) {
                    fields[key] = .string(text)
                } else if let number = try? container.decode(Decimal.self, forKey: name) {
                    fields[key] = .number("\(number)")
                } else {
                    fields[key] = .other
                }
            }
            self.fields = fields
        }
    }

    static func parse(_ body: Data) -> Result<[Result<ReadingSubmission, ReadingError>], ReadingParser.BodyError> {
        let items: [Item]
        let first = body.first(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) })
        do {
            if first == UInt8(ascii: "[") {
                items = try JSONDecoder().decode([Item].self, from: body)
                guard !items.isEmpty else { return .failure(.empty) }
                guard items.count <= ReadingParser.maximumBatch else { return .failure(.tooMany(items.count)) }
            } else {
                items = [try JSONDecoder().decode(Item.self, from: body)]
            }
        } catch {
            return .failure(.malformedJSON("\(error)"))
        }
        return .success(
            items.map { item in
                guard let fields = item.fields else {
                    return .failure(ReadingError("invalid_item", field: nil, "each reading must be a JSON object"))
                }
                return Result { () throws(ReadingError) in try ReadingParser.submission(fields, defaultDevice: nil) }
            })
    }
}

/// Random reading bodies in both formats, with the kinds of values devices get wrong.
enum RandomReadingBody {
    static func make(using random: inout SplitMix64) -> String {
        let count = Int(random.next() % 4)
        let items = (0..<count).map { _ in item(using: &random) }
        if count == 1, random.next() % 2 == 0 { return items[0] }
        return "[" + items.joined(separator: random.next() % 2 == 0 ? "," : " ,\n ") + "]"
    }

    static func item(using random: inout SplitMix64) -> String {
        if random.next() % 12 == 0 { return value(using: &random, depth: 0) }
        let names = ReadingParser.Key.allCases.map(\.rawValue) + ["extra", "unit"]
        var members: [String] = []
        for name in names where random.next() % 3 == 0 {
            members.append("\"\(name)\":\(fieldValue(name, using: &random))")
        }
        return "{" + members.shuffled(using: &random).joined(separator: ",") + "}"
    }

    static func fieldValue(_ name: String, using random: inout SplitMix64) -> String {
        switch random.next() % 10 {
        case 0: return "null"
        case 1: return value(using: &random, depth: 0)
        case 2, 3: return number(using: &random)
        default:
            switch name {
            case "measured_at", "measuredAt":
                return random.next() % 5 == 0 ? "\"2026-13-01T00:00:00Z\"" : "\"2026-10-0\(1 + random.next() % 9)T0\(random.next() % 10):00:00Z\""
            case "time": return "\"2025-10-22 0\(random.next() % 10):00:00\""
            case "reading", "usage": return "\"" + number(using: &random) + "\""
            case "register": return ["\"energy_total\"", "\"tou_peak\"", "\"Bad-Name\"", "\"usage\""][Int(random.next() % 4)]
            default: return string(using: &random)
            }
        }
    }

    static func number(using random: inout SplitMix64) -> String {
        var text = random.next() % 6 == 0 ? "-" : ""
        text += random.next() % 4 == 0 ? "0" : String(1 + random.next() % 99_999)
        if random.next() % 2 == 0 { text += "." + String(random.next() % 100_000) + String(repeating: "0", count: Int(random.next() % 3)) }
        if random.next() % 5 == 0 { text += ["e", "E", "e+", "e-"][Int(random.next() % 4)] + String(random.next() % 6) }
        return text
    }

    static func string(using random: inout SplitMix64) -> String {
        let pieces = ["m", "102", "\\u00e9", "水表", "\\n", "\\\"", "\\\\", "\\/", "\\ud83d\\ude00", " ", "_"]
        let count = Int(random.next() % 5)
        return "\"" + (0..<count).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined() + "\""
    }

    static func value(using random: inout SplitMix64, depth: Int) -> String {
        switch random.next() % (depth > 3 ? 4 : 6) {
        case 0: return "true"
        case 1: return "false"
        case 2: return number(using: &random)
        case 3: return string(using: &random)
        case 4: return "[" + (0..<Int(random.next() % 3)).map { _ in value(using: &random, depth: depth + 1) }.joined(separator: ",") + "]"
        default:
            return "{"
                + (0..<Int(random.next() % 3)).map { index in "\"k\(index)\":" + value(using: &random, depth: depth + 1) }.joined(separator: ",")
                + "}"
        }
    }
}
