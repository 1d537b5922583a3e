import CourtyardTestSupport
import Foundation
import HTTPTypes
import Testing

/// The same odd body gets the same answer on every route that takes JSON.
@Suite("Request bodies")
struct BodyConsistencyTests {
    @Test(
        "null bodies, trailing commas, byte-order marks, duplicate keys and non-JSON content types are handled the same way on every route",
        arguments: TestEngine.available)
    func oddBodiesAreHandledAlike(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let admin = try await api.login("admin@alpha")
            let house = try await api.first("houses", token: admin)["id"] as! String
            let routes = ["/api/v1/houses", "/api/v1/readings", "/api/v1/houses/\(house)/top-ups", "/api/v1/refunds", "/api/v1/buildings"]
            // (what, body, content type, the status and code every route must give)
            let bodies: [(String, String, String?, Int, String?)] = [
                ("null", "null", nil, 400, "malformed_json"),
                ("a bare number", "42", nil, 400, "malformed_json"),
                ("trailing comma in an object", #"{"a": 1,}"#, nil, 400, "malformed_json"),
                ("trailing comma in an array", #"[{"a": 1},]"#, nil, 400, "malformed_json"),
                ("duplicate keys", #"{"a": 1, "a": 2}"#, nil, 400, "malformed_json"),
                ("a NUL escape", #"{"a": "x\u0000"}"#, nil, 422, "control_character"),
                ("form content type", "a=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
                ("text content type", "{}", "text/plain", 415, "unsupported_media_type"),
            ]
            let before = try await api.tableCounts()
            for (name, body, contentType, status, code) in bodies {
                for route in routes {
                    let reply = try await api.call(
                        .post, route, token: admin, raw: body,
                        headers: contentType.map { ["Content-Type": $0] } ?? [:])
                    #expect(Int(reply.status.code) == status && reply.code == code, "\(name) on \(route): \(reply.status) \(reply.text)")
                }
            }
            // A byte-order mark is ignored everywhere: the body is read as if it were not there.
            for route in routes {
                let withMark = try await api.call(.post, route, token: admin, raw: "\u{FEFF}{}")
                let without = try await api.call(.post, route, token: admin, raw: "{}")
                #expect(withMark.status == without.status && withMark.code == without.code, "byte-order mark on \(route)")
            }
            #expect(try await api.tableCounts() == before)
        }
    }
}
