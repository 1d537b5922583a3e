import CourtyardDomain
import CourtyardTestSupport
import Foundation
import HTTPTypes
import Testing

/// The loopholes found when wave 1 was probed from outside, each closed as a class and checked here through the API.
@Suite("Hardening: voids, refunds, currency, community scope, receipts")
struct HardeningAPITests {
    typealias P = PaymentAPITests

    /// A user of `role` created by the company administrator; returns a signed-in token.
    static func user(_ api: APIFixture, login: String, role: String, communities: [String]? = nil) async throws -> String {
        let admin = try await api.login("admin@alpha")
        var body: [String: Any] = ["login": login, "password": "a-long-phrase-2026", "display_name": login, "role": role]
        if let communities { body["community_ids"] = communities }
        let created = try await api.call(.post, "/api/v1/users", token: admin, json: body)
        #expect(created.status == .created, "\(created.text)")
        return try await api.login(login, password: "a-long-phrase-2026")
    }

    /// Opens a shift for `cashier` in `community` and takes one cash payment there; returns the payment id.
    static func deskPayment(
        _ api: APIFixture, cashier: String, community: String, house: String, id: String, amount: String,
        purpose: String = "bills"
    ) async throws -> String {
        let shift = try await api.call(
            .post, "/api/v1/cashier-shifts", token: cashier,
            json: ["community_id": community, "opening_float": Prepaid.money("0.00")])
        let shiftId = try #require(shift.object["id"] as? String, "\(shift.text)")
        var body: [String: Any] = ["id": id, "house_id": house, "purpose": purpose, "channel": "cash", "amount": Prepaid.money(amount)]
        if purpose == "top_up" { body["wallet_purpose"] = "general" }
        let paid = try await api.call(.post, "/api/v1/cashier-shifts/\(shiftId)/payments", token: cashier, json: body)
        return try #require(paid.object["payment_id"] as? String, "\(paid.text)")
    }

    @Test(
        "a colleague cannot void another cashier's payment by naming that cashier as supervisor; a supervisor of another community cannot approve",
        arguments: TestEngine.available)
    func voidNeedsASupervisorOtherThanThePaymentsCashier(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let s = try await P.billed(api)
            let cashierA = try await api.login("frontdesk@alpha")
            let cashierB = try await Self.user(api, login: "cashier-b@alpha", role: "front_desk")
            let payment = try await Self.deskPayment(
                api, cashier: cashierA, community: s.community, house: s.house, id: "desk-a1",
                amount: "10.00")
            // B asks, with A's own session as the "supervisor": refused (B is not the shift's cashier; A is the payment's cashier).
            let loophole = try await api.call(
                .post, "/api/v1/payments/\(payment)/void", token: cashierB, json: ["reason": "mistake"],
                headers: ["Courtyard-Supervisor": cashierA])
            #expect(loophole.status == .forbidden)
            // B asks with a real supervisor: still refused, B is not the shift's cashier.
            let notYours = try await api.call(
                .post, "/api/v1/payments/\(payment)/void", token: cashierB, json: ["reason": "mistake"],
                headers: ["Courtyard-Supervisor": s.finance])
            #expect(notYours.code == "not_shift_cashier")
            // A supervisor limited to another community cannot approve.
            let communities = try await api.call(.get, "/api/v1/communities?limit=10", token: s.finance).items.compactMap { $0["id"] as? String }
            let elsewhere = try #require(communities.first { $0 != s.community })
            let otherSupervisor = try await Self.user(api, login: "finance-b@alpha", role: "finance", communities: [elsewhere])
            let wrongCommunity = try await api.call(
                .post, "/api/v1/payments/\(payment)/void", token: cashierA, json: ["reason": "mistake"],
                headers: ["Courtyard-Supervisor": otherSupervisor])
            #expect(wrongCommunity.code == "supervisor_required")
            let voided = try await api.call(
                .post, "/api/v1/payments/\(payment)/void", token: cashierA, json: ["reason": "mistake"],
                headers: ["Courtyard-Supervisor": s.finance])
            #expect(voided.status == .ok, "\(voided.text)")
        }
    }

    @Test("money in another currency is refused with currency_mismatch and writes nothing", arguments: TestEngine.available)
    func foreignCurrencyIsRefused(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let s = try await P.billed(api)
            let desk = try await api.login("frontdesk@alpha")
            let before = try await api.tableCounts()
            let usd: [String: Any] = ["amount": "50.00", "currency": "USD"]
            let topUp = try await api.call(
                .post, "/api/v1/houses/\(s.house)/top-ups", token: s.finance,
                json: ["id": "usd-1", "purpose": "general", "amount": usd, "channel": "cash"])
            #expect(topUp.status == .unprocessableContent, "\(topUp.text)")
            #expect(topUp.text.contains("currency_mismatch"))
            let shift = try await api.call(.post, "/api/v1/cashier-shifts", token: desk, json: ["community_id": s.community, "opening_float": usd])
            #expect(shift.text.contains("currency_mismatch"), "\(shift.text)")
            let order = try await api.call(
                .post, "/api/v1/payment-orders", token: s.finance,
                json: [
                    "id": "usd-order", "house_id": s.house, "purpose": "top_up", "channel": "wechatpay", "wallet_purpose": "general", "amount": usd,
                ])
            #expect(order.text.contains("currency_mismatch"), "\(order.text)")
            #expect(try await api.tableCounts() == before)
        }
    }

    @Test(
        "refunds are limited together: a pending refund counts against the next ones on the same payment; wallet to cash needs staff",
        arguments: TestEngine.available)
    func refundLimitsCannotBeBeatenBySplitting(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let s = try await P.billed(api)
            let desk = try await api.login("frontdesk@alpha")
            let payment = try await Self.deskPayment(
                api, cashier: desk, community: s.community, house: s.house, id: "desk-t1",
                amount: "600.00", purpose: "top_up")
            var decisions: [String] = []
            for (index, amount) in ["150.00", "40.00", "20.00"].enumerated() {
                let refund = try await api.call(
                    .post, "/api/v1/refunds", token: desk,
                    json: [
                        "id": "split-\(index)", "source": "payment", "payment_id": payment, "amount": Prepaid.money(amount),
                        "reason_code": "overpayment", "reason": "paid too much", "destination": "cash",
                    ])
                #expect(refund.status == .created, "\(refund.text)")
                decisions.append((refund.object["rule_decision"] as? String) ?? "")
            }
            // 150 + 40 = 190 ≤ 200 could pass on amount; 190 + 20 = 210 must not, whatever each alone is.
            #expect(decisions[2].contains("refunded or pending"), "\(decisions)")
            let owner = try await api.login("owner@alpha")
            let ownHouse = try #require(try await api.call(.get, "/api/v1/me/houses", token: owner).items.first?["id"] as? String)
            _ = try await api.call(
                .post, "/api/v1/houses/\(ownHouse)/top-ups", token: s.finance,
                json: ["id": "own-1", "purpose": "general", "amount": Prepaid.money("20.00"), "channel": "cash"])
            let walletCash = try await api.call(
                .post, "/api/v1/refunds", token: owner,
                json: [
                    "id": "w-1", "source": "wallet", "house_id": ownHouse, "wallet_purpose": "general", "amount": Prepaid.money("5.00"),
                    "reason_code": "overpayment", "reason": "moving out", "destination": "cash",
                ])
            #expect(walletCash.status == .created, "\(walletCash.text)")
            #expect(walletCash.object["state"] as? String == "pending_approval")
            #expect((walletCash.object["rule_decision"] as? String)?.contains("needs staff") == true)
        }
    }

    @Test("community-scoped staff get 404 for another community's payment, receipt and order", arguments: TestEngine.available)
    func communityScopeOnPaymentRoutes(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let s = try await P.billed(api)
            let desk = try await api.login("frontdesk@alpha")
            let payment = try await Self.deskPayment(
                api, cashier: desk, community: s.community, house: s.house, id: "desk-s1",
                amount: "10.00")
            let communities = try await api.call(.get, "/api/v1/communities?limit=10", token: s.finance).items.compactMap { $0["id"] as? String }
            let elsewhere = try #require(communities.first { $0 != s.community })
            let scoped = try await Self.user(api, login: "finance-c@alpha", role: "finance", communities: [elsewhere])
            #expect(try await api.call(.get, "/api/v1/payments/\(payment)", token: scoped).status == .notFound)
            #expect(try await api.call(.get, "/api/v1/payments/\(payment)/receipt", token: scoped).status == .notFound)
            #expect(try await api.call(.get, "/api/v1/payments/\(payment)", token: s.finance).status == .ok)
            let order = try await api.call(
                .post, "/api/v1/payment-orders", token: s.finance,
                json: [
                    "id": "scope-order", "house_id": s.house, "purpose": "top_up", "channel": "wechatpay", "wallet_purpose": "general",
                    "amount": Prepaid.money("5.00"),
                ])
            if let outTradeNo = order.object["out_trade_no"] as? String {
                #expect(try await api.call(.get, "/api/v1/payment-orders/\(outTradeNo)", token: scoped).status == .notFound)
            }
        }
    }

    @Test(
        "bills name each line's fee item; receipts show the payer, their number and the community's local time; a bad receipt code shows a page",
        arguments: TestEngine.available)
    func billsAndReceiptsReadWell(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let s = try await P.billed(api)
            let bill = try await api.call(.get, "/api/v1/bills/\(s.bill)", token: s.finance)
            let line = try #require((bill.object["lines"] as? [[String: Any]])?.first)
            #expect(line["fee_item_name"] as? String == "Property fee")
            #expect(line["fee_item_code"] as? String == "property_fee")
            #expect((line["basis"] as? String)?.hasPrefix("built area") == true, "\(line)")
            #expect(((bill.object["bill"] as? [String: Any])?["total_amount"] as? [String: Any])?["currency"] as? String == "CNY")
            // A cash top-up for owner@alpha's house, paid at the desk with no payer named: the receipt names the owner.
            let desk = try await api.login("frontdesk@alpha")
            let owner = try await api.login("owner@alpha")
            let house = try #require(try await api.call(.get, "/api/v1/me/houses", token: owner).items.first)
            let payment = try await Self.deskPayment(
                api, cashier: desk, community: house["community_id"] as! String,
                house: house["id"] as! String, id: "desk-r1", amount: "10.00", purpose: "top_up")
            let receipt = try await api.call(.get, "/api/v1/payments/\(payment)/receipt", token: desk)
            #expect(receipt.text.contains("(UTC+08:00)"))
            #expect(receipt.text.contains("R0000000001"))
            #expect(receipt.text.contains("(业主 owner)"), "a cash receipt still names for whom it was paid")
            // The house changes hands without the old owner moving out on record yet: the latest owner is named, masked.
            let houseId = house["id"] as! String
            try await api.database.transaction { db in
                let row = try await db.raw("SELECT company_id, community_id FROM houses WHERE id = \(bind: houseId)").first()!
                let (company, community) = (try row.decode(column: "company_id", as: String.self), try row.decode(column: "community_id", as: String.self))
                try await db.raw(
                    """
                    INSERT INTO people (id, company_id, community_id, name, created_at, updated_at)
                    VALUES ('person-new-owner', \(bind: company), \(bind: community), '欧阳新业', 0, 0)
                    """
                ).run()
                try await db.raw(
                    """
                    INSERT INTO occupancies (id, company_id, community_id, house_id, person_id, role, valid_from, created_at, updated_at)
                    VALUES ('occupancy-new-owner', \(bind: company), \(bind: community), \(bind: houseId), 'person-new-owner', 'owner',
                            '2099-01-01', 0, 0)
                    """
                ).run()
            }
            let shiftId = try await api.database.read { db in
                try await db.raw("SELECT shift_id FROM payments WHERE id = \(bind: payment)").first()!.decode(column: "shift_id", as: String.self)
            }
            let paid = try await api.call(
                .post, "/api/v1/cashier-shifts/\(shiftId)/payments", token: desk,
                json: [
                    "id": "desk-r2", "house_id": houseId, "purpose": "top_up", "wallet_purpose": "general", "channel": "cash",
                    "amount": Prepaid.money("10.00"),
                ])
            let later = try #require(paid.object["payment_id"] as? String, "\(paid.text)")
            let laterReceipt = try await api.call(.get, "/api/v1/payments/\(later)/receipt", token: desk)
            #expect(laterReceipt.text.contains("欧*** (业主 owner)"), "the latest current owner, surname and a mask")
            let bad = try await api.call(.get, "/r/not-a-real-code")
            #expect(bad.status == .notFound)
            #expect(bad.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(bad.text.contains("Receipt not found"))
        }
    }
}
