import CourtyardTestSupport
import Foundation
import HTTPTypes
import Testing

/// The front desk finds a house from whatever the visitor says.
@Suite("House search")
struct HouseSearchTests {
    @Test(
        "by number, building-unit-number, an occupant's name prefix or phone suffix, and a plate; never another company's",
        arguments: TestEngine.available)
    func frontDeskFindsHouses(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let desk = try await api.login("frontdesk@alpha")
            let admin = try await api.login("admin@alpha")
            let occupancy = try await api.first("occupancies", token: admin)
            let houseId = occupancy["house_id"] as! String
            let house = try await api.call(.get, "/api/v1/houses/\(houseId)", token: admin).object
            let number = house["number"] as! String
            let building = try await api.call(.get, "/api/v1/buildings/\(house["building_id"] as! String)", token: admin).object
            let person = try await api.call(.get, "/api/v1/people/\(occupancy["person_id"] as! String)", token: admin).object
            func found(_ q: String) async throws -> [[String: Any]] {
                let encoded = q.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? q
                let reply = try await api.call(.get, "/api/v1/house-search?q=\(encoded)", token: desk)
                #expect(reply.status == .ok, "\(q): \(reply.text)")
                return reply.items
            }
            func ids(_ items: [[String: Any]]) -> [String] { items.compactMap { ($0["house"] as? [String: Any])?["id"] as? String } }

            #expect(ids(try await found(number)).contains(houseId))
            var full = "\(building["name"] as! String)-\(number)"
            if let unit = house["unit_id"] as? String {
                let unitName = try await api.call(.get, "/api/v1/units/\(unit)", token: admin).object["name"] as! String
                full = "\(building["name"] as! String)-\(unitName)-\(number)"
            }
            let byFull = try await found(full)
            #expect(ids(byFull).contains(houseId), "\(full)")
            let name = person["name"] as! String
            let byName = try await found(String(name.prefix(2)))
            #expect(ids(byName).contains(houseId), "name prefix of \(name)")
            #expect(
                (byName.first { ($0["house"] as? [String: Any])?["id"] as? String == houseId }?["matched"] as? [String])?
                    .contains { $0.hasPrefix("name ") } == true)
            if let phone = person["phone"] as? String, phone.count >= 4 {
                #expect(ids(try await found(String(phone.suffix(4)))).contains(houseId), "phone suffix")
            }
            if let vehicle = try await api.call(.get, "/api/v1/vehicles?limit=1", token: admin).items.first,
                let plate = vehicle["plate"] as? String, let vehicleHouse = vehicle["house_id"] as? String
            {
                #expect(ids(try await found(plate)).contains(vehicleHouse), "plate \(plate)")
            }
            // Another company's occupant is not found by name; an empty query is refused by name.
            let bravo = try await api.login("admin@bravo")
            let other = try await api.first("people", token: bravo)["name"] as! String
            let otherIds = Set(try await api.call(.get, "/api/v1/houses?limit=500", token: bravo).items.compactMap { $0["id"] as? String })
            #expect(Set(ids(try await found(other))).isDisjoint(with: otherIds))
            let empty = try await api.call(.get, "/api/v1/house-search?q=", token: desk)
            #expect(empty.status == .unprocessableContent)
            #expect(empty.fields == ["q"])
        }
    }
}
