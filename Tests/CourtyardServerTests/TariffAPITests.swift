import CourtyardTestSupport
import HTTPTypes
import Testing

@Suite("Tariff quote API")
struct TariffAPITests {
    @Test("a quote shows every tier, and a bad rule names its field")
    func quote() async throws {
        try await APIFixture.with(.sqlite) { api in
            let token = try await api.login("frontdesk@alpha")
            let rule: [String: Any] = [
                "kind": "metered", "mode": "graduated", "accumulation": "annual", "unit": "kWh",
                "tiers": [["up_to": "2760", "price": "0.538"], ["up_to": "4800", "price": "0.588"], ["price": "0.838"]],
            ]
            let reply = try await api.call(.post, "/api/v1/tariffs/quote", token: token, json: ["rule": rule, "usage": "3000"])
            #expect(reply.status == .ok, "\(reply.text)")
            #expect((reply.object["amount"] as? [String: Any])?["amount"] as? String == "1626.00")
            #expect((reply.object["lines"] as? [[String: Any]])?.count == 2)

            var bad = rule
            bad["tiers"] = [["up_to": "2760", "price": "0.538"], ["up_to": "100", "price": "0.588"], ["price": "0.838"]]
            let refused = try await api.call(.post, "/api/v1/tariffs/quote", token: token, json: ["rule": bad, "usage": "1"])
            #expect(refused.status == .unprocessableContent)
            #expect(refused.fields == ["rule.tiers.1.up_to"])
            let precise = try await api.call(.post, "/api/v1/tariffs/quote", token: token, json: ["rule": rule, "usage": "1.0005"])
            #expect(precise.fields == ["usage"])
            let missing = try await api.call(.post, "/api/v1/tariffs/quote", token: token, json: ["rule": rule])
            #expect(missing.fields == ["usage"])
            let owner = try await api.login("owner@alpha")
            #expect(try await api.call(.post, "/api/v1/tariffs/quote", token: owner, json: ["rule": rule, "usage": "1"]).status == .forbidden)
        }
    }
}
