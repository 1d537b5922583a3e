import CourtyardDevices
import CourtyardIngest
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import HTTPTypes
import SQLKit
import Testing

extension IngestAPITests {
    @Test(
        "signed webhooks: a valid delivery is stored, a replay, a stale or a wrong signature is refused, rotation keeps both secrets",
        arguments: TestEngine.available)
    func webhooks(engine: TestEngine) async throws {
        let clock = ManualClock(Self.start)
        try await APIFixture.with(engine, clock: clock) { api in
            let token = try await api.login("engineer@alpha")
            let (_, key) = try await Self.meter(api, token)
            let created = try await api.call(.post, "/api/v1/integrations", token: token, json: ["name": "ctwing"])
            #expect(created.status == .created, "\(created.text)")
            let secret = try #require(created.object["secret"] as? String)
            let url = try #require(created.object["webhook_url"] as? String)
            let now = Int64(clock.now().timeIntervalSince1970)
            func deliver(_ body: String, at: Int64, secret: String, signature: String? = nil) async throws -> APIFixture.Reply {
                try await api.call(
                    .post, url, raw: body,
                    headers: [
                        "X-Courtyard-Timestamp": "\(at)",
                        "X-Courtyard-Signature": signature ?? WebhookSignature.sign(body: Data(body.utf8), timestamp: at, secret: secret),
                    ])
            }
            let body = "[{\"device_id\":\"\(key)\",\"reading\":\"10\",\"measured_at\":\"2026-10-01T00:00:00Z\"}]"
            let ok = try await deliver(body, at: now, secret: secret)
            #expect(ok.status == .ok, "\(ok.text)")
            #expect(ok.items.first?["status"] as? String == "accepted")
            let replay = try await deliver(body, at: now, secret: secret)
            #expect(replay.status == .conflict)
            #expect(replay.code == "signature_replayed")
            let stale = try await deliver(body, at: now - 301, secret: secret)
            #expect(stale.code == "signature_expired")
            let future = try await deliver(body, at: now + 301, secret: secret)
            #expect(future.code == "signature_expired")
            let wrong = try await deliver(body, at: now - 1, secret: "not the secret")
            #expect(wrong.status == .unauthorized)
            #expect(wrong.code == "signature_mismatch")
            let tampered = try await deliver(
                body.replacingOccurrences(of: "\"10\"", with: "\"99\""), at: now - 2, secret: secret,
                signature: WebhookSignature.sign(body: Data(body.utf8), timestamp: now - 2, secret: secret))
            #expect(tampered.code == "signature_mismatch")
            let unsigned = try await api.call(.post, url, raw: body)
            #expect(unsigned.code == "signature_missing")
            // Rotation: the old secret still verifies until it is retired.
            let id = try #require((created.object["integration"] as? [String: Any])?["id"] as? String)
            let rotated = try await api.call(.post, "/api/v1/integrations/\(id)/rotate", token: token)
            let newSecret = try #require(rotated.object["secret"] as? String)
            #expect(newSecret != secret)
            #expect(try await deliver(body, at: now - 3, secret: secret).status == .ok)
            #expect(try await deliver(body, at: now - 4, secret: newSecret).status == .ok)
            _ = try await api.call(.post, "/api/v1/integrations/\(id)/retire-previous", token: token)
            #expect(try await deliver(body, at: now - 5, secret: secret).code == "signature_mismatch")
            #expect(try await deliver(body, at: now - 6, secret: newSecret).items.first?["status"] as? String == "duplicate")
            let list = try await api.call(.get, "/api/v1/integrations", token: token)
            #expect(!list.text.contains(secret) && !list.text.contains(newSecret), "secrets are never shown again")
            // A device of another company is unknown to this integration.
            let bravo = try await Self.meter(api, try await api.login("engineer@bravo"))
            let foreign = "[{\"device_id\":\"\(bravo.key)\",\"reading\":\"1\",\"measured_at\":\"2026-10-01T00:00:00Z\"}]"
            #expect(try await deliver(foreign, at: now - 7, secret: newSecret).items.first?["code"] as? String == "unknown_device")
        }
    }

    @Test("a device token reports for its own device only and opens nothing else", arguments: TestEngine.available)
    func deviceTokens(engine: TestEngine) async throws {
        let clock = ManualClock(Self.start)
        try await APIFixture.with(engine, clock: clock) { api in
            let admin = try await api.login("admin@alpha")
            let (id, key) = try await Self.meter(api, admin)
            let (_, water) = try await Self.meter(api, admin, kind: "water_meter")
            let credential = try await api.call(.post, "/api/v1/devices/\(id)/credentials", token: admin)
            let device = try #require(credential.object["token"] as? String, "\(credential.text)")
            let items = [Self.reading(key, "5", "2026-10-01T00:00:00Z"), Self.reading(water, "5", "2026-10-01T00:00:00Z", "volume_total")]
            let reply = try await api.call(.post, "/api/v1/readings", token: device, json: items)
            #expect(reply.items.map { $0["status"] as? String } == ["accepted", "rejected"])
            #expect(reply.items.last?["code"] as? String == "device_mismatch")
            #expect(try await api.call(.get, "/api/v1/houses", token: device).status == .unauthorized)
            #expect(try await api.call(.get, "/api/v1/readings?device_id=\(id)", token: device).status == .unauthorized)
            // Rotation: a second token works alongside the first until the others are revoked.
            clock.advance(seconds: 60)
            let second = try #require(try await api.call(.post, "/api/v1/devices/\(id)/credentials", token: admin).object["token"] as? String)
            let both = [Self.reading(key, "6", "2026-10-02T00:00:00Z")]
            #expect(try await api.call(.post, "/api/v1/readings", token: second, json: both).items.first?["status"] as? String == "accepted")
            let revoked = try await api.call(.post, "/api/v1/devices/\(id)/credentials/revoke?keep_newest=true", token: admin)
            #expect(revoked.object["revoked"] as? Int == 1)
            #expect(try await api.call(.post, "/api/v1/readings", token: device, json: both).status == .unauthorized)
            #expect(try await api.call(.post, "/api/v1/readings", token: second, json: both).items.first?["status"] as? String == "duplicate")
        }
    }

    @Test("presence: heard from is online; silent past the timeout is offline with an alert; back again is online", arguments: TestEngine.available)
    func presence(engine: TestEngine) async throws {
        let clock = ManualClock(Self.start)
        try await APIFixture.with(engine, clock: clock) { api in
            var token = try await api.login("engineer@alpha")
            let (id, key) = try await Self.meter(api, token)
            _ = try await Self.post(api, token, [Self.reading(key, "1", "2026-10-31T23:00:00Z")])
            let online = try await api.call(.get, "/api/v1/devices?status=online", token: token)
            #expect(online.items.map { $0["device_id"] as? String } == [id])
            #expect(try await PresenceSweep.run(api.database, now: clock.now()) == 0)
            clock.advance(seconds: 24 * 3600 + 1)
            #expect(try await PresenceSweep.run(api.database, now: clock.now()) == 0, "not before the stored time's precision has passed too")
            clock.advance(seconds: 60)
            #expect(try await PresenceSweep.run(api.database, now: clock.now()) == 1)
            token = try await api.login("engineer@alpha")  // the session expired with the day
            let offline = try await api.call(.get, "/api/v1/devices?status=offline&limit=500", token: token)
            #expect(offline.items.contains { $0["device_id"] as? String == id && $0["online"] as? Bool == false })
            clock.advance(seconds: 60)
            _ = try await Self.post(api, token, [Self.reading(key, "2", "2026-11-01T23:00:00Z")])
            let alerts = try await api.call(.get, "/api/v1/device-alerts?device_id=\(id)", token: token)
            #expect(alerts.items.map { $0["kind"] as? String } == ["online", "offline"])
            // The lifecycle filter still works as before.
            #expect(try await api.call(.get, "/api/v1/devices?status=active&limit=1", token: token).items.count == 1)
        }
    }

    @Test("manual entry needs a reason and keeps who, why and the photo reference", arguments: TestEngine.available)
    func manualEntry(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(Self.start)) { api in
            let token = try await api.login("engineer@alpha")
            let (id, _) = try await Self.meter(api, token, kind: "water_meter")
            let missing = try await api.call(
                .post, "/api/v1/readings/manual", token: token,
                json: [
                    "device_id": id, "register": "volume_total", "reading": "12.5", "measured_at": "2026-10-31 18:00:00", "reason": " ",
                ])
            #expect(missing.fields == ["reason"])
            let entered = try await api.call(
                .post, "/api/v1/readings/manual", token: token,
                json: [
                    "device_id": id, "register": "volume_total", "reading": "12.5", "measured_at": "2026-10-31 18:00:00",
                    "reason": "meter display read on site", "photo_ref": "photos/102.jpg",
                ])
            #expect(entered.items.first?["status"] as? String == "accepted", "\(entered.text)")
            let page = try await api.call(.get, "/api/v1/readings?device_id=\(id)", token: token)
            let stored = try #require(page.items.first)
            #expect(stored["origin"] as? String == "manual")
            #expect(stored["note"] as? String == "meter display read on site")
            #expect(stored["photo_ref"] as? String == "photos/102.jpg")
            #expect(stored["entered_by"] as? String != nil)
            // Local time of the community (Asia/Shanghai): 18:00 is 10:00Z.
            #expect(stored["measured_at"] as? String == "2026-10-31T10:00:00Z")
        }
    }
}

extension IngestAPITests {
    @Test("gateway frames become readings of the device with that protocol address", arguments: TestEngine.available)
    func frames(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(Self.start)) { api in
            let token = try await api.login("engineer@alpha")
            let (waterId, _) = try await Self.meter(api, token, kind: "water_meter")
            let (powerId, _) = try await Self.meter(api, token)
            // Give the meters the addresses of two published captures (see CJT188Tests and DLT645Tests).
            #expect(try await api.call(.patch, "/api/v1/devices/\(waterId)", token: token, json: ["address": "00201510270588"]).status == .ok)
            #expect(try await api.call(.patch, "/api/v1/devices/\(powerId)", token: token, json: ["address": "398192000337"]).status == .ok)
            let frames: [[String: Any]] = [
                // CJ/T 188 901F reply, 1.25 m³, meter clock 2017-01-09 17:20:06 (local time of the community).
                [
                    "protocol": "cjt188",
                    "hex": "68 10 88 05 27 10 15 20 00 81 16 90 1F 01 25 01 00 00 2C 00 00 00 00 2C 06 20 17 09 01 17 20 00 00 B4 16",
                ],
                // DL/T 645 reply: forward active energy 0.04 kWh.
                ["protocol": "dlt645", "hex": "68 37 03 00 92 81 39 68 91 08 33 33 34 33 37 33 33 33 8C 16", "measured_at": "2026-10-01T00:00:00Z"],
                ["protocol": "dlt645", "hex": "68 37 03 00 92 81 39 68 91 08 33 33 34 33 37 33 33 33 8D 16"],
                ["protocol": "dlt645", "hex": "FE FE FE FE 68 AA AA AA AA AA AA 68 11 04 33 33 34 33 AE 16"],
                [
                    "protocol": "cjt188",
                    "hex": "FE FE 68 10 45 41 10 05 15 33 78 81 16 90 1F AA 00 59 59 00 2C FF FF FF FF 2C FF FF FF FF FF FF FF 00 00 C2 16",
                ],
            ]
            let reply = try await api.call(.post, "/api/v1/readings/frames", token: token, json: frames)
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(
                reply.items.map { "\($0["index"]!):\($0["status"]!):\($0["code"] ?? "-")" } == [
                    "0:accepted:-", "1:accepted:-", "2:rejected:frame_bad_checksum", "3:rejected:no_reading_in_frame", "4:rejected:unknown_address",
                ])
            let water = try await api.call(.get, "/api/v1/readings?device_id=\(waterId)", token: token)
            #expect(water.items.first?["reading"] as? String == "1.250")
            #expect(water.items.first?["register"] as? String == "volume_total")
            #expect(water.items.first?["measured_at"] as? String == "2017-01-09T09:20:06Z")
            let power = try await api.call(.get, "/api/v1/readings?device_id=\(powerId)", token: token)
            #expect(power.items.first?["reading"] as? String == "0.040")
        }
    }
}
