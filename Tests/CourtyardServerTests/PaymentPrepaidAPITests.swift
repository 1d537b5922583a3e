import CourtyardDomain
import CourtyardLedger
import CourtyardPayments
import CourtyardPrepaid
import CourtyardTestSupport
import Foundation
import HTTPTypes
import Synchronization
import Testing

/// Payments meeting prepaid metering and slow channel refunds: a WeChat top-up restores a cut-off meter, and a refund
/// WeChat answers PROCESSING settles when its REFUND.SUCCESS notification arrives.
@Suite("Payments and prepaid API")
struct PaymentPrepaidAPITests {
    @Test(
        "a WeChat Pay top-up for a cut-off meter repays what is owed and restores supply from the callback's transaction",
        arguments: TestEngine.available)
    func callbackRestoresSupply(engine: TestEngine) async throws {
        let clock = ManualClock(PrepaidAPITests.start)
        try await APIFixture.with(
            engine, clock: clock, channels: { TestKeys.channels(companyId: $0) },
            channelHTTP: FakePaymentChannels(now: { clock.now() })
        ) { api in
            let s = try await PrepaidAPITests.setup(api)
            #expect(try await PrepaidAPITests.topUp(api, s, "1.00").status == .created)
            let h = { (hours: Double) in PrepaidAPITests.start.addingTimeInterval(-hours * 3600) }
            let readings = [PrepaidAPITests.reading(s.key, "1000", h(3)), PrepaidAPITests.reading(s.key, "1003", h(2))]
            #expect(try await api.call(.post, "/api/v1/readings", token: s.engineer, json: readings).status == .ok)
            #expect(try await Prepaid.eventually { await s.fleet.position(s.device) == .closed })

            let order = try await api.call(
                .post, "/api/v1/payment-orders", token: s.finance,
                json: [
                    "id": "restore-1", "house_id": s.house, "purpose": "top_up", "channel": "wechatpay", "wallet_purpose": "electricity",
                    "amount": Prepaid.money("20.00"),
                ])
            let outTradeNo = try #require(order.object["out_trade_no"] as? String, "\(order.text)")
            let note = try FakePaymentChannels.wechatNotification(
                outTradeNo: outTradeNo, transactionId: "4200000001202611010000000001", total: 20_00,
                at: Int64(clock.now().timeIntervalSince1970))
            #expect(try await PaymentAPITests.notify(api, note).status == .noContent)
            #expect(try await Prepaid.eventually { await s.fleet.position(s.device) == .open })
            let view = try await PrepaidAPITests.overview(api, s)
            #expect(Prepaid.amount(view["owed"]) == "0.00", "\(view)")
            #expect(Prepaid.amount(view["available"]) == "18.00", "\(view)")
            #expect(try await Prepaid.ledgerBalances(api))
        }
    }

    @Test("a refund WeChat answers PROCESSING waits, and its REFUND.SUCCESS notification (replayed) settles it once", arguments: TestEngine.available)
    func processingRefundSettlesByNotification(engine: TestEngine) async throws {
        let fake = FakePaymentChannels()
        try await PaymentAPITests.with(engine, fake: fake) { api in
            let finance = try await api.login("finance@alpha")
            let desk = try await api.login("frontdesk@alpha")
            let house = try #require(try await api.first("houses", token: finance)["id"] as? String)
            let community = try #require(try await api.first("houses", token: finance)["community_id"] as? String)
            let order = try await api.call(
                .post, "/api/v1/payment-orders", token: finance,
                json: [
                    "id": "pr-1", "house_id": house, "purpose": "top_up", "channel": "wechatpay", "wallet_purpose": "general",
                    "amount": Prepaid.money("300.00"),
                ])
            let outTradeNo = try #require(order.object["out_trade_no"] as? String, "\(order.text)")
            #expect(
                try await PaymentAPITests.notify(
                    api,
                    try FakePaymentChannels.wechatNotification(
                        outTradeNo: outTradeNo, transactionId: "4200000001202611220000000030", total: 300_00, at: PaymentAPITests.timestamp)
                ).status == .noContent)
            let paymentId = try #require(try await api.call(.get, "/api/v1/payments?house_id=\(house)", token: finance).items.first?["id"] as? String)
            fake.refundStatus.withLock { $0 = "PROCESSING" }
            let refund = try await api.call(
                .post, "/api/v1/refunds", token: desk,
                json: [
                    "id": "pr-rf", "source": "payment", "payment_id": paymentId, "amount": Prepaid.money("50.00"), "reason_code": "overpayment",
                    "reason": "paid too much",
                ])
            #expect(refund.object["state"] as? String == "processing", "\(refund.text)")
            let refundId = try #require(refund.object["id"] as? String)
            let payable = AccountKey.community(community, .refundsPayable)
            #expect(Prepaid.amount(try await api.call(.get, "/api/v1/ledger/accounts/\(payable.id)", token: finance).object["balance"]) == "50.00")
            let note = try FakePaymentChannels.wechatRefundNotification(
                outRefundNo: "RF" + refundId.replacingOccurrences(of: "-", with: ""),
                refundId: "50300000012026112200000777", status: "SUCCESS",
                at: PaymentAPITests.timestamp)
            for _ in 0..<3 { #expect(try await PaymentAPITests.notify(api, note).status == .noContent) }
            let settled = try await api.call(.get, "/api/v1/refunds/\(refundId)", token: finance)
            #expect(settled.object["state"] as? String == "succeeded", "\(settled.text)")
            #expect(settled.object["channel_refund_id"] as? String == "50300000012026112200000777")
            #expect(Prepaid.amount(try await api.call(.get, "/api/v1/ledger/accounts/\(payable.id)", token: finance).object["balance"]) == "0.00")
            #expect(try await Prepaid.ledgerBalances(api))
        }
    }
}
