import CourtyardTestSupport
import Foundation
import HTTPTypes
import Testing

@Suite("Resource CRUD")
struct ResourceAPITests {
    @Test("a community is built top-down through the API and read back", arguments: TestEngine.available)
    func buildACommunity(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let token = try await api.login("admin@alpha")
            func create(_ path: String, _ body: [String: Any]) async throws -> [String: Any] {
                let reply = try await api.call(.post, "/api/v1/\(path)", token: token, json: body)
                #expect(reply.status == .created, "POST \(path): \(reply.text)")
                #expect(reply.headers[.location] != nil)
                return reply.object
            }
            let community = try await create("communities", ["code": "NEW", "name": "新城", "time_zone": "Asia/Shanghai"])
            let cid = community["id"] as! String
            #expect(community["currency"] as? String == "CNY")
            let building = try await create("buildings", ["community_id": cid, "name": "1幢", "floors": 11])
            let unit = try await create("units", ["building_id": building["id"]!, "name": "1单元"])
            #expect(unit["community_id"] as? String == cid)
            let house = try await create(
                "houses",
                [
                    "building_id": building["id"]!, "unit_id": unit["id"]!, "number": "101",
                    "built_area": 89.5, "indoor_area": "72.10", "floor": 1,
                ])
            #expect(house["built_area"] as? String == "89.50")
            #expect(house["community_id"] as? String == cid)
            #expect(house["status"] as? String == "vacant")
            let person = try await create("people", ["community_id": cid, "name": "王芳", "phone": "13900001111"])
            _ = try await create(
                "occupancies",
                [
                    "house_id": house["id"]!, "person_id": person["id"]!, "role": "owner",
                    "valid_from": "2026-01-01",
                ])
            let space = try await create("parking-spaces", ["community_id": cid, "code": "A-001", "kind": "owned", "house_id": house["id"]!])
            let vehicle = try await create(
                "vehicles",
                [
                    "community_id": cid, "plate": "浙a·123 45", "person_id": person["id"]!,
                    "parking_space_id": space["id"]!,
                ])
            #expect(vehicle["plate"] as? String == "浙A12345")
            let device = try await create(
                "devices",
                [
                    "community_id": cid, "device_key": "water_meter_102", "kind": "water_meter",
                    "protocol": "cjt188", "address": "00000000001402",
                ])
            _ = try await create(
                "device-bindings",
                [
                    "device_id": device["id"]!, "target_kind": "house", "target_id": house["id"]!,
                    "valid_from": "2026-01-01", "valid_until": "2026-07-01",
                ])
            _ = try await create(
                "device-bindings",
                [
                    "device_id": device["id"]!, "target_kind": "house", "target_id": house["id"]!,
                    "valid_from": "2026-07-01",
                ])
            let overlap = try await api.call(
                .post, "/api/v1/device-bindings", token: token,
                json: [
                    "device_id": device["id"]!, "target_kind": "house", "target_id": house["id"]!, "valid_from": "2026-03-01",
                    "valid_until": "2026-04-01",
                ])
            #expect(overlap.status == .conflict)
            #expect(overlap.code == "binding_overlap")

            let read = try await api.call(.get, "/api/v1/houses/\(house["id"] as! String)", token: token)
            #expect(read.object["number"] as? String == "101")
            let filtered = try await api.call(.get, "/api/v1/houses?community_id=\(cid)", token: token)
            #expect(filtered.items.map { $0["id"] as? String } == [house["id"] as? String])
        }
    }

    @Test("PATCH changes only the fields sent, refuses immutable ones, and null clears optional ones", arguments: TestEngine.available)
    func patchSemantics(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let token = try await api.login("admin@alpha")
            let house = try await api.first("houses", token: token)
            let id = house["id"] as! String
            let patched = try await api.call(.patch, "/api/v1/houses/\(id)", token: token, json: ["status": "rented", "floor": NSNull()])
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(patched.object["status"] as? String == "rented")
            #expect(patched.object["floor"] == nil)
            #expect(patched.object["built_area"] as? String == house["built_area"] as? String)
            #expect(patched.object["number"] as? String == house["number"] as? String)

            let other = try await api.call(.get, "/api/v1/buildings?limit=2", token: token).items.last!["id"] as! String
            let moved = try await api.call(.patch, "/api/v1/houses/\(id)", token: token, json: ["building_id": other])
            if other != house["building_id"] as? String {
                #expect(moved.status == .unprocessableContent)
                #expect(moved.fields == ["building_id"])
            }
            let shrunk = try await api.call(.patch, "/api/v1/houses/\(id)", token: token, json: ["built_area": "-5"])
            #expect(shrunk.status == .unprocessableContent)
            let after = try await api.call(.get, "/api/v1/houses/\(id)", token: token)
            #expect(after.object["built_area"] as? String == house["built_area"] as? String)
        }
    }

    @Test("unique keys and references are enforced with stable codes", arguments: TestEngine.available)
    func conflicts(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let token = try await api.login("admin@alpha")
            let house = try await api.first("houses", token: token)
            var twin: [String: Any] = [
                "building_id": house["building_id"]!, "number": house["number"]!,
                "built_area": "80", "indoor_area": "70",
            ]
            if let unit = house["unit_id"] { twin["unit_id"] = unit }
            let duplicate = try await api.call(.post, "/api/v1/houses", token: token, json: twin)
            #expect(duplicate.status == .conflict)
            #expect(duplicate.code == "already_exists")
            let building = house["building_id"] as! String
            let inUse = try await api.call(.delete, "/api/v1/buildings/\(building)", token: token)
            #expect(inUse.status == .conflict)
            #expect(inUse.code == "reference_violation")
            #expect(try await api.call(.get, "/api/v1/buildings/\(building)", token: token).status == .ok)
        }
    }

    @Test("cursor pagination through the API returns every row once", arguments: TestEngine.available)
    func paginationOverHTTP(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let token = try await api.login("admin@alpha")
            let all = try await api.call(.get, "/api/v1/devices?limit=500", token: token).items.compactMap { $0["id"] as? String }
            var seen: [String] = []
            var cursor: String? = nil
            repeat {
                let page = try await api.call(.get, "/api/v1/devices?limit=4" + (cursor.map { "&cursor=\($0)" } ?? ""), token: token)
                seen += page.items.compactMap { $0["id"] as? String }
                cursor = page.object["next_cursor"] as? String
            } while cursor != nil
            #expect(seen == all)
            #expect(all.count > 4)
        }
    }
}
