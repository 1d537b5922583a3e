import CourtyardTestSupport
import Foundation
import HTTPTypes
import Testing

/// Every resource of the estate and its fees through its whole life, from the documented examples alone: created with
/// the request example the OpenAPI document shows integrators, read, changed, deleted, and gone. The examples name
/// each other by placeholder ids (the community `…0002`, the building `…0003`…); each placeholder becomes the id of
/// the record made from its example, so the examples are checked to fit together as well as to be accepted.
@Suite("Resource lifecycle from the documented examples")
struct ResourceLifecycleTests {
    /// In the order they depend on each other: (collection, placeholder its example stands for, a change for PATCH).
    static var resources: [(path: String, placeholder: String?, change: [String: Any])] { [
        ("communities", "0194f3a0-0000-7000-8000-000000000002", ["name": "绿景苑二期"]),
        ("buildings", "0194f3a0-0000-7000-8000-000000000003", ["floors": 24]),
        ("units", "0194f3a0-0000-7000-8000-000000000004", ["name": "2单元"]),
        ("houses", "0194f3a0-0000-7000-8000-000000000005", ["floor": 13]),
        ("people", "0194f3a0-0000-7000-8000-000000000006", ["name": "张伟明"]),
        ("parking-spaces", "0194f3a0-0000-7000-8000-000000000007", ["area": "13.00"]),
        ("devices", "0194f3a0-0000-7000-8000-000000000008", ["firmware": "V2.3.2"]),
        ("fee-items", "0194f3a0-0000-7000-8000-000000000010", ["due_days": 20]),
        ("occupancies", nil, ["valid_until": "2027-01-01"]),
        ("vehicles", nil, ["energy": "electric"]),
        ("device-bindings", nil, ["valid_until": "2027-01-01"]),
        ("fee-standards", nil, ["effective_until": "2027-01-01"]),  // a version's start and rule stay; it can be ended
        ("fee-attachments", nil, ["valid_from": "2026-02-01"]),
        ("usage", nil, ["quantity": "253.400", "estimated": true]),
    ] }

    /// Replaces every placeholder id inside `value` with the id made for it.
    static func substitute(_ value: Any, _ ids: [String: String]) -> Any {
        switch value {
        case let text as String: return ids[text] ?? text
        case let object as [String: Any]: return object.mapValues { substitute($0, ids) }
        case let array as [Any]: return array.map { substitute($0, ids) }
        default: return value
        }
    }

    @Test("each resource is created from its documented example, read, changed, deleted and then gone", arguments: TestEngine.available)
    func lifecycle(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let admin = try await api.login("admin@alpha")
            let openapi = try await api.call(.get, "/openapi.json").object
            let paths = try #require(openapi["paths"] as? [String: Any])
            let schemas = try #require((openapi["components"] as? [String: Any])?["schemas"] as? [String: Any])
            func example(_ path: String) throws -> [String: Any] {
                let post = try #require((paths["/api/v1/\(path)"] as? [String: Any])?["post"] as? [String: Any], "no POST /\(path)")
                let content = (post["requestBody"] as? [String: Any])?["content"] as? [String: Any]
                let json = content?["application/json"] as? [String: Any]
                if let example = json?["example"] as? [String: Any] { return example }
                let reference = try #require((json?["schema"] as? [String: Any])?["$ref"] as? String, "POST /\(path) has no schema")
                let name = String(reference.split(separator: "/").last ?? "")
                return try #require((schemas[name] as? [String: Any])?["example"] as? [String: Any], "\(name) has no example")
            }
            var ids: [String: String] = [:]
            var made: [(path: String, id: String)] = []
            for (path, placeholder, change) in Self.resources {
                var body = try #require(Self.substitute(try example(path), ids) as? [String: Any])
                // The one value that must differ from the seeded data: a community's code is unique in its company.
                if path == "communities" { body["code"] = "LIFE" }
                let created = try await api.call(.post, "/api/v1/\(path)", token: admin, json: body)
                #expect(created.status == .created, "POST /\(path): \(created.text)")
                let id = try #require(created.object["id"] as? String, "POST /\(path): \(created.text)")
                if let placeholder { ids[placeholder] = id }
                made.append((path, id))

                let read = try await api.call(.get, "/api/v1/\(path)/\(id)", token: admin)
                #expect(read.status == .ok, "GET /\(path)/{id}: \(read.text)")
                #expect(read.object["id"] as? String == id)
                let changed = try await api.call(.patch, "/api/v1/\(path)/\(id)", token: admin, json: change)
                #expect(changed.status == .ok, "PATCH /\(path)/{id}: \(changed.text)")
                for (field, value) in change {
                    let now = changed.object[field]
                    let same = (value as? Bool).map { (now as? Bool) == $0 } ?? ("\(now ?? "nil")" == "\(value)")
                    #expect(same, "PATCH /\(path)/{id} \(field): \(changed.text)")
                }
            }
            // Gone in the reverse order: nothing may be deleted while something still names it.
            for (path, id) in made.reversed() {
                let deleted = try await api.call(.delete, "/api/v1/\(path)/\(id)", token: admin)
                #expect(deleted.status == .noContent, "DELETE /\(path)/{id}: \(deleted.text)")
                let gone = try await api.call(.get, "/api/v1/\(path)/\(id)", token: admin)
                #expect(gone.status == .notFound, "GET /\(path)/{id} after DELETE: \(gone.text)")
            }
        }
    }
}
