import CourtyardTestSupport
import HTTPTypes
import Testing

@Suite("Bad input")
struct BadInputTests {
    @Test(
        "malformed, incomplete or out-of-range bodies get problem JSON naming the field and write nothing",
        arguments: TestEngine.available)
    func badBodiesAreRefused(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let token = try await api.login("admin@alpha")
            let building = try await api.first("buildings", token: token)["id"] as! String
            let before = try await api.tableCounts()

            let malformed = try await api.call(.post, "/api/v1/houses", token: token, raw: #"{"building_id": "#)
            #expect(malformed.status == .badRequest)
            #expect(malformed.code == "malformed_json")
            #expect(malformed.headers[.contentType] == "application/problem+json")

            let missing = try await api.call(
                .post, "/api/v1/houses", token: token,
                json: [
                    "building_id": building, "built_area": "80.00", "indoor_area": "70.00",
                ])
            #expect(missing.status == .unprocessableContent)
            #expect(missing.code == "validation_failed")
            #expect(missing.fields == ["number"])

            let negative = try await api.call(
                .post, "/api/v1/houses", token: token,
                json: [
                    "building_id": building, "number": "N-1", "built_area": -5, "indoor_area": "70.00",
                ])
            #expect(negative.status == .unprocessableContent)
            #expect(negative.fields.contains("built_area"))
            let issue = (negative.object["errors"] as? [[String: Any]])?.first { $0["field"] as? String == "built_area" }
            #expect(issue?["code"] as? String == "must_be_positive")

            let tooPrecise = try await api.call(
                .post, "/api/v1/houses", token: token,
                json: [
                    "building_id": building, "number": "N-2", "built_area": "80.005", "indoor_area": "70",
                ])
            #expect(tooPrecise.status == .unprocessableContent)
            #expect(tooPrecise.fields == ["built_area"])

            let wrongType = try await api.call(.post, "/api/v1/buildings", token: token, json: ["community_id": 42, "name": "X"])
            #expect(wrongType.status == .unprocessableContent)
            #expect(wrongType.fields == ["community_id"])

            let badEnum = try await api.call(
                .post, "/api/v1/houses", token: token,
                json: [
                    "building_id": building, "number": "N-3", "built_area": "80", "indoor_area": "70", "house_type": "castle",
                ])
            #expect(badEnum.status == .unprocessableContent)
            #expect(badEnum.fields == ["house_type"])

            let several = try await api.call(
                .post, "/api/v1/houses", token: token,
                json: [
                    "building_id": building, "number": " ", "built_area": "0", "indoor_area": "0",
                ])
            #expect(Set(several.fields) == ["number", "built_area", "indoor_area"])

            let notObject = try await api.call(.post, "/api/v1/houses", token: token, raw: "[1, 2]")
            #expect(notObject.status == .badRequest)

            let empty = try await api.call(.post, "/api/v1/houses", token: token, raw: "")
            #expect(empty.status == .badRequest)

            let badDate = try await api.call(
                .post, "/api/v1/occupancies", token: token,
                json: [
                    "house_id": "x", "person_id": "y", "role": "owner", "valid_from": "2026-02-30",
                ])
            #expect(badDate.fields == ["valid_from"])

            let badLimit = try await api.call(.get, "/api/v1/houses?limit=0", token: token)
            #expect(badLimit.status == .unprocessableContent)
            #expect(badLimit.fields == ["limit"])

            // Unknown filters and malformed cursors are refused by name, on every list (not answered with other rows or nothing).
            let unknownFilter = try await api.call(.get, "/api/v1/houses?number=201", token: token)
            #expect(unknownFilter.status == .unprocessableContent)
            #expect(unknownFilter.code == "validation_failed")
            #expect(unknownFilter.fields == ["number"])
            for path in ["houses", "people", "bills", "payments", "devices", "held-readings", "device-presence"] {
                let garbage = try await api.call(.get, "/api/v1/\(path)?cursor=not-a-cursor", token: token)
                #expect(garbage.status == .unprocessableContent, "\(path): \(garbage.status) \(garbage.text)")
                #expect(garbage.fields == ["cursor"], "\(path)")
            }
            let unknownOnOther = try await api.call(.get, "/api/v1/payments?amount=5", token: token)
            #expect(unknownOnOther.fields == ["amount"])

            let unknownRoute = try await api.call(.get, "/api/v1/nothing-here", token: token)
            #expect(unknownRoute.status == .notFound)
            #expect(unknownRoute.code == "route_not_found")

            #expect(try await api.tableCounts() == before)
        }
    }
}

@Suite("Errors that speak to people")
struct ReadableErrorTests {
    @Test(
        "problem details never carry Swift internals; a known path with another method is 405; the API root answers",
        arguments: TestEngine.available)
    func problemsReadWell(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let token = try await api.login("admin@alpha")
            let building = try await api.first("buildings", token: token)["id"] as! String
            let replies = [
                try await api.call(
                    .post, "/api/v1/houses", token: token,
                    json: [
                        "building_id": building, "number": "N-9", "built_area": "80", "indoor_area": "70", "house_type": "castle",
                    ]),
                try await api.call(.post, "/api/v1/houses", token: token, raw: #"{"building_id": "x",, }"#),
                try await api.call(.post, "/api/v1/houses", token: token, raw: "null"),
                try await api.call(.post, "/api/v1/houses", token: token, json: ["building_id": ["a"], "number": 5]),
                try await api.call(.patch, "/api/v1/buildings/\(building)", token: token, raw: "{nope"),
                try await api.call(.get, "/api/v1/houses/00000000-0000-7000-8000-000000000000", token: token),
                try await api.call(.get, "/api/v1/people/00000000-0000-7000-8000-000000000000", token: token),
                try await api.call(.get, "/api/v1/communities/00000000-0000-7000-8000-000000000000", token: token),
            ]
            for reply in replies {
                #expect(reply.status.code >= 400 && reply.status.code < 500)
                for leak in [
                    "Swift.", "DecodingError", "Cannot initialize", "dataCorrupted", "CodingKeys", "Optional(", "no peopl ",
                    "no communitie ",
                ] {
                    #expect(!reply.text.contains(leak), "\(leak) in \(reply.text)")
                }
            }
            #expect(replies[0].text.contains(#"\"castle\" is not one of the allowed values"#))
            #expect(replies[6].text.contains("No person"))
            #expect(replies[7].text.contains("No community"))

            let wrongMethod = try await api.call(.delete, "/api/v1/me", token: token)
            #expect(wrongMethod.status == .methodNotAllowed)
            #expect(wrongMethod.code == "method_not_allowed")
            #expect(wrongMethod.headers[.allow] == "GET")
            #expect(try await api.call(.get, "/api/v1/nothing-at-all", token: token).status == .notFound)
            let index = try await api.call(.get, "/api/v1")
            #expect(index.status == .ok)
            #expect(index.object["openapi"] as? String == "/openapi.json")
        }
    }
}
