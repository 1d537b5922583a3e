import CourtyardStorage
import CourtyardTestSupport
import Foundation
import HTTPTypes
import Testing

@Suite("Health, metrics and OpenAPI")
struct SystemRoutesTests {
    @Test("health reports the engine and database reachability", arguments: TestEngine.available)
    func health(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let reply = try await api.call(.get, "/health")
            #expect(reply.status == .ok)
            #expect(reply.object["status"] as? String == "ok")
            #expect(reply.object["engine"] as? String == engine.rawValue)
            #expect(reply.object["schema_version"] as? Int == Migrator().latestVersion)
        }
    }

    @Test("metrics count requests by route pattern, method and status", arguments: TestEngine.available)
    func metrics(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let token = try await api.login("admin@alpha")
            let house = try await api.first("houses", token: token)["id"] as! String
            _ = try await api.call(.get, "/api/v1/houses/\(house)", token: token)
            _ = try await api.call(.get, "/api/v1/houses/not-a-house", token: token)
            let text = try await api.call(.get, "/metrics").text
            #expect(text.contains(#"courtyard_http_requests_total{route="/api/v1/houses/{id}",method="GET",status="200"} 1"#))
            #expect(text.contains(#"courtyard_http_requests_total{route="/api/v1/houses/{id}",method="GET",status="404"} 1"#))
            #expect(text.contains("courtyard_http_request_duration_seconds_bucket"))
            #expect(!text.contains(house), "raw ids must not become metric labels")
        }
    }

    @Test("every route the server answers is in /openapi.json, and every documented route exists")
    func openAPIMatchesRoutes() async throws {
        try await APIFixture.with(.sqlite) { api in
            let reply = try await api.call(.get, "/openapi.json")
            #expect(reply.status == .ok)
            #expect(reply.object["openapi"] as? String == "3.1.0")
            let paths = try #require(reply.object["paths"] as? [String: [String: Any]])
            var documented = Set<String>()
            for (path, operations) in paths {
                for method in operations.keys { documented.insert("\(method.uppercased()) \(path)") }
            }
            let served = Set(api.routes.map { "\($0.method) \($0.path)" })
            #expect(served.count > 40)
            #expect(served.subtracting(documented).isEmpty, "undocumented: \(served.subtracting(documented).sorted())")
            #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted())")
            let schemas = try #require((reply.object["components"] as? [String: Any])?["schemas"] as? [String: Any])
            for (_, operations) in paths {
                for (_, operation) in operations {
                    let op = operation as! [String: Any]
                    if let ref =
                        (((op["requestBody"] as? [String: Any])?["content"] as? [String: Any])?["application/json"]
                        as? [String: Any])?["schema"] as? [String: String]
                    {
                        let name = ref["$ref"]!.replacingOccurrences(of: "#/components/schemas/", with: "")
                        #expect(schemas[name] != nil, "missing schema \(name)")
                    }
                }
            }
        }
    }
}
