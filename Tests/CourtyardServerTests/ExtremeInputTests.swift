import CourtyardServer
import CourtyardTestSupport
import Foundation
import HTTPTypes
import Testing

/// Every value that comes from outside is range-checked where it is parsed: a Swift trap stops the whole server, so
/// no body field, query or path parameter may reach a force-unwrap or an unchecked arithmetic operation.
///
/// The sweep is generated from `/openapi.json`: for each documented operation it sends the example body with one
/// leaf at a time replaced by an extreme value (numbers at and past the 64-bit limits, dates in year 0, 1969, 9999
/// and 10000, periods at the ends of the calendar, empty and control-character strings, the wrong JSON type), and
/// each query and path parameter likewise. A trap would end this test process; a 5xx fails the test.
@Suite("Extreme inputs")
struct ExtremeInputTests {
    /// Values that have crashed or could crash a parser or the arithmetic behind it, as raw JSON text.
    static let extremeJSON: [String] = [
        "9223372036854775807", "-9223372036854775808", "9223372036854775808", "18446744073709551616", "1e308", "-1e308",
        "0", "-1", "0.0001", "1.5",
        #""9223372036854775807""#, #""-9223372036854775808""#, #""99999999999999999999999999.99""#, #""-0.01""#,
        #""1e5""#, #""NaN""#, #""""#, #"" ""#, #""\u0000""#, #""a\u0007b""#,
        #""9999-12""#, #""9998-12""#, #""2100-01""#, #""2099-12-31T23:59:59Z""#, #""9999-Q4""#, #""9999""#, #""1970-01""#, #""0000-01""#,
        #""9999-12-31""#, #""10000-01-01""#,
        #""0000-01-01""#, #""1969-12-31""#, #""9999-12-31T23:59:59Z""#, #""0001-01-01T00:00:00Z""#,
        #""9999-12-31T23:59:59+14:00""#, #""1969-12-31T23:59:59Z""#, "true", "null", "[]", "{}",
    ]

    /// The same extremes for query and path parameters (percent-encoded where needed).
    static let extremeText: [String] = [
        "9223372036854775807", "-9223372036854775808", "9223372036854775808", "99999999999999999999", "-1", "0", "1e308",
        "9999-12", "9998-12", "2100-01", "9999-Q4", "9999", "0000-01", "9999-12-31", "10000-01-01", "0000-01-01", "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z", "%00", "%FF%FE", "", "NaN", String(repeating: "9", count: 400),
    ]

    @Test("no documented operation answers an extreme field, query or path value with a 5xx", arguments: TestEngine.available)
    func extremeValuesNeverCrash(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let admin = try await api.login("admin@alpha")
            let document = api.document.json()
            guard case .object(let root) = document, case .object(let paths) = root["paths"],
                case .object(let components) = root["components"], case .object(let schemas) = components["schemas"]
            else {
                Issue.record("the OpenAPI document has no paths or schemas"); return
            }
            var realIds: [String: String] = [:]
            func id(after segment: String) async throws -> String {
                if let known = realIds[segment] { return known }
                let reply = try await api.call(.get, "/api/v1/\(segment)?limit=1", token: admin)
                let found = reply.items.first?["id"] as? String ?? "00000000-0000-7000-8000-000000000000"
                realIds[segment] = found
                return found
            }
            var failures: [String] = []
            var sent = 0
            for (path, methods) in paths.sorted(by: { $0.key < $1.key }) {
                guard case .object(let operations) = methods else { continue }
                for (method, operation) in operations.sorted(by: { $0.key < $1.key }) {
                    guard case .object(let op) = operation, let httpMethod = HTTPRequest.Method(method.uppercased()) else { continue }
                    // The path with every parameter replaced by a real id of its collection.
                    let segments = path.split(separator: "/").map(String.init)
                    var concrete: [String] = []
                    var parameterIndices: [Int] = []
                    for (index, segment) in segments.enumerated() {
                        if segment.hasPrefix("{") {
                            parameterIndices.append(index)
                            concrete.append(try await id(after: index > 0 ? segments[index - 1] : ""))
                        } else {
                            concrete.append(segment)
                        }
                    }
                    func uri(_ parts: [String], query: String = "") -> String { "/" + parts.joined(separator: "/") + query }

                    func check(_ uri: String, body: String?) async throws {
                        sent += 1
                        let reply = try await api.call(httpMethod, uri, token: admin, raw: body)
                        if reply.status.code >= 500 {
                            failures.append("\(method.uppercased()) \(uri) \(body ?? ""): \(reply.status.code) \(reply.text.prefix(200))")
                        }
                    }

                    var example: JSONValue? = nil
                    if case .object(let requestBody) = op["requestBody"], case .object(let content) = requestBody["content"],
                        case .object(let json) = content["application/json"], case .object(let schema) = json["schema"],
                        case .string(let ref) = schema["$ref"], case .object(let named) = schemas[String(ref.split(separator: "/").last!)]
                    {
                        example = named["example"]
                    }
                    // Path parameters.
                    for index in parameterIndices {
                        for value in Self.extremeText where !value.isEmpty {
                            var parts = concrete
                            parts[index] = value
                            try await check(uri(parts), body: example.map(Self.text))
                        }
                    }
                    // Query parameters.
                    if case .array(let parameters) = op["parameters"] {
                        for case .object(let parameter) in parameters where parameter["in"] == .string("query") {
                            guard case .string(let name) = parameter["name"] else { continue }
                            for value in Self.extremeText {
                                try await check(uri(concrete, query: "?\(name)=\(value)"), body: example.map(Self.text))
                            }
                        }
                    }
                    // Body leaves.
                    if let example {
                        for leaf in Self.leaves(of: example) {
                            for value in Self.extremeJSON {
                                try await check(uri(concrete), body: Self.text(Self.replacing(leaf, in: example, with: value)))
                            }
                        }
                    }
                }
            }
            #expect(sent > 1_000, "the sweep sent only \(sent) requests")
            let report = failures.prefix(40).joined(separator: "\n")
            #expect(failures.isEmpty, "\(failures.count) of \(sent) requests got a 5xx:\n\(report)")
        }
    }

    @Test(
        "WeChat Pay timestamps at the 64-bit limits get a 4xx from the unauthenticated notification route",
        arguments: TestEngine.available)
    func extremeHeadersNeverCrash(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            for value in ["-9223372036854775808", "9223372036854775807", "-99999999999", "99999999999999999999", "1e308", "", " "] {
                let wechat = try await api.call(
                    .post, "/api/v1/payments/notify/wechatpay", raw: #"{"id":"x"}"#,
                    headers: [
                        "Wechatpay-Timestamp": value, "Wechatpay-Nonce": "n", "Wechatpay-Signature": "c2ln", "Wechatpay-Serial": "S",
                    ])
                #expect((400..<500).contains(Int(wechat.status.code)), "Wechatpay-Timestamp \(value): \(wechat.status) \(wechat.text)")
            }
        }
    }

    /// Paths to every leaf value (and every array, as a whole) of a JSON value.
    static func leaves(of value: JSONValue, at path: [String] = []) -> [[String]] {
        switch value {
        case .object(let fields):
            return fields.keys.sorted().flatMap { key in leaves(of: fields[key]!, at: path + [key]) }
        case .array(let items):
            return [path] + (items.first.map { leaves(of: $0, at: path + ["0"]) } ?? [])
        default:
            return [path]
        }
    }

    /// `value` with the leaf at `path` replaced by raw JSON text.
    static func replacing(_ path: [String], in value: JSONValue, with raw: String) -> JSONValue {
        guard let head = path.first else { return .number(raw) }
        switch value {
        case .object(var fields):
            fields[head] = replacing(Array(path.dropFirst()), in: fields[head] ?? .null, with: raw)
            return .object(fields)
        case .array(var items):
            if let index = Int(head), items.indices.contains(index) {
                items[index] = replacing(Array(path.dropFirst()), in: items[index], with: raw)
            }
            return .array(items)
        default:
            return value
        }
    }

    /// JSON text of a value; `.number` is written as its raw text, which is how extreme values are spliced in.
    static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let string):
            let data = try! JSONSerialization.data(withJSONObject: [string], options: [.fragmentsAllowed])
            return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
        case .number(let raw): return raw
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return "null"
        case .array(let items): return "[" + items.map(text).joined(separator: ",") + "]"
        case .object(let fields):
            return "{" + fields.keys.sorted().map { text(.string($0)) + ":" + text(fields[$0]!) }.joined(separator: ",") + "}"
        }
    }
}
