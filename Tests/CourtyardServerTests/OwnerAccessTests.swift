import CourtyardDomain
import CourtyardSimulator
import CourtyardTestSupport
import Foundation
import HTTPTypes
import Testing

/// What an owner sees: their current houses' bills, community, building and usage, from their move-in on; nothing else.
@Suite("Owner access")
struct OwnerAccessTests {
    struct Setting {
        var owner: String
        var admin: String
        var house: String
        var otherHouse: String
        var community: String
        var building: String
    }

    static func setting(_ api: APIFixture) async throws -> Setting {
        let owner = try await api.login("owner@alpha")
        let admin = try await api.login("admin@alpha")
        let houses = try await api.call(.get, "/api/v1/me/houses", token: owner).items
        let house = try #require(houses.first)
        let all = try await api.call(.get, "/api/v1/houses?limit=500", token: admin).items
        let mine = Set(houses.compactMap { $0["id"] as? String })
        let other = try #require(all.first { !mine.contains($0["id"] as? String ?? "") })
        return Setting(
            owner: owner, admin: admin, house: house["id"] as! String, otherHouse: other["id"] as! String,
            community: house["community_id"] as! String, building: house["building_id"] as! String)
    }

    @Test("an owner reads their house's bills, community and building, and no one else's", arguments: TestEngine.available)
    func ownerReadsOwnBillsCommunityBuilding(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let s = try await Self.setting(api)
            #expect(try await api.call(.get, "/api/v1/bills?house_id=\(s.house)", token: s.owner).status == .ok)
            let mine = try await api.call(.get, "/api/v1/bills", token: s.owner)
            #expect(mine.status == .unprocessableContent)
            #expect(mine.fields == ["house_id"])
            #expect(try await api.call(.get, "/api/v1/bills?house_id=\(s.otherHouse)", token: s.owner).status == .notFound)
            #expect(try await api.call(.get, "/api/v1/communities/\(s.community)", token: s.owner).status == .ok)
            #expect(try await api.call(.get, "/api/v1/buildings/\(s.building)", token: s.owner).status == .ok)
            let communities = try await api.call(.get, "/api/v1/communities?limit=10", token: s.admin).items.compactMap { $0["id"] as? String }
            for other in communities where other != s.community {
                #expect(try await api.call(.get, "/api/v1/communities/\(other)", token: s.owner).status == .notFound)
            }
            #expect(try await api.call(.get, "/api/v1/communities", token: s.owner).status == .forbidden)
        }
    }

    @Test("a past occupant reads nothing of the house any more: usage, bills, payments, prepaid", arguments: TestEngine.available)
    func pastOccupantIsRefused(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let s = try await Self.setting(api)
            let from = "2026-11-01T00:00:00Z", to = "2026-11-02T00:00:00Z"
            #expect(try await api.call(.get, "/api/v1/houses/\(s.house)/usage?kind=electricity&from=\(from)&to=\(to)", token: s.owner).status == .ok)
            let links = try await api.call(.get, "/api/v1/occupancies?house_id=\(s.house)", token: s.admin).items
            for link in links {
                let id = link["id"] as! String
                let ended = try await api.call(
                    .patch, "/api/v1/occupancies/\(id)", token: s.admin,
                    json: [
                        "valid_until": LocalDate.of(Date(), timeZone: "Asia/Shanghai").adding(days: -1).description,
                        "valid_from": "2020-01-01",
                    ])
                #expect(ended.status == .ok, "\(ended.text)")
            }
            for path in [
                "houses/\(s.house)/usage?kind=electricity&from=\(from)&to=\(to)", "houses/\(s.house)/usage/summary?kind=electricity",
                "bills?house_id=\(s.house)", "payments?house_id=\(s.house)", "houses/\(s.house)/prepaid",
                "communities/\(s.community)",
            ] {
                let reply = try await api.call(.get, "/api/v1/\(path)", token: s.owner)
                #expect(reply.status == .notFound, "\(path): \(reply.status)")
            }
        }
    }

    @Test(
        "the usage summary compares this month so far with the same days of last month and estimates the month's end",
        arguments: TestEngine.available)
    func usageSummary(engine: TestEngine) async throws {
        // 16 November 2026, 12:00 in Shanghai: 15.5 of November's 30 days have passed.
        let clock = ManualClock(Date(timeIntervalSince1970: 1_794_801_600))
        try await APIFixture.with(engine, clock: clock) { api in
            let s = try await Self.setting(api)
            var meter: String? = nil
            for binding in try await api.call(.get, "/api/v1/device-bindings?target_id=\(s.house)", token: s.admin).items {
                let device = try await api.call(.get, "/api/v1/devices/\(binding["device_id"] as! String)", token: s.admin).object
                if device["kind"] as? String == "electricity_meter" { meter = device["device_key"] as? String }
            }
            let meterKey = try #require(meter)
            let readings: [[String: Any]] = [
                ["device_id": meterKey, "reading": "100", "measured_at": "2026-09-30T16:00:00Z"],  // 1 October 00:00 local
                ["device_id": meterKey, "reading": "130", "measured_at": "2026-10-16T04:00:00Z"],  // 16 October 12:00
                ["device_id": meterKey, "reading": "160", "measured_at": "2026-10-31T16:00:00Z"],  // 1 November 00:00
                ["device_id": meterKey, "reading": "190", "measured_at": "2026-11-16T04:00:00Z"],  // now
            ]
            let posted = try await api.call(.post, "/api/v1/readings", token: s.admin, json: readings)
            #expect(posted.status.code < 300, "\(posted.text)")
            let reply = try await api.call(.get, "/api/v1/houses/\(s.house)/usage/summary?kind=electricity", token: s.owner)
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(reply.object["month"] as? String == "2026-11")
            #expect(reply.object["month_to_date"] as? String == "30.000")
            #expect(reply.object["last_month_same_days"] as? String == "30.000")
            #expect(reply.object["last_month"] as? String == "60.000")
            #expect(reply.object["change_percent"] as? String == "0.0")
            // 30 kWh in 15.5 days → 30 × 30 / 15.5 = 58.0645… → 58.064 (floor).
            #expect(reply.object["month_end_estimate"] as? String == "58.064")
            let month = try await api.call(
                .get, "/api/v1/houses/\(s.house)/usage?kind=electricity&granularity=month&from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z",
                token: s.owner)
            #expect(month.status == .unprocessableContent)
            #expect(month.fields == ["granularity"])
        }
    }
}
