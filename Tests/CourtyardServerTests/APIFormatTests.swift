import CourtyardDomain
import CourtyardServer
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import HTTPTypes
import Testing

/// One format for money and one for time in every response, read off the OpenAPI document's examples.
@Suite("API formats")
struct APIFormatTests {
    /// Every (schema path, value) in the document's component examples.
    static func fields(_ value: JSONValue, path: String, into out: inout [(String, JSONValue)]) {
        switch value {
        case .object(let members):
            for (key, member) in members {
                out.append((path + "." + key, member))
                Self.fields(member, path: path + "." + key, into: &out)
            }
        case .array(let items):
            if let first = items.first { Self.fields(first, path: path + "[]", into: &out) }
        default: break
        }
    }

    @Test("money is {amount, currency} and instants are RFC 3339 strings in every documented example", arguments: [TestEngine.sqlite])
    func oneFormatForMoneyAndTime(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            guard case .object(let root) = api.document.json(), case .object(let components) = root["components"],
                case .object(let schemas) = components["schemas"]
            else { Issue.record("no schemas"); return }
            var found: [(String, JSONValue)] = []
            for (name, schema) in schemas {
                guard case .object(let object) = schema, let example = object["example"] else { continue }
                Self.fields(example, path: name, into: &found)
            }
            // And real answers: every documented GET, with ids of real records, as the company administrator.
            let admin = try await api.login("admin@alpha")
            if case .object(let paths) = root["paths"] {
                for (path, methods) in paths.sorted(by: { $0.key < $1.key }) {
                    guard case .object(let operations) = methods, operations["get"] != nil, path.hasPrefix("/api/v1") else { continue }
                    var parts: [String] = []
                    for segment in path.split(separator: "/").map(String.init) {
                        if segment.hasPrefix("{") {
                            let list = try await api.call(.get, "/api/v1/\(parts.last ?? "")?limit=1", token: admin)
                            parts.append(list.items.first?["id"] as? String ?? "none")
                        } else {
                            parts.append(segment)
                        }
                    }
                    let reply = try await api.call(.get, "/" + parts.joined(separator: "/"), token: admin)
                    guard reply.status == .ok, let data = reply.text.data(using: .utf8),
                        let value = try? JSONDecoder().decode(JSONValue.self, from: data)
                    else { continue }
                    Self.fields(value, path: "GET " + path, into: &found)
                }
            }
            var problems: [String] = []
            for (path, value) in found {
                let key = String(path.split(separator: ".").last ?? "")
                if key.hasSuffix("_at"), case .number = value { problems.append("\(path) is a number; instants are RFC 3339 strings") }
                let moneyish =
                    key == "amount" || key.hasSuffix("_amount") || key == "balance" || key.hasSuffix("_balance")
                    || key.hasSuffix("_float") || key == "total"
                if moneyish, case .number = value { problems.append("\(path) is a bare number; money is {amount, currency}") }
            }
            let unique = Set(problems).sorted()
            #expect(unique.isEmpty, "\(unique.count) fields:\n\(unique.joined(separator: "\n"))")
        }
    }
}

@Suite("OpenAPI completeness")
struct OpenAPICompletenessTests {
    static func walk(_ value: JSONValue, path: String, visit: (String, [String: JSONValue]) -> Void) {
        switch value {
        case .object(let object):
            visit(path, object)
            for (key, member) in object { walk(member, path: path + "/" + key, visit: visit) }
        case .array(let items):
            for (index, item) in items.enumerated() { walk(item, path: path + "/\(index)", visit: visit) }
        default: break
        }
    }

    @Test("every referenced schema is defined, every array says what it holds, every operation has a summary", arguments: [TestEngine.sqlite])
    func documentIsComplete(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let document = api.document.json()
            guard case .object(let root) = document, case .object(let components) = root["components"],
                case .object(let schemas) = components["schemas"]
            else { Issue.record("no schemas"); return }
            var problems: [String] = []
            if case .object(let paths) = root["paths"] {
                for (path, methods) in paths {
                    guard case .object(let operations) = methods else { continue }
                    for (method, operation) in operations {
                        guard case .object(let op) = operation, case .string(let summary)? = op["summary"], !summary.isEmpty else {
                            problems.append("\(method) \(path) has no summary"); continue
                        }
                    }
                }
            }
            Self.walk(document, path: "") { path, object in
                if case .string(let ref) = object["$ref"], let name = ref.split(separator: "/").last, schemas[String(name)] == nil {
                    problems.append("\(path): $ref \(ref) is not defined")
                }
                if object["type"] == .string("array"), case .object(let items)? = object["items"], items.isEmpty, !path.contains("/example") {
                    problems.append("\(path): array items have no type")
                }
            }
            #expect(problems.isEmpty, "\(problems.count):\n\(problems.sorted().joined(separator: "\n"))")
        }
    }

    @Test("operations are described, enums and formats declared, and the receipt page typed as HTML", arguments: [TestEngine.sqlite])
    func documentSpeaksToIntegrators(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let document = api.document.json()
            guard case .object(let root) = document, case .object(let paths) = root["paths"], case .object(let components) = root["components"],
                case .object(let schemas) = components["schemas"]
            else { Issue.record("no paths"); return }
            var undescribed: [String] = []
            for (path, methods) in paths {
                guard case .object(let operations) = methods else { continue }
                for (method, operation) in operations {
                    guard case .object(let op) = operation, case .string(let text)? = op["description"], text.count > 40 else {
                        undescribed.append("\(method) \(path)"); continue
                    }
                }
            }
            #expect(undescribed.isEmpty, "\(undescribed.sorted())")
            // The receipt page is a page.
            guard case .object(let receipt)? = paths["/r/{token}"], case .object(let get)? = receipt["get"],
                case .object(let responses)? = get["responses"], case .object(let ok)? = responses["200"],
                case .object(let content)? = ok["content"]
            else { Issue.record("no receipt page"); return }
            #expect(content["text/html"] != nil && content["application/json"] == nil)
            // Enums come from the Swift types, formats from the values.
            func property(_ schema: String, _ name: String) -> [String: JSONValue]? {
                guard case .object(let object)? = schemas[schema], case .object(let properties)? = object["properties"],
                    case .object(let property)? = properties[name]
                else { return nil }
                return property
            }
            #expect(property("User", "role")?["enum"] == .array(Role.allCases.map { .string($0.rawValue) }))
            #expect(property("Bill", "status")?["enum"] == .array(Bill.Status.allCases.map { .string($0.rawValue) }))
            #expect(property("User", "created_at")?["format"] == .string("date-time"))
            #expect(property("User", "id")?["format"] == .string("uuid"))
            // Every property whose example is an instant, a day or a UUID says so: none is left a bare string.
            var bare: [String] = []
            for (name, schema) in schemas {
                guard case .object(let object) = schema, case .object(let example)? = object["example"],
                    case .object(let properties)? = object["properties"]
                else { continue }
                for (key, value) in example {
                    guard case .string(let text) = value, let format = OpenAPIDocument.format(of: text),
                        case .object(let property)? = properties[key], property["x-free-form"] != .bool(true)
                    else { continue }
                    if property["format"] != .string(format) { bare.append("\(name).\(key)") }
                }
            }
            #expect(bare.isEmpty, "\(bare.sorted())")
        }
    }
}
