import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import HTTPTypes
import Testing

@Suite("API tenant isolation")
struct TenantIsolationAPITests {
    static let collections = [
        "communities", "buildings", "units", "houses", "people", "occupancies", "vehicles",
        "parking-spaces", "devices", "device-bindings",
    ]

    @Test("a user of company A gets 404 for every object of company B, and writes nothing", arguments: TestEngine.available)
    func otherCompanyIsInvisible(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let alpha = try await api.login("admin@alpha")
            let bravo = try await api.login("admin@bravo")
            let before = try await api.tableCounts()
            for collection in Self.collections {
                let victim = try await api.first(collection, token: bravo)
                let id = try #require(victim["id"] as? String)
                let get = try await api.call(.get, "/api/v1/\(collection)/\(id)", token: alpha)
                #expect(get.status == .notFound, "GET \(collection): \(get.text)")
                #expect(get.code == "not_found")
                let patch = try await api.call(.patch, "/api/v1/\(collection)/\(id)", token: alpha, json: ["name": "taken over"])
                #expect(patch.status == .notFound, "PATCH \(collection): \(patch.text)")
                let delete = try await api.call(.delete, "/api/v1/\(collection)/\(id)", token: alpha)
                #expect(delete.status == .notFound, "DELETE \(collection): \(delete.text)")
                let list = try await api.call(.get, "/api/v1/\(collection)?limit=500", token: alpha)
                #expect(list.status == .ok)
                #expect(!list.items.isEmpty)
                #expect(list.items.allSatisfy { ($0["company_id"] as? String) == api.alpha.companyId }, "\(collection) leaks")
                // Filtering by B's ids finds nothing either.
                if let community = victim["community_id"] as? String {
                    let filtered = try await api.call(.get, "/api/v1/\(collection)?community_id=\(community)", token: alpha)
                    #expect(filtered.items.isEmpty, "\(collection) filtered by B's community")
                }
            }
            let device = try await api.first("devices", token: bravo)
            let credential = try await api.call(.post, "/api/v1/devices/\(device["id"] as! String)/credentials", token: alpha)
            #expect(credential.status == .notFound)
            #expect(try await api.tableCounts() == before)
        }
    }

    @Test("records cannot point at another company's records", arguments: TestEngine.available)
    func crossCompanyReferencesAreRefused(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let alpha = try await api.login("admin@alpha")
            let bravo = try await api.login("admin@bravo")
            let bravoCommunity = try await api.first("communities", token: bravo)["id"] as! String
            let bravoBuilding = try await api.first("buildings", token: bravo)["id"] as! String
            let bravoHouse = try await api.first("houses", token: bravo)["id"] as! String
            let alphaPerson = try await api.first("people", token: alpha)["id"] as! String
            let alphaDevice = try await api.first("devices", token: alpha)["id"] as! String
            let before = try await api.tableCounts()

            let building = try await api.call(.post, "/api/v1/buildings", token: alpha, json: ["community_id": bravoCommunity, "name": "X"])
            #expect(building.status == .unprocessableContent)
            #expect(building.fields == ["community_id"])
            let house = try await api.call(
                .post, "/api/v1/houses", token: alpha,
                json: [
                    "building_id": bravoBuilding, "number": "1", "built_area": "80", "indoor_area": "70",
                ])
            #expect(house.status == .unprocessableContent)
            #expect(house.fields == ["building_id"])
            let occupancy = try await api.call(
                .post, "/api/v1/occupancies", token: alpha,
                json: [
                    "house_id": bravoHouse, "person_id": alphaPerson, "role": "owner", "valid_from": "2026-01-01",
                ])
            #expect(occupancy.fields == ["house_id"])
            let binding = try await api.call(
                .post, "/api/v1/device-bindings", token: alpha,
                json: [
                    "device_id": alphaDevice, "target_kind": "house", "target_id": bravoHouse, "valid_from": "2030-01-01",
                ])
            #expect(binding.status == .unprocessableContent)
            #expect(binding.fields == ["target_id"])
            #expect(try await api.tableCounts() == before)
        }
    }
}
