import CourtyardIngest
import CourtyardStorage
import CourtyardTestSupport
import Crypto
import Foundation
import HTTPTypes
import SQLKit
import Testing

/// Readings over HTTP: formats, per-item answers, dedup, usage derivation, review, webhooks, device tokens, presence.
@Suite("Ingestion API")
struct IngestAPITests {
    /// 2026-11-01T00:00:00Z; readings in the tests are measured before it.
    static let start = Date(timeIntervalSince1970: 1_793_491_200)

    static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    static func meter(_ api: APIFixture, _ token: String, kind: String = "electricity_meter") async throws -> (id: String, key: String) {
        let reply = try await api.call(.get, "/api/v1/devices?kind=\(kind)&limit=1", token: token)
        let device = try #require(reply.items.first, "\(reply.text)")
        return (device["id"] as! String, device["device_key"] as! String)
    }

    static func count(_ api: APIFixture, _ table: String) async throws -> Int {
        try await api.database.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()!.decode(column: "n", as: Int.self)
        }
    }

    @Test("a batch is answered item by item, and replaying it three times changes nothing", arguments: TestEngine.available)
    func batchAndReplay(engine: TestEngine) async throws {
        let clock = ManualClock(Self.start)
        try await APIFixture.with(engine, clock: clock) { api in
            let token = try await api.login("engineer@alpha")
            let (_, key) = try await Self.meter(api, token)
            let (_, water) = try await Self.meter(api, token, kind: "water_meter")
            let bravo = try await Self.meter(api, try await api.login("engineer@bravo"))
            let batch: [Any] = [
                ["device_id": key, "register": "energy_total", "reading": "1000.00", "measured_at": "2026-10-30T00:00:00Z", "message_id": "a-1"],
                ["device_id": key, "register": "energy_total", "reading": 1012.5, "measured_at": "2026-10-30T09:00:00+08:00", "message_id": "a-2"],
                ["deviceId": water, "usage": 15, "time": "2026-10-22 00:00:00"],
                ["device_id": "no-such-meter", "reading": "1", "measured_at": "2026-10-30T00:00:00Z"],
                ["device_id": bravo.key, "reading": "1", "measured_at": "2026-10-30T00:00:00Z"],
                ["device_id": key, "reading": "5", "measured_at": "2026-11-01T00:06:00Z"],
                ["device_id": key, "reading": "12.3456", "measured_at": "2026-10-29T00:00:00Z"],
                ["device_id": key, "reading": "-1", "measured_at": "2026-10-29T00:00:00Z"],
                ["device_id": key, "reading": "twelve", "measured_at": "2026-10-29T00:00:00Z"],
                ["device_id": key, "reading": "1", "measured_at": "yesterday"],
                ["reading": "1", "measured_at": "2026-10-29T00:00:00Z"],
                "not an object",
            ]
            let first = try await api.call(.post, "/api/v1/readings", token: token, json: batch)
            #expect(first.status == .ok, "\(first.text)")
            let answers = first.items.map { "\($0["status"]!):\($0["code"] ?? "-"):\($0["field"] ?? "-")" }
            #expect(
                answers == [
                    "accepted:-:-", "accepted:-:-", "accepted:-:-",
                    "rejected:unknown_device:device_key", "rejected:unknown_device:device_key",
                    "rejected:reading_in_future:measured_at", "rejected:too_precise:reading", "rejected:negative_value:reading",
                    "rejected:invalid_number:reading", "rejected:invalid_time:measured_at", "rejected:missing_field:device_key",
                    "rejected:invalid_item:-",
                ])
            // 09:00+08:00 is 01:00Z, an hour after the first reading: the usage is the difference.
            #expect(first.items[0]["usage"] == nil)
            #expect(first.items[1]["usage"] as? String == "12.500")
            #expect(first.items[2]["usage"] as? String == "15.000")
            let counts = (try await Self.count(api, "readings_all"), try await Self.count(api, "held_readings"))
            for _ in 0..<3 {
                let again = try await api.call(.post, "/api/v1/readings", token: token, json: batch)
                #expect(again.items.prefix(3).map { $0["status"] as! String } == ["duplicate", "duplicate", "duplicate"])
                #expect(again.items[0]["reading_id"] as? String == first.items[0]["reading_id"] as? String)
            }
            #expect((try await Self.count(api, "readings_all"), try await Self.count(api, "held_readings")) == counts)
        }
    }
}
