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

    @Test("a common-area binding's target_id (lift:<building>) is listed, and the document does not declare it a uuid")
    func bindingTargetsAreFreeForm() async throws {
        try await APIFixture.with(.sqlite) { api in
            let admin = try await api.login("admin@alpha")
            let buildingRow = try #require(try await api.first("buildings", token: admin))
            let building = try #require(buildingRow["id"] as? String)
            let meter = try await api.call(
                .post, "/api/v1/devices", token: admin,
                json: [
                    "community_id": try #require(buildingRow["community_id"] as? String), "device_key": "lift-meter-1", "kind": "electricity_meter",
                ])
            #expect(meter.status == .created, "\(meter.text)")
            let created = try await api.call(
                .post, "/api/v1/device-bindings", token: admin,
                json: [
                    "device_id": try #require(meter.object["id"] as? String), "target_kind": "common_area", "target_id": "lift:\(building)",
                    "valid_from": "2026-01-01",
                ])
            #expect(created.status == .created, "\(created.text)")
            let listed = try await api.call(.get, "/api/v1/device-bindings?target_kind=common_area", token: admin)
            #expect(listed.items.contains { $0["target_id"] as? String == "lift:\(building)" }, "\(listed.text)")
            let document = try await api.call(.get, "/openapi.json")
            let schemas = try #require((document.object["components"] as? [String: Any])?["schemas"] as? [String: Any])
            for name in ["DeviceBinding", "DeviceBindingInput"] {
                let properties = try #require((schemas[name] as? [String: Any])?["properties"] as? [String: Any], "\(name)")
                let target = try #require(properties["target_id"] as? [String: Any], "\(name)")
                #expect(target["format"] == nil, "\(name).target_id is declared \(target["format"] ?? "")")
                #expect((properties["device_id"] as? [String: Any])?["format"] as? String == "uuid", "other ids keep their format")
            }
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
            // The browser's pages (docs/WEB.md) answer HTML to people, not the API's JSON: they are not operations.
            let pages = ["/", "/login", "/logout", "/language", "/static/", "/favicon.ico", "/portal", "/console"]
            let served = Set(
                api.routes.filter { route in !pages.contains { $0 == route.path || ($0 != "/" && route.path.hasPrefix($0)) } }
                    .map { "\($0.method) \($0.path)" })
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
