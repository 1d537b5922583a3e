import CourtyardDomain
import CourtyardLedger
import CourtyardPayments
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import HTTPTypes
import SQLKit
import Synchronization
import Testing

/// Payments end to end through the API, with WeChat Pay and Alipay faked at their HTTP boundary only: orders, signed
/// notifications (replayed, tampered, skewed, early, mismatched), allocation to bills, wallets and deposits, receipts.
@Suite("Payments API")
struct PaymentAPITests {
    /// 2026-11-22T02:00:00Z (10:00 in Shanghai): October's bills are one day into their late fees.
    static let start = Date(timeIntervalSince1970: 1_795_312_800)
    static var timestamp: Int64 { Int64(start.timeIntervalSince1970) }

    struct Billed {
        var finance: String
        var community: String
        var house: String
        var bill: String
        var due: String
    }

    /// October's property fees for the first building of alpha, with a late-fee policy; returns one bill and its amount due
    /// today, derived by hand.
    static func billed(_ api: APIFixture) async throws -> Billed {
        let finance = try await api.login("finance@alpha")
        let community = try #require(try await api.first("communities", token: finance)["id"] as? String)
        let building = try #require(
            try await api.call(.get, "/api/v1/buildings?community_id=\(community)&limit=1", token: finance).items.first?["id"] as? String)
        let item = try await api.call(
            .post, "/api/v1/fee-items", token: finance,
            json: [
                "community_id": community, "code": "property_fee", "name": "Property fee", "category": "property_fee", "due_days": 15,
                "late_fee_policy": ["grace_days": 5, "daily_rate_per_million": 500, "cap": "principal", "rounding": "half_up"],
            ])
        let itemId = try #require(item.object["id"] as? String, "\(item.text)")
        _ = try await api.call(
            .post, "/api/v1/fee-standards", token: finance,
            json: [
                "fee_item_id": itemId, "effective_from": "2026-01-01",
                "rule": ["kind": "per_area", "price_per_square_metre": "2.5", "area_basis": "built"],
            ])
        _ = try await api.call(
            .post, "/api/v1/fee-attachments", token: finance,
            json: [
                "fee_item_id": itemId, "scope": "building", "target": building,
                "valid_from": "2026-01-01",
            ])
        let run = try await api.call(.post, "/api/v1/communities/\(community)/bill-runs", token: finance, json: ["period": "2026-10"])
        #expect(run.status == .created, "\(run.text)")
        let bill = try #require(try await api.call(.get, "/api/v1/bills?community_id=\(community)&limit=1", token: finance).items.first)
        let billId = try #require(bill["id"] as? String)
        let document = try await api.call(.get, "/api/v1/bills/\(billId)", token: finance)
        let houseId = try #require(bill["house_id"] as? String)
        // Derived by hand, not read back: the seeded house 101 has 112.49 m² built; 112.49 × 2.50 = 281.225, rounded
        // half up to 281.23. Issued 2026-11-01, due 15 days later (11-16), 5 days' grace: one day late on 11-22, so
        // 28,123 fen × 500 / 10⁶ = 14.06 fen, half up 14. Due: 28,123 + 14 = 28,137 fen.
        let house = try await api.call(.get, "/api/v1/houses/\(houseId)", token: finance)
        try #require(house.object["built_area"] as? String == "112.49", "the fixture changed: \(house.text)")
        let due = "281.37"
        #expect(Prepaid.amount(document.object["amount_due"]) == due, "\(document.text)")
        #expect(Prepaid.amount(document.object["late_fee_total"]) == "0.14", "\(document.text)")
        return Billed(
            finance: finance, community: community, house: houseId, bill: billId, due: due)
    }

    static func with(
        _ engine: TestEngine, fake: FakePaymentChannels = FakePaymentChannels(),
        _ body: @escaping @Sendable (APIFixture) async throws -> Void
    ) async throws {
        try await APIFixture.with(engine, clock: ManualClock(start), channels: { TestKeys.channels(companyId: $0) }, channelHTTP: fake, body)
    }

    static func notify(_ api: APIFixture, _ note: (body: String, headers: [String: String])) async throws -> APIFixture.Reply {
        try await api.call(.post, "/api/v1/payments/notify/wechatpay", raw: note.body, headers: note.headers)
    }

    static func fen(_ text: String) -> Int64 { try! Money(parsing: text).minorUnits }

    @Test(
        "a WeChat Pay order pays the bill with its late fee first; three replays change nothing; the receipt verifies",
        arguments: TestEngine.available)
    func wechatPaysABill(engine: TestEngine) async throws {
        let fake = FakePaymentChannels()
        try await Self.with(engine, fake: fake) { api in
            let s = try await Self.billed(api)
            let order = try await api.call(
                .post, "/api/v1/payment-orders", token: s.finance,
                json: ["id": "app-0001", "house_id": s.house, "purpose": "bills", "channel": "wechatpay", "bill_ids": [s.bill]])
            #expect(order.status == .created, "\(order.text)")
            let outTradeNo = try #require(order.object["out_trade_no"] as? String)
            #expect(Prepaid.amount(order.object["amount"]) == s.due)
            #expect((order.object["pay_with"] as? [String: Any])?["code_url"] as? String == "weixin://wxpay/bizpayurl?pr=\(outTradeNo)")
            #expect((order.object["qr_svg"] as? String)?.hasPrefix("<svg") == true)
            #expect(fake.requests.withLock { $0 } == ["/v3/pay/transactions/native"])
            // The same id is the same order, and does not ask WeChat again.
            let again = try await api.call(
                .post, "/api/v1/payment-orders", token: s.finance,
                json: ["id": "app-0001", "house_id": s.house, "purpose": "bills", "channel": "wechatpay", "bill_ids": [s.bill]])
            #expect(again.object["out_trade_no"] as? String == outTradeNo)
            #expect(fake.requests.withLock { $0 }.count == 1)
            let other = try await api.call(
                .post, "/api/v1/payment-orders", token: s.finance,
                json: ["id": "app-0001", "house_id": s.house, "purpose": "bills", "channel": "alipay", "bill_ids": [s.bill]])
            #expect(other.status == .conflict)
            #expect(other.code == "idempotency_conflict")

            let note = try FakePaymentChannels.wechatNotification(
                outTradeNo: outTradeNo, transactionId: "4200000001202611220000000001",
                total: Self.fen(s.due), at: Self.timestamp)
            for _ in 0..<3 {
                let reply = try await Self.notify(api, note)
                #expect(reply.status == .noContent, "\(reply.text)")
            }
            let payments = try await api.call(.get, "/api/v1/payments?house_id=\(s.house)", token: s.finance)
            #expect(payments.items.count == 1)
            let payment = try #require(payments.items.first)
            #expect(payment["receipt_number"] as? Int == 1)
            #expect(Prepaid.amount(payment["amount"]) == s.due, "money is {amount, currency} in the API: \(payment)")
            let paymentId = try #require(payment["id"] as? String)
            let view = try await api.call(.get, "/api/v1/payments/\(paymentId)", token: s.finance)
            let allocations = view.object["allocations"] as? [[String: Any]] ?? []
            #expect(allocations.map { $0["target"] as? String } == ["bill_late_fee", "bill_principal"], "\(view.text)")
            let bill = try await api.call(.get, "/api/v1/bills/\(s.bill)", token: s.finance)
            #expect((bill.object["bill"] as? [String: Any])?["status"] as? String == "paid", "\(bill.text)")
            #expect(Prepaid.amount(bill.object["amount_due"]) == "0.00", "\(bill.text)")
            let order2 = try await api.call(.get, "/api/v1/payment-orders/\(outTradeNo)", token: s.finance)
            #expect(order2.object["state"] as? String == "paid")
            #expect(try await api.call(.post, "/api/v1/payment-orders/\(outTradeNo)/close", token: s.finance).code == "order_paid")
            let callbacks = try await Prepaid.scalar(api, "SELECT times_received AS v FROM payment_callbacks")
            #expect(callbacks == 3)
            #expect(try await Prepaid.ledgerBalances(api))
            // The house owes nothing: the receivable is back to zero.
            let receivable = AccountKey(communityId: s.community, kind: .receivable, owner: s.house, purpose: "fees")
            let account = try await api.call(.get, "/api/v1/ledger/accounts/\(receivable.id)", token: s.finance)
            #expect(Prepaid.amount(account.object["balance"]) == "0.00", "\(account.text)")

            // The receipt re-prints and verifies publicly by its token.
            let receipt = try await api.call(.get, "/api/v1/payments/\(paymentId)/receipt", token: s.finance)
            #expect(receipt.text.contains("R0000000001"))
            #expect(receipt.text.contains("<svg"))
            let url = try #require(view.object["receipt_url"] as? String)
            #expect(url.hasPrefix("https://pay.example.com/r/"))
            let token = String(url.dropFirst("https://pay.example.com/r/".count))
            let page = try await api.call(.get, "/r/\(token)")
            #expect(page.status == .ok)
            #expect(page.text.contains("R0000000001") && page.text.contains(s.due))
            #expect(try await api.call(.get, "/r/\(String(repeating: "0", count: 32))").status == .notFound)
        }
    }

    @Test(
        "unsigned, tampered (one byte), foreign-key and skewed (301 s) callbacks are refused with 401 and write nothing; 299 s passes",
        arguments: TestEngine.available)
    func forgedCallbacks(engine: TestEngine) async throws {
        try await Self.with(engine) { api in
            let s = try await Self.billed(api)
            let order = try await api.call(
                .post, "/api/v1/payment-orders", token: s.finance,
                json: ["id": "app-0002", "house_id": s.house, "purpose": "bills", "channel": "wechatpay"])
            let outTradeNo = try #require(order.object["out_trade_no"] as? String, "\(order.text)")
            #expect(Prepaid.amount(order.object["amount"]) == s.due, "\(order.text)")
            let total = Self.fen(s.due)
            let before = try await api.tableCounts()
            let good = try FakePaymentChannels.wechatNotification(
                outTradeNo: outTradeNo, transactionId: "4200000001202611220000000002", total: total,
                at: Self.timestamp)
            var unsigned = good
            unsigned.headers["Wechatpay-Signature"] = nil
            var tampered = good
            tampered.body = tampered.body.replacingOccurrences(
                of: "\"event_type\":\"TRANSACTION.SUCCESS\"", with: "\"event_type\":\"TRANSACTION.SUCCESs\"")
            let foreign = try FakePaymentChannels.wechatNotification(
                outTradeNo: outTradeNo, transactionId: "4200000001202611220000000002", total: total,
                at: Self.timestamp, key: TestKeys.alipay)
            let skewed = try FakePaymentChannels.wechatNotification(
                outTradeNo: outTradeNo, transactionId: "4200000001202611220000000002", total: total,
                at: Self.timestamp - 301)
            for (note, code) in [
                (unsigned, "signature_missing"), (tampered, "signature_invalid"), (foreign, "signature_invalid"),
                (skewed, "timestamp_out_of_range"),
            ] {
                let reply = try await Self.notify(api, note)
                #expect(reply.status == .unauthorized, "\(code): \(reply.text)")
                #expect(reply.code == code)
            }
            #expect(try await api.tableCounts() == before)
            let late = try FakePaymentChannels.wechatNotification(
                outTradeNo: outTradeNo, transactionId: "4200000001202611220000000002", total: total,
                at: Self.timestamp - 299)
            #expect(try await Self.notify(api, late).status == .noContent)
            #expect(try await api.call(.get, "/api/v1/payments?house_id=\(s.house)", token: s.finance).items.count == 1)
        }
    }

    @Test(
        "a correctly signed callback for another merchant or app (WeChat) or another seller (Alipay) is refused and writes nothing",
        arguments: TestEngine.available)
    func foreignMerchant(engine: TestEngine) async throws {
        try await Self.with(engine) { api in
            let s = try await Self.billed(api)
            let wechat = try await api.call(
                .post, "/api/v1/payment-orders", token: s.finance,
                json: ["id": "app-merchant", "house_id": s.house, "purpose": "bills", "channel": "wechatpay"])
            let wechatTradeNo = try #require(wechat.object["out_trade_no"] as? String, "\(wechat.text)")
            #expect(Prepaid.amount(wechat.object["amount"]) == s.due, "\(wechat.text)")
            let total = Self.fen(s.due)
            let alipay = try await api.call(
                .post, "/api/v1/payment-orders", token: s.finance,
                json: [
                    "id": "ali-seller", "house_id": s.house, "purpose": "top_up", "channel": "alipay", "wallet_purpose": "electricity",
                    "amount": Prepaid.money("50.00"),
                ])
            let alipayTradeNo = try #require(alipay.object["out_trade_no"] as? String, "\(alipay.text)")
            let before = try await api.tableCounts()
            for (mchid, appid) in [("1900000999", "wx8888888888888888"), ("1900000109", "wx9999999999999999")] {
                let note = try FakePaymentChannels.wechatNotification(
                    outTradeNo: wechatTradeNo, transactionId: "4200000001202611220000000077", total: total, at: Self.timestamp,
                    mchid: mchid, appid: appid)
                let reply = try await Self.notify(api, note)
                #expect(reply.status == .unauthorized, "\(mchid) \(appid): \(reply.text)")
                #expect(reply.code == "merchant_mismatch")
            }
            let form = try FakePaymentChannels.alipayNotification(
                outTradeNo: alipayTradeNo, tradeNo: "2026112222001446881400000077", amount: "50.00", sellerId: "2088000000000999")
            let reply = try await api.call(
                .post, "/api/v1/payments/notify/alipay", raw: form, headers: ["Content-Type": "application/x-www-form-urlencoded"])
            #expect(reply.status == .unauthorized, "\(reply.text)")
            #expect(reply.code == "merchant_mismatch")
            #expect(try await api.tableCounts() == before)
            // The same notifications for this merchant, app and seller go through.
            let good = try FakePaymentChannels.wechatNotification(
                outTradeNo: wechatTradeNo, transactionId: "4200000001202611220000000077", total: total, at: Self.timestamp)
            #expect(try await Self.notify(api, good).status == .noContent)
            let goodForm = try FakePaymentChannels.alipayNotification(
                outTradeNo: alipayTradeNo, tradeNo: "2026112222001446881400000077", amount: "50.00")
            let accepted = try await api.call(
                .post, "/api/v1/payments/notify/alipay", raw: goodForm, headers: ["Content-Type": "application/x-www-form-urlencoded"])
            #expect(accepted.text == "success")
            #expect(try await api.call(.get, "/api/v1/payments?house_id=\(s.house)", token: s.finance).items.count == 2)
        }
    }

    @Test(
        "a callback before its order exists and one with another amount are held for review, not lost; staff apply the early one later",
        arguments: TestEngine.available)
    func heldCallbacks(engine: TestEngine) async throws {
        try await Self.with(engine) { api in
            let s = try await Self.billed(api)
            // The payer's app raced ahead: WeChat reports a payment for an out-trade-no we have not stored (yet).
            let outTradeNo = PaymentService.outTradeNo(companyId: api.alpha.companyId, requestId: "app-early")
            let early = try FakePaymentChannels.wechatNotification(
                outTradeNo: outTradeNo, transactionId: "4200000001202611220000000003",
                total: Self.fen(s.due), at: Self.timestamp)
            #expect(try await Self.notify(api, early).status == .noContent)
            let order = try await api.call(
                .post, "/api/v1/payment-orders", token: s.finance,
                json: ["id": "app-early", "house_id": s.house, "purpose": "bills", "channel": "wechatpay"])
            #expect(order.object["out_trade_no"] as? String == outTradeNo, "\(order.text)")
            // A different amount for the same order is held too.
            let wrong = try FakePaymentChannels.wechatNotification(
                outTradeNo: outTradeNo, transactionId: "4200000001202611220000000004",
                total: Self.fen(s.due) - 1, at: Self.timestamp)
            #expect(try await Self.notify(api, wrong).status == .noContent)
            let held = try await api.call(.get, "/api/v1/payment-callbacks", token: s.finance)
            #expect(Set(held.items.compactMap { $0["outcome"] as? String }) == ["unknown_order", "amount_mismatch"], "\(held.text)")
            #expect(try await api.call(.get, "/api/v1/payments?house_id=\(s.house)", token: s.finance).items.isEmpty)
            let earlyId = try #require(held.items.first { $0["outcome"] as? String == "unknown_order" }?["id"] as? String)
            let applied = try await api.call(
                .post, "/api/v1/payment-callbacks/\(earlyId)/resolve", token: s.finance,
                json: ["action": "apply", "reason": "order was created after the payment"])
            #expect(applied.status == .ok, "\(applied.text)")
            #expect(applied.object["status"] as? String == "applied")
            let again = try await api.call(
                .post, "/api/v1/payment-callbacks/\(earlyId)/resolve", token: s.finance,
                json: ["action": "apply", "reason": "twice"])
            #expect(again.status == .conflict)
            // WeChat delivering the early notification again is now a replay of the applied payment.
            #expect(try await Self.notify(api, early).status == .noContent)
            #expect(try await api.call(.get, "/api/v1/payments?house_id=\(s.house)", token: s.finance).items.count == 1)
            let bill = try await api.call(.get, "/api/v1/bills/\(s.bill)", token: s.finance)
            #expect((bill.object["bill"] as? [String: Any])?["status"] as? String == "paid")
            #expect(try await Prepaid.ledgerBalances(api))
        }
    }

    @Test("an Alipay top-up credits the wallet once for three notifications and answers the literal success", arguments: TestEngine.available)
    func alipayTopUp(engine: TestEngine) async throws {
        try await Self.with(engine) { api in
            let finance = try await api.login("finance@alpha")
            let house = try #require(try await api.first("houses", token: finance)["id"] as? String)
            let community = try #require(try await api.first("houses", token: finance)["community_id"] as? String)
            let order = try await api.call(
                .post, "/api/v1/payment-orders", token: finance,
                json: [
                    "id": "topup-0001", "house_id": house, "purpose": "top_up", "channel": "alipay", "wallet_purpose": "electricity",
                    "amount": Prepaid.money("50.00"),
                ])
            #expect(order.status == .created, "\(order.text)")
            let outTradeNo = try #require(order.object["out_trade_no"] as? String)
            #expect(((order.object["pay_with"] as? [String: Any])?["code_url"] as? String)?.hasPrefix("https://qr.alipay.com/") == true)
            let form = try FakePaymentChannels.alipayNotification(outTradeNo: outTradeNo, tradeNo: "2026112222001446881400000001", amount: "50.00")
            for _ in 0..<3 {
                let reply = try await api.call(
                    .post, "/api/v1/payments/notify/alipay", raw: form,
                    headers: ["Content-Type": "application/x-www-form-urlencoded; charset=utf-8"])
                #expect(reply.status == .ok)
                #expect(reply.text == "success")
            }
            let wallet = AccountKey.wallet(community, house: house, purpose: "electricity")
            let account = try await api.call(.get, "/api/v1/ledger/accounts/\(wallet.id)", token: finance)
            #expect(Prepaid.amount(account.object["balance"]) == "50.00", "\(account.text)")
            let tampered = form.replacingOccurrences(of: "total_amount=50.00", with: "total_amount=5000.00")
            let refused = try await api.call(
                .post, "/api/v1/payments/notify/alipay", raw: tampered,
                headers: ["Content-Type": "application/x-www-form-urlencoded"])
            #expect(refused.status == .unauthorized)
            #expect(refused.code == "signature_invalid")
            #expect(try await Prepaid.ledgerBalances(api))
        }
    }

    @Test(
        "an owner pays their own house in the mini program (a JSAPI order with signed wx.requestPayment parameters), not another's",
        arguments: TestEngine.available)
    func ownerJSAPIOrder(engine: TestEngine) async throws {
        try await Self.with(engine) { api in
            let owner = try await api.login("owner@alpha")
            let houses = try await api.call(.get, "/api/v1/me/houses", token: owner)
            let house = try #require(houses.items.first?["id"] as? String ?? houses.items.first?["house_id"] as? String, "\(houses.text)")
            let order = try await api.call(
                .post, "/api/v1/payment-orders", token: owner,
                json: [
                    "id": "mini-1", "house_id": house, "purpose": "top_up", "channel": "wechatpay", "wallet_purpose": "general",
                    "amount": Prepaid.money("10.00"), "wechat_openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
                ])
            #expect(order.status == .created, "\(order.text)")
            #expect(order.object["payer_relation"] as? String == "occupant")
            let pay = try #require((order.object["pay_with"] as? [String: Any])?["parameters"] as? [String: String], "\(order.text)")
            #expect(pay["package"]?.hasPrefix("prepay_id=wx") == true)
            let message = "\(pay["appId"] ?? "")\n\(pay["timeStamp"] ?? "")\n\(pay["nonceStr"] ?? "")\n\(pay["package"] ?? "")\n"
            #expect(RSAKeys.verify(pay["paySign"] ?? "", of: Data(message.utf8), with: TestKeys.wechatMerchant.publicKey))
            let finance = try await api.login("finance@alpha")
            let others = try await api.call(.get, "/api/v1/houses?limit=50", token: finance).items.compactMap { $0["id"] as? String }.filter {
                $0 != house
            }
            let foreign = try await api.call(
                .post, "/api/v1/payment-orders", token: owner,
                json: [
                    "id": "mini-2", "house_id": try #require(others.first), "purpose": "top_up", "channel": "wechatpay", "wallet_purpose": "general",
                    "amount": Prepaid.money("10.00"),
                ])
            #expect(foreign.status == .notFound, "\(foreign.text)")
        }
    }

    @Test(
        "money the rules cannot allocate (a bill payment whose excess top-up is above the wallet limit) is held for review, not lost",
        arguments: TestEngine.available)
    func unallocatableMoneyIsHeld(engine: TestEngine) async throws {
        try await Self.with(engine) { api in
            let s = try await Self.billed(api)
            let order = try await api.call(
                .post, "/api/v1/payment-orders", token: s.finance,
                json: [
                    "id": "big-1", "house_id": s.house, "purpose": "bills", "channel": "wechatpay", "bill_ids": [s.bill],
                    "amount": Prepaid.money("60000.00"),
                ])
            let outTradeNo = try #require(order.object["out_trade_no"] as? String, "\(order.text)")
            let note = try FakePaymentChannels.wechatNotification(
                outTradeNo: outTradeNo, transactionId: "4200000001202611220000000050",
                total: 60_000_00, at: Self.timestamp)
            #expect(try await Self.notify(api, note).status == .noContent)
            #expect(try await api.call(.get, "/api/v1/payments?house_id=\(s.house)", token: s.finance).items.isEmpty)
            let held = try await api.call(.get, "/api/v1/payment-callbacks", token: s.finance)
            #expect(held.items.first?["outcome"] as? String == "apply_failed", "\(held.text)")
            #expect((held.items.first?["detail"] as? String)?.contains("amount_over_limit") == true, "\(held.text)")
            // The order is still open, the bill unpaid, the ledger untouched by the failed attempt.
            #expect(try await api.call(.get, "/api/v1/payment-orders/\(outTradeNo)", token: s.finance).object["state"] as? String == "created")
            #expect(try await Prepaid.ledgerBalances(api))
        }
    }

    @Test("closing an unpaid order closes it at WeChat too; money that still arrives for it is held as order_closed", arguments: TestEngine.available)
    func closedOrder(engine: TestEngine) async throws {
        let fake = FakePaymentChannels()
        try await Self.with(engine, fake: fake) { api in
            let finance = try await api.login("finance@alpha")
            let house = try #require(try await api.first("houses", token: finance)["id"] as? String)
            let order = try await api.call(
                .post, "/api/v1/payment-orders", token: finance,
                json: [
                    "id": "close-1", "house_id": house, "purpose": "top_up", "channel": "wechatpay", "wallet_purpose": "general",
                    "amount": Prepaid.money("5.00"),
                ])
            let outTradeNo = try #require(order.object["out_trade_no"] as? String, "\(order.text)")
            let closed = try await api.call(.post, "/api/v1/payment-orders/\(outTradeNo)/close", token: finance)
            #expect(closed.object["state"] as? String == "closed", "\(closed.text)")
            #expect(fake.requests.withLock { $0 }.contains("/v3/pay/transactions/out-trade-no/\(outTradeNo)/close"))
            let late = try FakePaymentChannels.wechatNotification(
                outTradeNo: outTradeNo, transactionId: "4200000001202611220000000060", total: 5_00,
                at: Self.timestamp)
            #expect(try await Self.notify(api, late).status == .noContent)
            #expect(try await api.call(.get, "/api/v1/payment-callbacks", token: finance).items.first?["outcome"] as? String == "order_closed")
            #expect(try await api.call(.get, "/api/v1/payments?house_id=\(house)", token: finance).items.isEmpty)
        }
    }

    @Test("five concurrent deliveries of one notification make one payment and answer all five", arguments: TestEngine.available)
    func concurrentDeliveries(engine: TestEngine) async throws {
        try await Self.with(engine) { api in
            let finance = try await api.login("finance@alpha")
            let house = try #require(try await api.first("houses", token: finance)["id"] as? String)
            let order = try await api.call(
                .post, "/api/v1/payment-orders", token: finance,
                json: [
                    "id": "race-1", "house_id": house, "purpose": "top_up", "channel": "wechatpay", "wallet_purpose": "general",
                    "amount": Prepaid.money("12.34"),
                ])
            let outTradeNo = try #require(order.object["out_trade_no"] as? String, "\(order.text)")
            let note = try FakePaymentChannels.wechatNotification(
                outTradeNo: outTradeNo, transactionId: "4200000001202611220000000040", total: 12_34,
                at: Self.timestamp)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<5 { group.addTask { Int(try await Self.notify(api, note).status.code) } }
                var all: [Int] = []
                for try await status in group { all.append(status) }
                return all
            }
            #expect(statuses == [204, 204, 204, 204, 204])
            #expect(try await api.call(.get, "/api/v1/payments?house_id=\(house)", token: finance).items.count == 1)
            #expect(try await Prepaid.scalar(api, "SELECT times_received AS v FROM payment_callbacks") == 5)
            #expect(try await Prepaid.scalar(api, "SELECT COUNT(*) AS v FROM payment_callbacks WHERE outcome <> 'applied'") == 0)
            #expect(try await Prepaid.ledgerBalances(api))
        }
    }

    @Test(
        "orders refuse an unknown channel, a zero amount, a payer who is neither occupant nor proxy, and nothing due", arguments: TestEngine.available
    )
    func badOrders(engine: TestEngine) async throws {
        try await Self.with(engine) { api in
            let finance = try await api.login("finance@alpha")
            let house = try #require(try await api.first("houses", token: finance)["id"] as? String)
            let person = try #require(try await api.first("people", token: finance)["id"] as? String)
            let before = try await api.tableCounts()
            let cases: [([String: Any], Int, String)] = [
                (["id": "x1", "house_id": house, "purpose": "bills", "channel": "paypal"], 422, "unknown_channel"),
                (
                    [
                        "id": "x2", "house_id": house, "purpose": "top_up", "channel": "wechatpay", "wallet_purpose": "electricity",
                        "amount": Prepaid.money("0.00"),
                    ], 422, "amount_not_positive"
                ),
                (["id": "x3", "house_id": house, "purpose": "bills", "channel": "wechatpay"], 422, "nothing_due"),
                (
                    [
                        "id": "x4", "house_id": house, "purpose": "deposit", "channel": "bank", "amount": Prepaid.money("100.00"),
                        "deposit_kind": "pets",
                    ],
                    422, "invalid_value"
                ),
            ]
            for (body, status, code) in cases {
                let reply = try await api.call(.post, "/api/v1/payment-orders", token: finance, json: body)
                #expect(reply.status.code == status, "\(code): \(reply.text)")
                #expect(reply.code == code)
            }
            // A person of the community who neither lives in the house nor is its proxy payer.
            let stranger = try await api.database.read { db in
                try await db.raw(
                    """
                    SELECT p.id FROM people p WHERE p.company_id = \(bind: api.alpha.companyId)
                    AND NOT EXISTS (SELECT 1 FROM occupancies o WHERE o.person_id = p.id AND o.house_id = \(bind: house)) LIMIT 1
                    """
                ).first().map { try $0.decode(column: "id", as: String.self) }
            }
            if let stranger {
                let body: [String: Any] = [
                    "id": "x5", "house_id": house, "purpose": "top_up", "channel": "bank", "wallet_purpose": "general",
                    "amount": Prepaid.money("10.00"), "payer_person_id": stranger,
                ]
                let refused = try await api.call(.post, "/api/v1/payment-orders", token: finance, json: body)
                #expect(refused.code == "payer_not_linked", "\(refused.text)")
                #expect(try await api.tableCounts() == before)
                let admin = try await api.login("frontdesk@alpha")
                let linked = try await api.call(
                    .post, "/api/v1/houses/\(house)/proxy-payers", token: admin, json: ["person_id": stranger, "relation": "child"])
                #expect(linked.status == .noContent, "\(linked.text)")
                let proxy = try await api.call(.post, "/api/v1/payment-orders", token: finance, json: body)
                #expect(proxy.status == .created, "\(proxy.text)")
                #expect(proxy.object["payer_relation"] as? String == "proxy")
            }
            _ = person
            // Another company cannot read the order or pay into alpha's house.
            let bravo = try await api.login("finance@bravo")
            let foreign = try await api.call(
                .post, "/api/v1/payment-orders", token: bravo,
                json: [
                    "id": "x6", "house_id": house, "purpose": "top_up", "channel": "bank", "wallet_purpose": "general",
                    "amount": Prepaid.money("10.00"),
                ])
            #expect(foreign.status == .notFound)
        }
    }
}
