import CourtyardDomain
import CourtyardTestSupport
import Foundation
import HTTPTypes
import Testing

@Suite("Billing API")
struct BillingAPITests {
    /// 2026-11-22T02:00:00Z: October 2026 has closed in Asia/Shanghai, November has not.
    static let clock = ManualClock(Date(timeIntervalSince1970: 1_795_312_800))

    @Test(
        "fee items, versioned standards and attachments are set up over HTTP, then a month is previewed, billed once, and read back",
        arguments: TestEngine.available)
    func billAMonth(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: Self.clock) { api in
            let finance = try await api.login("finance@alpha")
            let community = try #require(try await api.first("communities", token: finance)["id"] as? String)
            let building = try #require(
                try await api.call(.get, "/api/v1/buildings?community_id=\(community)&limit=1", token: finance)
                    .items.first?["id"] as? String)
            let item = try await api.call(
                .post, "/api/v1/fee-items", token: finance,
                json: [
                    "community_id": community, "code": "property_fee", "name": "Property fee", "category": "property_fee", "due_days": 15,
                    "late_fee_policy": ["grace_days": 5, "daily_rate_per_million": 500, "cap": "principal", "rounding": "half_up"],
                ])
            #expect(item.status == .created, "\(item.text)")
            let itemId = try #require(item.object["id"] as? String)
            let rule: [String: Any] = ["kind": "per_area", "price_per_square_metre": "2.5", "area_basis": "built"]
            let standard = try await api.call(
                .post, "/api/v1/fee-standards", token: finance,
                json: ["fee_item_id": itemId, "effective_from": "2026-01-01", "rule": rule])
            #expect(standard.status == .created, "\(standard.text)")
            #expect(standard.object["version"] as? Int == 1)
            let attachment = try await api.call(
                .post, "/api/v1/fee-attachments", token: finance,
                json: [
                    "fee_item_id": itemId, "scope": "building", "target": building, "valid_from": "2026-01-01",
                ])
            #expect(attachment.status == .created, "\(attachment.text)")
            let houses = try await api.call(.get, "/api/v1/houses?building_id=\(building)&limit=500", token: finance).items.count

            let preview = try await api.call(
                .post, "/api/v1/communities/\(community)/bill-runs", token: finance,
                json: ["period": "2026-10", "preview": true])
            #expect(preview.status == .ok, "\(preview.text)")
            #expect(preview.object["bills_created"] as? Int == houses)
            #expect(try await api.call(.get, "/api/v1/bills?community_id=\(community)", token: finance).items.isEmpty)

            let run = try await api.call(.post, "/api/v1/communities/\(community)/bill-runs", token: finance, json: ["period": "2026-10"])
            #expect(run.status == .created, "\(run.text)")
            #expect(run.object["bills_created"] as? Int == houses)
            #expect(
                (run.object["total_amount"] as? [String: Any])?["amount"] as? String
                    == (preview.object["total_amount"] as? [String: Any])?["amount"] as? String)
            let rerun = try await api.call(.post, "/api/v1/communities/\(community)/bill-runs", token: finance, json: ["period": "2026-10"])
            #expect(rerun.object["lines_created"] as? Int == 0)
            #expect(rerun.object["lines_already_billed"] as? Int == houses)

            let bills = try await api.call(.get, "/api/v1/bills?community_id=\(community)&limit=500", token: finance).items
            #expect(bills.count == houses)
            let billId = try #require(bills.first?["id"] as? String)
            let document = try await api.call(.get, "/api/v1/bills/\(billId)?as_of=2026-12-01", token: finance)
            #expect(document.status == .ok, "\(document.text)")
            let lines = document.object["lines"] as? [[String: Any]] ?? []
            #expect(lines.count == 1)
            #expect((lines.first?["basis"] as? String)?.contains("× 2.5000/m²/month") == true)
            #expect((document.object["late_fees"] as? [[String: Any]])?.first?["days_overdue"] as? Int == 10)

            let frontDesk = try await api.login("frontdesk@alpha")
            #expect(try await api.call(.get, "/api/v1/bills/\(billId)", token: frontDesk).status == .ok)
            let forbidden = try await api.call(.post, "/api/v1/bills/\(billId)/late-fee-waiver", token: frontDesk, json: ["reason": "x"])
            #expect(forbidden.status == .forbidden)
            let waived = try await api.call(.post, "/api/v1/bills/\(billId)/late-fee-waiver", token: finance, json: ["reason": "hospital stay"])
            #expect(waived.status == .ok, "\(waived.text)")
            let twice = try await api.call(.post, "/api/v1/bills/\(billId)/late-fee-waiver", token: finance, json: ["reason": "again"])
            #expect(twice.status == .conflict)
            #expect(twice.code == "already_waived")
            let audit = try await api.call(.get, "/api/v1/audit-log?subject_id=\(billId)", token: finance)
            #expect(audit.items.first?["action"] as? String == "late_fee_waived")

            // Another company sees none of it and cannot bill this community.
            let bravo = try await api.login("finance@bravo")
            #expect(try await api.call(.get, "/api/v1/bills/\(billId)", token: bravo).status == .notFound)
            #expect(try await api.call(.get, "/api/v1/fee-items/\(itemId)", token: bravo).status == .notFound)
            #expect(
                try await api.call(
                    .post, "/api/v1/communities/\(community)/bill-runs", token: bravo,
                    json: ["period": "2026-10"]
                ).status == .notFound)
            #expect(try await api.call(.get, "/api/v1/bills", token: bravo).items.isEmpty)

            // A billed standard cannot be deleted, and its rule cannot be PATCHed (correct it instead).
            let standardId = try #require(standard.object["id"] as? String)
            #expect(try await api.call(.delete, "/api/v1/fee-standards/\(standardId)", token: finance).code == "standard_in_use")
            let patched = try await api.call(
                .patch, "/api/v1/fee-standards/\(standardId)", token: finance,
                json: ["rule": ["kind": "per_area", "price_per_square_metre": "3", "area_basis": "built"]])
            #expect(patched.fields == ["rule"])
            let corrected = try await api.call(
                .post, "/api/v1/fee-standards/\(standardId)/corrections", token: finance,
                json: [
                    "rule": ["kind": "per_area", "price_per_square_metre": "2.6", "area_basis": "built"], "reason": "board approved 2.6 in January",
                ])
            #expect(corrected.status == .ok, "\(corrected.text)")
            #expect((corrected.object["adjustments"] as? [[String: Any]])?.count == houses)
        }
    }

    @Test("bad fee standards, runs and usage get problem JSON naming the field, and write nothing", arguments: TestEngine.available)
    func badInput(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: Self.clock) { api in
            let finance = try await api.login("finance@alpha")
            let community = try #require(try await api.first("communities", token: finance)["id"] as? String)
            let item = try await api.call(
                .post, "/api/v1/fee-items", token: finance,
                json: [
                    "community_id": community, "code": "electricity", "name": "Electricity", "category": "electricity", "usage_kind": "electricity",
                ])
            let itemId = try #require(item.object["id"] as? String)
            let tiers: [[String: Any]] = [["up_to": "200", "price": "0.5"], ["price": "0.55"]]
            let good: [String: Any] = ["kind": "metered", "unit": "kWh", "mode": "graduated", "accumulation": "monthly", "tiers": tiers]
            #expect(
                try await api.call(
                    .post, "/api/v1/fee-standards", token: finance,
                    json: [
                        "fee_item_id": itemId, "effective_from": "2026-01-01", "effective_until": "2026-07-01",
                        "rule": good,
                    ]
                ).status == .created)
            let before = try await api.tableCounts()

            func standard(_ rule: [String: Any], from: String = "2026-07-01") async throws -> APIFixture.Reply {
                try await api.call(
                    .post, "/api/v1/fee-standards", token: finance, json: ["fee_item_id": itemId, "effective_from": from, "rule": rule])
            }
            let overlap = try await standard(good, from: "2026-03-01")
            #expect(overlap.status == .conflict)
            #expect(overlap.code == "standard_overlap")
            var descending = good
            descending["tiers"] = [["up_to": "200", "price": "0.5"], ["up_to": "100", "price": "0.55"], ["price": "0.8"]]
            #expect(try await standard(descending).fields == ["rule.tiers.1.up_to"])
            var negative = good
            negative["tiers"] = [["up_to": "200", "price": "-0.5"], ["price": "0.55"]]
            #expect(try await standard(negative).fields.first?.hasPrefix("rule.tiers.0.price") == true)
            var gap = good
            gap["windows"] = [["name": "peak", "start": "08:00", "end": "22:00", "prices": ["0.6", "0.65"]]]
            #expect(try await standard(gap).fields.first?.hasPrefix("rule.windows") == true)
            #expect(try await standard(good, from: "2026-07-15").fields == ["effective_from"])
            let perArea: [String: Any] = ["kind": "per_area", "price_per_square_metre": "2.5", "area_basis": "built"]
            let misfit = try await standard(perArea)
            #expect(misfit.fields == ["rule.kind"], "\(misfit.text)")
            #expect(misfit.text.contains("rule_does_not_fit_item"))
            let badCode = try await api.call(
                .post, "/api/v1/fee-items", token: finance,
                json: [
                    "community_id": community, "code": "Electricity Fee", "name": "x", "category": "custom",
                ])
            #expect(badCode.fields == ["code"])

            let runs = "/api/v1/communities/\(community)/bill-runs"
            #expect(try await api.call(.post, runs, token: finance, json: ["period": "2026-13"]).fields == ["period"])
            #expect(try await api.call(.post, runs, token: finance, json: ["period": "October"]).fields == ["period"])
            let open = try await api.call(.post, runs, token: finance, json: ["period": "2026-11"])
            #expect(open.status == .unprocessableContent)
            #expect(open.code == "period_not_closed")
            #expect(try await api.call(.post, runs, token: finance, json: ["period": "2026-11", "preview": true]).status == .ok)

            let house = try #require(try await api.first("houses", token: finance)["id"] as? String)
            let usage: [String: Any] = [
                "subject_kind": "house", "subject_id": house, "usage_kind": "electricity", "period": "2026-10",
                "quantity": "120", "windows": ["peak": "100", "valley": "10"],
            ]
            #expect(try await api.call(.post, "/api/v1/usage", token: finance, json: usage).fields == ["windows"])
            var quarter = usage
            quarter["period"] = "2026-Q4"
            quarter["windows"] = nil
            #expect(try await api.call(.post, "/api/v1/usage", token: finance, json: quarter).fields == ["period"])
            #expect(try await api.tableCounts() == before)
        }
    }

    @Test(
        "billed usage is corrected through its own route: the open bill gains an adjustment worth the difference, derived by hand",
        arguments: TestEngine.available)
    func usageCorrection(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: Self.clock) { api in
            let finance = try await api.login("finance@alpha")
            let house = try #require(try await api.first("houses", token: finance)["id"] as? String)
            let community = try #require(try await api.first("houses", token: finance)["community_id"] as? String)
            let item = try await api.call(
                .post, "/api/v1/fee-items", token: finance,
                json: [
                    "community_id": community, "code": "electricity", "name": "Electricity", "category": "electricity",
                    "usage_kind": "electricity", "due_days": 15,
                ])
            let itemId = try #require(item.object["id"] as? String, "\(item.text)")
            // 0.5000 a kWh up to 200 kWh a month, 0.5500 above.
            let tiers: [[String: Any]] = [["up_to": "200", "price": "0.5"], ["price": "0.55"]]
            let standard = try await api.call(
                .post, "/api/v1/fee-standards", token: finance,
                json: [
                    "fee_item_id": itemId, "effective_from": "2026-01-01",
                    "rule": ["kind": "metered", "unit": "kWh", "mode": "graduated", "accumulation": "monthly", "tiers": tiers],
                ])
            #expect(standard.status == .created, "\(standard.text)")
            let attachment = try await api.call(
                .post, "/api/v1/fee-attachments", token: finance,
                json: ["fee_item_id": itemId, "scope": "house", "target": house, "valid_from": "2026-01-01"])
            #expect(attachment.status == .created, "\(attachment.text)")
            let usage = try await api.call(
                .post, "/api/v1/usage", token: finance,
                json: ["subject_kind": "house", "subject_id": house, "usage_kind": "electricity", "period": "2026-10", "quantity": "150"])
            let usageId = try #require(usage.object["id"] as? String, "\(usage.text)")
            let run = try await api.call(.post, "/api/v1/communities/\(community)/bill-runs", token: finance, json: ["period": "2026-10"])
            #expect(run.status == .created, "\(run.text)")
            let bill = try #require(
                try await api.call(.get, "/api/v1/bills?community_id=\(community)&house_id=\(house)&limit=1", token: finance).items.first)
            let billId = try #require(bill["id"] as? String)
            func total() async throws -> String? {
                Prepaid.amount(
                    (try await api.call(.get, "/api/v1/bills/\(billId)", token: finance).object["bill"] as? [String: Any])?["total_amount"])
            }
            // 150 kWh × 0.5000 = 75.00.
            #expect(try await total() == "75.00")

            // Billed usage is not edited in place; the refusal names the route that corrects it.
            let edited = try await api.call(.patch, "/api/v1/usage/\(usageId)", token: finance, json: ["quantity": "230"])
            #expect(edited.status == .conflict && edited.code == "already_billed", "\(edited.text)")
            let before = try await api.tableCounts()
            let unexplained = try await api.call(
                .post, "/api/v1/usage/\(usageId)/corrections", token: finance, json: ["quantity": "230", "reason": ""])
            #expect(unexplained.fields == ["reason"], "\(unexplained.text)")
            let uneven = try await api.call(
                .post, "/api/v1/usage/\(usageId)/corrections", token: finance,
                json: ["quantity": "230", "windows": ["peak": "100", "valley": "100"], "reason": "misread digit"])
            #expect(uneven.fields == ["windows"], "\(uneven.text)")
            #expect(
                try await api.call(
                    .post, "/api/v1/usage/no-such-usage/corrections", token: finance, json: ["quantity": "230", "reason": "misread digit"]
                ).status == .notFound)
            #expect(try await api.tableCounts() == before)

            // The meter said 230, not 150: 200 × 0.5000 + 30 × 0.5500 = 116.50, so the bill gains 41.50.
            let corrected = try await api.call(
                .post, "/api/v1/usage/\(usageId)/corrections", token: finance, json: ["quantity": "230", "reason": "misread digit"])
            #expect(corrected.status == .ok, "\(corrected.text)")
            let adjustments = corrected.object["adjustments"] as? [[String: Any]] ?? []
            #expect(adjustments.count == 1, "\(corrected.text)")
            #expect(adjustments.first?["kind"] as? String == "adjustment", "\(corrected.text)")
            #expect(try await total() == "116.50")
            let audit = try await api.call(.get, "/api/v1/audit-log?subject_id=\(usageId)", token: finance)
            #expect(audit.items.first?["action"] as? String == "usage_corrected", "\(audit.text)")
            #expect(
                (try await api.call(.get, "/api/v1/usage/\(usageId)", token: finance).object["quantity"] as? String) == "230.000")

            // The same correction again changes nothing more.
            let again = try await api.call(
                .post, "/api/v1/usage/\(usageId)/corrections", token: finance, json: ["quantity": "230", "reason": "misread digit"])
            #expect(again.status == .ok, "\(again.text)")
            #expect((again.object["adjustments"] as? [[String: Any]])?.isEmpty == true, "\(again.text)")
            #expect(try await total() == "116.50")
        }
    }
}
