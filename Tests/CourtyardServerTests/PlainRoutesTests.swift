import CourtyardTestSupport
import Foundation
import HTTPTypes
import Testing

/// The routes without a body or parameters (health, metrics, the API index, sign-out) refuse what they do not take,
/// like every other route: an unknown query parameter is a 422 problem naming it, not silently ignored.
@Suite("Plain routes")
struct PlainRoutesTests {
    @Test("health, metrics, the API index and sign-out refuse an unknown query parameter by name", arguments: TestEngine.available)
    func unknownParameters(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            for (method, path) in [(HTTPRequest.Method.get, "/health"), (.get, "/metrics"), (.get, "/api/v1"), (.post, "/api/v1/auth/logout")] {
                let reply = try await api.call(method, "\(path)?verbose=1")
                #expect(reply.status == .unprocessableContent, "\(method) \(path): \(reply.text)")
                let issues = reply.object["errors"] as? [[String: Any]] ?? []
                #expect(reply.code == "validation_failed" && reply.fields == ["verbose"], "\(method) \(path): \(reply.text)")
                #expect(issues.first?["code"] as? String == "unknown_parameter", "\(method) \(path): \(reply.text)")
            }
        }
    }
}
