import CourtyardPrepaid
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import HTTPTypes
import SQLKit
import Testing

/// Refused prepaid input: each answer is a problem with a stable code and the field at fault, and nothing is written.
@Suite("Prepaid bad input")
struct PrepaidBadInputTests {
    typealias T = PrepaidAPITests

    @Test(
        "plans: unlawful triggers, other tenants' wallets, overlapping windows, wrong wallets; top-ups: zero, negative, over limit",
        arguments: TestEngine.available)
    func refused(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(T.start)) { api in
            let s = try await T.setup(api)
            let (water, _, waterHouse) = try await Prepaid.houseMeter(api, kind: "water_meter", skip: 1)
            let bravoHouse = try await api.database.read { db in
                try await db.raw("SELECT id FROM houses WHERE company_id = \(bind: api.bravo.companyId) LIMIT 1").first()!.decode(
                    column: "id", as: String.self)
            }
            let bravoDevice = try await api.database.read { db in
                try await db.raw("SELECT id FROM devices WHERE company_id = \(bind: api.bravo.companyId) LIMIT 1").first()!.decode(
                    column: "id", as: String.self)
            }
            let before = try await api.tableCounts()
            func plan(_ extra: [String: Any]) -> [String: Any] {
                var body: [String: Any] = [
                    "house_id": waterHouse, "device_id": water, "register": "volume_total",
                    "wallets": [["purpose": "water"]], "tariff": Prepaid.flat,
                ]
                body.merge(extra) { $1 }
                return body
            }
            let cases: [([String: Any], Int, String, String)] = [
                (plan(["cutoff_triggers": ["prepaid_balance", "property_fee_arrears"]]), 422, "unlawful_cutoff_trigger", "cutoff_triggers[1]"),
                (plan(["wallets": [["purpose": "property_fee"]]]), 422, "unlawful_wallet", "wallets[0].purpose"),
                (plan(["wallets": [["purpose": "water", "house_id": bravoHouse]]]), 422, "unknown_wallet", "wallets[0].house_id"),
                (plan(["wallets": [["purpose": "electricity"]]]), 422, "wallet_purpose_mismatch", "wallets[0].purpose"),
                (
                    plan([
                        "friendly_windows": [
                            ["kind": "daily", "start": "22:00", "end": "07:00"],
                            ["kind": "daily", "start": "06:00", "end": "08:00"],
                        ]
                    ]), 422, "overlapping_windows", "friendly_windows[1]"
                ),
                (
                    plan(["friendly_windows": [["kind": "weekly", "days": ["saturday"]], ["kind": "weekly", "days": ["saturday", "sunday"]]]]),
                    422, "overlapping_windows", "friendly_windows[1]"
                ),
                (plan(["tariff": ["kind": "fixed", "amount": Prepaid.money("10.00")]]), 422, "invalid_value", "tariff.kind"),
                (plan(["house_id": bravoHouse]), 422, "unknown_house", "house_id"),
                (plan(["device_id": bravoDevice]), 422, "unknown_device", "device_id"),
                (
                    plan(["device_id": s.device, "house_id": s.house, "wallets": [["purpose": "electricity"]], "register": "energy_total"]),
                    409, "plan_exists", "device_id"
                ),
            ]
            for (body, status, code, field) in cases {
                let reply = try await api.call(.post, "/api/v1/prepaid-plans", token: s.finance, json: body)
                #expect(reply.status.code == status && reply.code == code, "\(code): \(reply.text)")
                #expect(reply.fields.contains(field), "\(code): \(reply.text)")
            }
            let topUps: [(Any, String, String)] = [
                (Prepaid.money("0.00"), "amount_not_positive", "amount"),
                (Prepaid.money("-5.00"), "amount_not_positive", "amount"),
                (Prepaid.money("50000.01"), "amount_over_limit", "amount"),
            ]
            for (amount, code, field) in topUps {
                let reply = try await api.call(
                    .post, "/api/v1/houses/\(s.house)/top-ups", token: s.finance,
                    json: ["id": UUID().uuidString, "purpose": "electricity", "amount": amount, "channel": "cash"])
                #expect(reply.status == .unprocessableContent && reply.code == code, "\(code): \(reply.text)")
                #expect(reply.fields == [field])
            }
            let otherTenant = try await api.call(
                .post, "/api/v1/houses/\(bravoHouse)/top-ups", token: s.finance,
                json: ["id": "x-1", "purpose": "electricity", "amount": Prepaid.money("1.00"), "channel": "cash"])
            #expect(otherTenant.status == .notFound, "\(otherTenant.text)")
            let ack = try await api.call(
                .post, "/api/v1/devices/\(s.device)/commands/ack", token: s.engineer,
                json: ["command_id": "no-such-command", "status": "succeeded"])
            #expect(ack.status == .notFound && ack.code == "unknown_command" && ack.fields == ["command_id"], "\(ack.text)")
            let alarm = try await api.call(.post, "/api/v1/devices/\(s.device)/supply-report", token: s.engineer, json: ["alarm": "ghosts"])
            #expect(alarm.status == .unprocessableContent && alarm.fields == ["alarm"], "\(alarm.text)")
            let override = try await api.call(
                .post, "/api/v1/devices/\(s.device)/supply-overrides", token: s.engineer,
                json: ["kind": "engineer_hold", "reason": "x", "expires_at": "2026-12-01T00:00:00Z"])
            #expect(override.status == .unprocessableContent && override.fields == ["hold_state"], "\(override.text)")
            #expect(try await api.tableCounts() == before)
        }
    }

    @Test("a top-up id names one top-up: a replay changes nothing, other content is a conflict", arguments: TestEngine.available)
    func topUpIdempotency(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(T.start)) { api in
            let s = try await T.setup(api)
            let first = try await T.topUp(api, s, "10.00", id: "desk-1")
            #expect(first.status == .created)
            let again = try await T.topUp(api, s, "10.00", id: "desk-1")
            #expect(again.status == .ok && again.object["replayed"] as? Bool == true, "\(again.text)")
            let other = try await T.topUp(api, s, "11.00", id: "desk-1")
            #expect(other.status == .conflict && other.code == "idempotency_conflict", "\(other.text)")
            #expect(Prepaid.amount((try await T.overview(api, s))["available"]) == "10.00")
        }
    }

    @Test("an approved held reading of a prepaid meter is charged like any other", arguments: TestEngine.available)
    func approvedReadingIsCharged(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(T.start)) { api in
            let s = try await T.setup(api)
            _ = try await T.topUp(api, s, "100.00")
            let reply = try await api.call(
                .post, "/api/v1/readings", token: s.engineer,
                json: [
                    T.reading(s.key, "1000", T.start.addingTimeInterval(-7200)), T.reading(s.key, "990", T.start.addingTimeInterval(-3600)),
                ])
            let held = try #require(reply.items.last?["held_id"] as? String, "\(reply.text)")
            let approve = try await api.call(
                .post, "/api/v1/held-readings/\(held)/approve", token: s.engineer,
                json: ["note": "display read on site", "reading": "1010"])
            #expect(approve.status == .ok, "\(approve.text)")
            #expect(Prepaid.amount((try await T.overview(api, s))["available"]) == "90.00")
        }
    }
}
