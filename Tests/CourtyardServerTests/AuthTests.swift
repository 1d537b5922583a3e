import CourtyardDomain
import CourtyardSimulator
import CourtyardTestSupport
import Foundation
import HTTPTypes
import Testing

@Suite("Authentication and roles")
struct AuthTests {
    @Test("requests without a valid token are refused with problem JSON", arguments: TestEngine.available)
    func tokensAreRequired(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let anonymous = try await api.call(.get, "/api/v1/houses")
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.code == "unauthenticated")
            let forged = try await api.call(.get, "/api/v1/houses", token: "not-a-token")
            #expect(forged.status == .unauthorized)
            #expect(forged.code == "invalid_token")
            let wrong = try await api.call(.post, "/api/v1/auth/login", json: ["login": "admin@alpha", "password": "wrong-password"])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.code == "invalid_credentials")
            let unknown = try await api.call(.post, "/api/v1/auth/login", json: ["login": "nobody", "password": "whatever1"])
            #expect(unknown.code == "invalid_credentials")
        }
    }

    @Test("signing out ends the session", arguments: TestEngine.available)
    func logout(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let token = try await api.login("finance@alpha")
            #expect(try await api.call(.get, "/api/v1/me", token: token).status == .ok)
            #expect(try await api.call(.post, "/api/v1/auth/logout", token: token).status == .noContent)
            #expect(try await api.call(.get, "/api/v1/me", token: token).status == .unauthorized)
        }
    }

    @Test("a session stops working when it expires", arguments: TestEngine.available)
    func sessionsExpire(engine: TestEngine) async throws {
        let clock = ManualClock(Date())
        try await APIFixture.with(engine, clock: clock) { api in
            let token = try await api.login("finance@alpha")
            clock.advance(seconds: 8 * 3600 - 60)
            #expect(try await api.call(.get, "/api/v1/me", token: token).status == .ok)
            clock.advance(seconds: 61)
            let expired = try await api.call(.get, "/api/v1/me", token: token)
            #expect(expired.status == .unauthorized)
            #expect(expired.code == "invalid_token")
        }
    }

    @Test("repeated failed sign-ins are throttled, even with the right password", arguments: TestEngine.available)
    func loginRateLimit(engine: TestEngine) async throws {
        try await APIFixture.with(engine, maxFailedLogins: 3) { api in
            for _ in 0..<3 {
                let reply = try await api.call(.post, "/api/v1/auth/login", json: ["login": "admin@alpha", "password": "guess-guess"])
                #expect(reply.status == .unauthorized)
            }
            let blocked = try await api.call(.post, "/api/v1/auth/login", json: ["login": "admin@alpha", "password": DemoSeeder.password])
            #expect(blocked.status == .tooManyRequests)
            #expect(blocked.code == "too_many_login_attempts")
            #expect(blocked.headers[.retryAfter] != nil)
            // Another login is not blocked by failures of this one.
            _ = try await api.login("finance@alpha")
        }
    }

    /// (login, method, path builder, expected status): the role matrix as the API enforces it.
    @Test("each role can do what the permission matrix allows and nothing else", arguments: TestEngine.available)
    func roleMatrixOverHTTP(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let admin = try await api.login("admin@alpha")
            let community = try await api.first("communities", token: admin)["id"] as! String
            let building = try await api.first("buildings", token: admin)["id"] as! String
            let device: [String: Any] = [
                "community_id": community, "device_key": "new-meter-\(Int.random(in: 0..<1_000_000))",
                "kind": "water_meter",
            ]
            let house: [String: Any] = [
                "building_id": building, "number": "R-\(Int.random(in: 0..<1_000_000))",
                "built_area": "90.00", "indoor_area": "75.00",
            ]
            let person: [String: Any] = ["community_id": community, "name": "李娜"]
            let cases: [(String, HTTPRequest.Method, String, [String: Any]?, HTTPResponse.Status)] = [
                ("finance@alpha", .get, "/api/v1/houses", nil, .ok),
                ("finance@alpha", .post, "/api/v1/devices", device, .forbidden),
                ("finance@alpha", .post, "/api/v1/houses", house, .forbidden),
                ("finance@alpha", .get, "/api/v1/users", nil, .ok),
                (
                    "finance@alpha", .post, "/api/v1/users", ["login": "x1", "password": "longenough", "display_name": "x", "role": "finance"],
                    .forbidden
                ),
                ("engineer@alpha", .post, "/api/v1/houses", house, .forbidden),
                ("engineer@alpha", .get, "/api/v1/people", nil, .forbidden),
                ("engineer@alpha", .post, "/api/v1/devices", device, .created),
                ("frontdesk@alpha", .post, "/api/v1/devices", device, .forbidden),
                ("frontdesk@alpha", .post, "/api/v1/people", person, .created),
                ("frontdesk@alpha", .get, "/api/v1/devices", nil, .ok),
                ("owner@alpha", .get, "/api/v1/houses", nil, .forbidden),
                ("owner@alpha", .get, "/api/v1/people", nil, .forbidden),
                ("owner@alpha", .get, "/api/v1/me/houses", nil, .ok),
                ("admin@alpha", .post, "/api/v1/houses", house, .created),
                ("admin@alpha", .get, "/api/v1/companies", nil, .forbidden),
                ("platform", .get, "/api/v1/companies", nil, .ok),
                ("platform", .get, "/api/v1/houses", nil, .badRequest),
            ]
            var tokens: [String: String] = [:]
            for (login, method, path, body, expected) in cases {
                let token: String
                if let known = tokens[login] {
                    token = known
                } else if login == "platform" {
                    token = try await api.login("platform-alpha-test")
                    tokens[login] = token
                } else {
                    token = try await api.login(login)
                    tokens[login] = token
                }
                let reply = try await api.call(method, path, token: token, json: body)
                #expect(reply.status == expected, "\(login) \(method) \(path): \(reply.text)")
                if expected == .forbidden { #expect(reply.code == "forbidden") }
            }
        }
    }

    @Test("owners see exactly the houses they currently hold", arguments: TestEngine.available)
    func ownerSeesOwnHouses(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let owner = try await api.login("owner@alpha")
            let me = try await api.call(.get, "/api/v1/me", token: owner)
            let person = try #require((me.object["user"] as? [String: Any])?["person_id"] as? String)
            let houses = try await api.call(.get, "/api/v1/me/houses", token: owner)
            #expect(houses.status == .ok)
            let admin = try await api.login("admin@alpha")
            let links = try await api.call(.get, "/api/v1/occupancies?person_id=\(person)", token: admin)
            let expected = Set(links.items.compactMap { $0["house_id"] as? String })
            #expect(!expected.isEmpty)
            #expect(Set(houses.items.compactMap { $0["id"] as? String }) == expected)
        }
    }

    @Test("the platform administrator creates a company whose admin starts with an empty company", arguments: TestEngine.available)
    func platformCreatesCompany(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let platform = try await api.login("platform-alpha-test")
            let created = try await api.call(
                .post, "/api/v1/companies", token: platform,
                json: [
                    "code": "charlie", "name": "Charlie 物业",
                    "admin": ["login": "admin@charlie", "password": "charlie-secret", "display_name": "Admin", "role": "company_admin"],
                ])
            #expect(created.status == .created, "\(created.text)")
            let charlie = try await api.login("admin@charlie", password: "charlie-secret")
            let communities = try await api.call(.get, "/api/v1/communities", token: charlie)
            #expect(communities.status == .ok)
            #expect(communities.items.isEmpty)
            let picked = try await api.call(
                .get, "/api/v1/communities", token: platform,
                headers: ["X-Courtyard-Company": api.alpha.companyId])
            #expect(picked.items.count == 2)
            let weak = try await api.call(
                .post, "/api/v1/users", token: charlie,
                json: [
                    "login": "x@charlie", "password": "short", "display_name": "X", "role": "finance",
                ])
            #expect(weak.fields == ["password"])
        }
    }
}
