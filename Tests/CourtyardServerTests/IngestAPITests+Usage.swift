import CourtyardDomain
import CourtyardIngest
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import HTTPTypes
import SQLKit
import Testing

extension IngestAPITests {
    static func post(_ api: APIFixture, _ token: String, _ items: [[String: Any]]) async throws -> [[String: Any]] {
        let reply = try await api.call(.post, "/api/v1/readings", token: token, json: items)
        #expect(reply.status == .ok, "\(reply.text)")
        return reply.items
    }

    static func reading(_ key: String, _ value: String, _ at: String, _ register: String = "energy_total") -> [String: Any] {
        ["device_id": key, "register": register, "reading": value, "measured_at": at]
    }

    @Test("a late reading splits its neighbour's interval, and the usages still add up", arguments: TestEngine.available)
    func lateReadings(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(Self.start)) { api in
            let token = try await api.login("engineer@alpha")
            let (id, key) = try await Self.meter(api, token)
            _ = try await Self.post(api, token, [Self.reading(key, "100", "2026-10-01T00:00:00Z"), Self.reading(key, "130", "2026-10-03T00:00:00Z")])
            let late = try await Self.post(api, token, [Self.reading(key, "110.5", "2026-10-02T00:00:00Z")])
            #expect(late.first?["usage"] as? String == "10.500")
            let page = try await api.call(.get, "/api/v1/readings?device_id=\(id)", token: token)
            #expect(page.items.map { $0["usage"] as? String ?? "-" } == ["-", "10.500", "19.500"], "in measurement order")
            let daily = try await api.call(
                .get, "/api/v1/devices/\(id)/usage?from=2026-10-01T00:00:00%2B08:00&to=2026-10-04T00:00:00%2B08:00&granularity=day",
                token: token)
            #expect(daily.status == .ok, "\(daily.text)")
            #expect(daily.object["total"] as? String == "30.000")
            // A lower reading after a higher one is held, not billed: the register cannot fall.
            let fall = try await Self.post(api, token, [Self.reading(key, "120", "2026-10-04T00:00:00Z")])
            #expect(fall.first?["status"] as? String == "held_for_review")
            #expect(fall.first?["code"] as? String == "negative_delta")
            // A reading slotted between two that would make the later one fall is held too.
            let between = try await Self.post(api, token, [Self.reading(key, "200", "2026-10-02T12:00:00Z")])
            #expect(between.first?["code"] as? String == "negative_delta")
            // The engineer rejects the fallen reading: it is never billed, the readings stay as they were, the decision stands.
            let heldId = try #require(fall.first?["held_id"] as? String)
            let rejected = try await api.call(.post, "/api/v1/held-readings/\(heldId)/reject", token: token, json: ["note": "misread at the door"])
            #expect(rejected.status == .ok, "\(rejected.text)")
            let after = try await api.call(.get, "/api/v1/readings?device_id=\(id)", token: token)
            #expect(after.items.map { $0["usage"] as? String ?? "-" } == ["-", "10.500", "19.500"])
            let again = try await api.call(.post, "/api/v1/held-readings/\(heldId)/approve", token: token, json: ["note": "changed my mind"])
            #expect(again.code == "already_decided", "\(again.text)")
        }
    }

    @Test("a register that wraps past its modulus keeps counting; a meter replacement bridges old and new", arguments: TestEngine.available)
    func rolloverAndReplacement(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(Self.start)) { api in
            let token = try await api.login("engineer@alpha")
            let (id, key) = try await Self.meter(api, token)
            let patch = try await api.call(.patch, "/api/v1/devices/\(id)", token: token, json: ["register_modulus": "1000000"])
            #expect(patch.status == .ok, "\(patch.text)")
            let wrap = try await Self.post(
                api, token,
                [
                    Self.reading(key, "999990", "2026-10-01T00:00:00Z"),
                    Self.reading(key, "5.25", "2026-10-02T00:00:00Z"),
                ])
            #expect(wrap.map { $0["usage"] as? String ?? "-" } == ["-", "15.250"])
            // The meter is swapped: the old one ended at 20.00, the new one starts at 0.
            let held = try await Self.post(api, token, [Self.reading(key, "3", "2026-10-04T00:00:00Z")])
            #expect(held.first?["code"] as? String == "negative_delta")
            let heldId = try #require(held.first?["held_id"] as? String)
            let refused = try await api.call(.post, "/api/v1/held-readings/\(heldId)/approve", token: token, json: ["note": "looks fine"])
            #expect(refused.status == .unprocessableContent)
            #expect(refused.code == "still_implausible")
            let later = try await Self.post(api, token, [Self.reading(key, "5", "2026-10-05T00:00:00Z")])
            #expect(later.first?["code"] as? String == "negative_delta")
            // Recording the swap accepts the readings it explains, in time order, on the record.
            let swap = try await api.call(
                .post, "/api/v1/meter-replacements", token: token,
                json: [
                    "device_id": id, "replaced_at": "2026-10-03T00:00:00Z", "old_final": "20", "new_start": "0", "reason": "display broken",
                ])
            #expect(swap.status == .created, "\(swap.text)")
            #expect(swap.object["approved_held_readings"] as? [String] == [heldId, later.first?["held_id"] as! String])
            let page = try await api.call(.get, "/api/v1/readings?device_id=\(id)&from=2026-10-04T00:00:00Z", token: token)
            // (20 − 5.25) + (3 − 0) = 17.75 across the swap, then 2.
            #expect(page.items.map { $0["usage"] as? String } == ["17.750", "2.000"])
            let again = try await api.call(.post, "/api/v1/held-readings/\(heldId)/approve", token: token, json: ["note": "twice"])
            #expect(again.code == "already_decided")
            let audit = try await Self.count(api, "audit_log")
            #expect(audit >= 2, "the replacement and the approval are audited")
        }
    }

    @Test("a conflicting duplicate is held; approving it supersedes the stored reading on the record", arguments: TestEngine.available)
    func conflicts(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(Self.start)) { api in
            let token = try await api.login("engineer@alpha")
            let (id, key) = try await Self.meter(api, token)
            _ = try await Self.post(
                api, token,
                [
                    Self.reading(key, "100", "2026-10-01T00:00:00Z"), Self.reading(key, "140", "2026-10-02T00:00:00Z"),
                    Self.reading(key, "150", "2026-10-03T00:00:00Z"),
                ])
            let conflict = try await Self.post(api, token, [Self.reading(key, "120", "2026-10-02T00:00:00Z")])
            #expect(conflict.first?["code"] as? String == "conflict")
            let replay = try await Self.post(api, token, [Self.reading(key, "120", "2026-10-02T00:00:00Z")])
            #expect(replay.first?["held_id"] as? String == conflict.first?["held_id"] as? String, "a held reading sent again is held once")
            let list = try await api.call(.get, "/api/v1/held-readings?status=pending", token: token)
            #expect(list.items.count == 1)
            let reject = try await api.call(
                .post, "/api/v1/held-readings/\(conflict.first!["held_id"]!)/approve", token: token,
                json: ["note": "the meter was re-read on site"])
            #expect(reject.status == .ok, "\(reject.text)")
            let page = try await api.call(.get, "/api/v1/readings?device_id=\(id)&from=2026-10-02T00:00:00Z&to=2026-10-04T00:00:00Z", token: token)
            #expect(page.items.map { "\($0["reading"]!):\($0["usage"]!)" }.sorted() == ["120.000:20.000", "150.000:30.000"])
            let superseded = try await api.call(.get, "/api/v1/held-readings?status=rejected", token: token)
            #expect(superseded.items.first?["reason"] as? String == "superseded")
            // A message id names one reading: the same id with other content is refused.
            let first = try await Self.post(
                api, token, [["device_id": key, "reading": "160", "measured_at": "2026-10-04T00:00:00Z", "message_id": "m-9"]])
            #expect(first.first?["status"] as? String == "accepted")
            let reused = try await Self.post(
                api, token, [["device_id": key, "reading": "161", "measured_at": "2026-10-05T00:00:00Z", "message_id": "m-9"]])
            #expect(reused.first?["code"] as? String == "idempotency_conflict")
        }
    }

    @Test("a seven-day offline backlog in one shuffled batch lands hour by hour, and replays change nothing", arguments: TestEngine.available)
    func backlog(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(Self.start)) { api in
            let token = try await api.login("engineer@alpha")
            let (id, key) = try await Self.meter(api, token)
            // Hourly readings for 7 days (Asia/Shanghai): each hour uses (hour of day + 1) × 0.1 kWh; one hour is missing.
            var value: Int64 = 500_000
            var items: [[String: Any]] = []
            let base = Int64(1_792_771_200)  // 2026-10-23T16:00:00Z = 2026-10-24 00:00 Shanghai
            for hour in 0...(7 * 24) {
                if hour > 0 { value += Int64((hour - 1) % 24 + 1) * 100 }
                if hour == 30 { continue }
                let at = Self.iso(Date(timeIntervalSince1970: TimeInterval(base + Int64(hour) * 3600)))
                items.append(["device_id": key, "reading": FixedPointText.milli(value), "measured_at": at, "message_id": "bk-\(hour)"])
            }
            var generator = SplitMix64(seed: 7)
            items.shuffle(using: &generator)
            let results = try await Self.post(api, token, items)
            #expect(results.allSatisfy { $0["status"] as? String == "accepted" }, "\(results.filter { $0["status"] as? String != "accepted" })")
            for _ in 0..<3 {
                let again = try await Self.post(api, token, items)
                #expect(again.allSatisfy { $0["status"] as? String == "duplicate" })
            }
            // Paging in measurement order: two pages, no reading twice, none lost.
            let firstPage = try await api.call(.get, "/api/v1/readings?device_id=\(id)&limit=100", token: token)
            let cursor = try #require(firstPage.object["next_cursor"] as? String)
            let secondPage = try await api.call(.get, "/api/v1/readings?device_id=\(id)&limit=100&cursor=\(cursor)", token: token)
            let times = (firstPage.items + secondPage.items).compactMap { $0["measured_at"] as? String }
            #expect(times.count == items.count && times == times.sorted() && Set(times).count == times.count)
            #expect(secondPage.object["next_cursor"] == nil)
            let daily = try await api.call(
                .get, "/api/v1/devices/\(id)/usage?from=2026-10-24T00:00:00%2B08:00&to=2026-10-31T00:00:00%2B08:00&granularity=day",
                token: token)
            #expect(daily.status == .ok, "\(daily.text)")
            let days = try #require(daily.object["buckets"] as? [[String: Any]])
            #expect(days.map { $0["start"] as! String } == (24...30).map { "2026-10-\($0)" })
            // Each day uses 0.1 × (1 + … + 24) = 30 kWh.
            #expect(days.map { $0["usage"] as! String } == Array(repeating: "30.000", count: 7))
            #expect(daily.object["total"] as? String == "210.000")
            let hourly = try await api.call(
                .get, "/api/v1/devices/\(id)/usage?from=2026-10-25T04:00:00%2B08:00&to=2026-10-25T08:00:00%2B08:00&granularity=hour",
                token: token)
            let hours = try #require(hourly.object["buckets"] as? [[String: Any]])
            #expect(hours.map { $0["start"] as! String } == ["2026-10-25T04:00", "2026-10-25T05:00", "2026-10-25T06:00", "2026-10-25T07:00"])
            // A reading at hh:00 closes the hour before it. The 06:00 reading is missing, so the 07:00 reading covers
            // 05:00–07:00 (0.6 + 0.7 kWh), spread over both hours and flagged estimated.
            #expect(hours.map { $0["usage"] as! String } == ["0.500", "0.650", "0.650", "0.800"])
            #expect(hours.map { $0["estimated"] as! Bool } == [false, true, true, false])
        }
    }

    @Test("a day far above the meter's own recent days, or above the absolute cap, is held", arguments: TestEngine.available)
    func plausibility(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(Self.start)) { api in
            let token = try await api.login("engineer@alpha")
            let (_, key) = try await Self.meter(api, token)
            // Ten days of about 10 kWh a day.
            let days = (0...10).map { day in Self.reading(key, "\(1_000 + day * 10).\(day)", "2026-10-\(String(format: "%02d", day + 1))T00:00:00Z") }
            #expect(try await Self.post(api, token, days).allSatisfy { $0["status"] as? String == "accepted" })
            let spike = try await Self.post(api, token, [Self.reading(key, "1260", "2026-10-12T00:00:00Z")])
            #expect(spike.first?["code"] as? String == "exceeds_recent_usage", "\(spike)")
            // The held spike is not a reading: the next one counts from 10-11, two days, capped at 2 × 1,000 kWh.
            let huge = try await Self.post(api, token, [Self.reading(key, "3200", "2026-10-13T00:00:00Z")])
            #expect(huge.first?["code"] as? String == "exceeds_daily_cap", "\(huge)")
            // Two modest days are accepted.
            let normal = try await Self.post(api, token, [Self.reading(key, "1122", "2026-10-13T00:00:00Z")])
            #expect(normal.first?["usage"] as? String == "21.900")
        }
    }

    @Test("bodies that cannot be read are refused whole, with a code, and write nothing", arguments: TestEngine.available)
    func badBodies(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(Self.start)) { api in
            let token = try await api.login("engineer@alpha")
            let (_, key) = try await Self.meter(api, token)
            let malformed = try await api.call(.post, "/api/v1/readings", token: token, raw: "[{\"device_id\": ")
            #expect(malformed.status == .badRequest)
            #expect(malformed.code == "malformed_json")
            let tooMany = Array(repeating: Self.reading(key, "1", "2026-10-01T00:00:00Z"), count: 5_001)
            let large = try await api.call(.post, "/api/v1/readings", token: token, json: tooMany)
            #expect(large.code == "batch_too_large")
            let empty = try await api.call(.post, "/api/v1/readings", token: token, json: [Any]())
            #expect(empty.code == "empty_batch")
            let owner = try await api.call(
                .post, "/api/v1/readings", token: try await api.login("owner@alpha"), json: [Self.reading(key, "1", "2026-10-01T00:00:00Z")])
            #expect(owner.status == .forbidden)
            let anonymous = try await api.call(.post, "/api/v1/readings", json: [Self.reading(key, "1", "2026-10-01T00:00:00Z")])
            #expect(anonymous.status == .unauthorized)
            #expect(try await Self.count(api, "readings_all") == 0)
        }
    }
}

/// Decimal text of a milli-unit count, for building request bodies.
enum FixedPointText {
    static func milli(_ value: Int64) -> String {
        let fraction = value % 1000
        return "\(value / 1000).\(fraction < 10 ? "00" : fraction < 100 ? "0" : "")\(fraction)"
    }
}

extension IngestAPITests {
    @Test("a month of readings becomes the usage records bill runs read, split at the month's edges", arguments: TestEngine.available)
    func derivation(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(Date(timeIntervalSince1970: 1_794_000_000))) { api in
            let token = try await api.login("engineer@alpha")
            // The first house's bound meters (the seeder binds a water and an electricity meter to every house).
            let bindings = try await api.call(.get, "/api/v1/device-bindings?target_kind=house&limit=2", token: token)
            let house = try #require(bindings.items.first?["target_id"] as? String)
            let community = try #require(bindings.items.first?["community_id"] as? String)
            var keys: [String: String] = [:]
            for binding in bindings.items where binding["target_id"] as? String == house {
                let device = try await api.call(.get, "/api/v1/devices/\(binding["device_id"]!)", token: token)
                keys[device.object["kind"] as! String] = device.object["device_key"] as? String
            }
            let electricity = try #require(keys["electricity_meter"])
            let water = try #require(keys["water_meter"])
            // Electricity: 16 days over the start of October (15 in it), 17 days over its end (16 in it).
            _ = try await Self.post(
                api, token,
                [
                    Self.reading(electricity, "100", "2026-09-30 00:00:00"), Self.reading(electricity, "150", "2026-10-16 00:00:00"),
                    Self.reading(electricity, "200", "2026-11-02 00:00:00"),
                    Self.reading(water, "10", "2026-10-01 00:00:00", "volume_total"),
                    Self.reading(water, "22.5", "2026-11-01 00:00:00", "volume_total"),
                ])
            let derived = try await api.call(.post, "/api/v1/communities/\(community)/usage/derive", token: token, json: ["period": "2026-10"])
            #expect(derived.status == .ok, "\(derived.text)")
            #expect(derived.object["created"] as? Int == 2)
            let usage = try await api.call(.get, "/api/v1/usage?subject_id=\(house)&period=2026-10", token: token)
            let byKind = Dictionary(uniqueKeysWithValues: usage.items.map { ($0["usage_kind"] as! String, $0) })
            // 50 × 15/16 = 46.875 and 50 × 16/17 = 47.0588… → 47.059 (largest remainder): 93.934, estimated.
            #expect(byKind["electricity"]?["quantity"] as? String == "93.934")
            #expect(byKind["electricity"]?["estimated"] as? Bool == true)
            #expect(byKind["water"]?["quantity"] as? String == "12.500")
            #expect(byKind["water"]?["estimated"] as? Bool == false)
            #expect(byKind["water"]?["source"] as? String == "ingestion")
            // Running it again changes nothing; a late reading that changes the month is reported, not written.
            let again = try await api.call(.post, "/api/v1/communities/\(community)/usage/derive", token: token, json: ["period": "2026-10"])
            #expect(again.object["unchanged"] as? Int == 2)
            _ = try await Self.post(api, token, [Self.reading(water, "20", "2026-10-20 00:00:00", "volume_total")])
            let later = try await api.call(.post, "/api/v1/communities/\(community)/usage/derive", token: token, json: ["period": "2026-10"])
            #expect((later.object["differing"] as? [[String: Any]])?.isEmpty == true, "a reading inside the month does not change its total")
            let bad = try await api.call(.post, "/api/v1/communities/\(community)/usage/derive", token: token, json: ["period": "2026-13"])
            #expect(bad.fields == ["period"])
            // The house's daily electricity over the first days of October: 50 kWh over 16 days, 3.125 a day.
            let daily = try await api.call(
                .get, "/api/v1/houses/\(house)/usage?kind=electricity&from=2026-10-01T00:00:00%2B08:00&to=2026-10-03T00:00:00%2B08:00",
                token: token)
            #expect(daily.status == .ok, "\(daily.text)")
            #expect((daily.object["buckets"] as? [[String: Any]])?.map { $0["usage"] as! String } == ["3.125", "3.125"])
            #expect(daily.object["total"] as? String == "6.250")
            let unknownKind = try await api.call(
                .get, "/api/v1/houses/\(house)/usage?kind=steam&from=2026-10-01T00:00:00Z&to=2026-10-02T00:00:00Z",
                token: token)
            #expect(unknownKind.fields == ["kind"])
        }
    }
}

extension IngestAPITests {
    @Test("a replacement recorded after the fact re-derives the usage of the reading across it", arguments: TestEngine.available)
    func lateReplacement(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(Self.start)) { api in
            let token = try await api.login("engineer@alpha")
            let (id, key) = try await Self.meter(api, token)
            // The new meter already reads more than the old one did, so nothing looked wrong when its reading came in.
            let first = try await Self.post(
                api, token, [Self.reading(key, "100", "2026-10-01T00:00:00Z"), Self.reading(key, "120", "2026-10-03T00:00:00Z")])
            #expect(first.last?["usage"] as? String == "20.000")
            let swap = try await api.call(
                .post, "/api/v1/meter-replacements", token: token,
                json: [
                    "device_id": id, "replaced_at": "2026-10-02T00:00:00Z", "old_final": "110", "new_start": "0", "reason": "meter swapped",
                ])
            #expect(swap.status == .created, "\(swap.text)")
            let page = try await api.call(.get, "/api/v1/readings?device_id=\(id)&from=2026-10-03T00:00:00Z", token: token)
            #expect(page.items.first?["usage"] as? String == "130.000", "(110 − 100) + (120 − 0)")
        }
    }
}
