import CourtyardDomain
import CourtyardLedger
import CourtyardPayments
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import HTTPTypes
import SQLKit
import Synchronization
import Testing

/// The front desk and the back office through the API: shifts, desk payments and supervised voids, refunds with
/// rules and four eyes, deposits with conditions, bank statements, reconciliation.
@Suite("Payments back office API")
struct PaymentDeskAPITests {
    typealias P = PaymentAPITests

    @Test("twenty desk payments at once get receipts numbered 1 to 20: no gap, no number twice", arguments: TestEngine.available)
    func concurrentReceiptsHaveNoGaps(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let s = try await P.billed(api)
            let desk = try await api.login("frontdesk@alpha")
            let opened = try await api.call(
                .post, "/api/v1/cashier-shifts", token: desk, json: ["community_id": s.community, "opening_float": Prepaid.money("0.00")])
            let shift = try #require(opened.object["id"] as? String, "\(opened.text)")
            let read = try await api.call(.get, "/api/v1/cashier-shifts/\(shift)", token: desk)
            let view = read.object["shift"] as? [String: Any]
            #expect(read.status == .ok && view?["id"] as? String == shift && view?["status"] as? String == "open", "\(read.text)")
            #expect((read.object["payments"] as? [Any])?.isEmpty == true, "\(read.text)")
            let before = try await Prepaid.scalar(api, "SELECT COUNT(*) AS v FROM receipts")
            #expect(before == 0)
            let numbers = try await withThrowingTaskGroup(of: Int?.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        let paid = try await api.call(
                            .post, "/api/v1/cashier-shifts/\(shift)/payments", token: desk,
                            json: [
                                "id": "rush-\(index)", "house_id": s.house, "purpose": "top_up", "wallet_purpose": "general", "channel": "cash",
                                "amount": Prepaid.money("\(index + 1).00"),
                            ])
                        #expect(paid.status == .created, "\(paid.text)")
                        return paid.object["receipt_number"] as? Int
                    }
                }
                var numbers: [Int] = []
                for try await number in group { if let number { numbers.append(number) } }
                return numbers
            }
            #expect(numbers.sorted() == Array(1...20))
            #expect(try await Prepaid.scalar(api, "SELECT COUNT(DISTINCT number) AS v FROM receipts") == 20)
        }
    }

    @Test(
        "a cashier takes a partial cash payment, a supervisor voids a mistake within the shift, and the shift closes against the count",
        arguments: TestEngine.available)
    func cashierShift(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let s = try await P.billed(api)
            let desk = try await api.login("frontdesk@alpha")
            let opened = try await api.call(
                .post, "/api/v1/cashier-shifts", token: desk, json: ["community_id": s.community, "opening_float": Prepaid.money("200.00")])
            #expect(opened.status == .created, "\(opened.text)")
            let shift = try #require(opened.object["id"] as? String)
            let twice = try await api.call(
                .post, "/api/v1/cashier-shifts", token: desk, json: ["community_id": s.community, "opening_float": Prepaid.money("0.00")])
            #expect(twice.code == "shift_already_open")
            let pay: [String: Any] = ["id": "desk-1", "house_id": s.house, "purpose": "bills", "channel": "cash", "amount": Prepaid.money("10.00")]
            let first = try await api.call(.post, "/api/v1/cashier-shifts/\(shift)/payments", token: desk, json: pay)
            #expect(first.status == .created, "\(first.text)")
            #expect(first.object["receipt_number"] as? Int == 1)
            let replay = try await api.call(.post, "/api/v1/cashier-shifts/\(shift)/payments", token: desk, json: pay)
            #expect(replay.status == .ok)
            #expect(replay.object["status"] as? String == "duplicate")
            var bill = try await api.call(.get, "/api/v1/bills/\(s.bill)", token: s.finance)
            #expect((bill.object["bill"] as? [String: Any])?["status"] as? String == "partially_paid", "\(bill.text)")
            // A POS payment keyed in by mistake, voided with a supervisor's approval.
            let pos = try await api.call(
                .post, "/api/v1/cashier-shifts/\(shift)/payments", token: desk,
                json: [
                    "id": "desk-2", "house_id": s.house, "purpose": "top_up", "channel": "pos", "wallet_purpose": "general",
                    "amount": Prepaid.money("30.00"), "pos_reference": "T0012-000981",
                ])
            #expect(pos.status == .created, "\(pos.text)")
            let posId = try #require(pos.object["payment_id"] as? String)
            let unsupervised = try await api.call(.post, "/api/v1/payments/\(posId)/void", token: desk, json: ["reason": "wrong house"])
            #expect(unsupervised.status == .forbidden)
            #expect(unsupervised.code == "supervisor_required")
            let notSupervisor = try await api.call(
                .post, "/api/v1/payments/\(posId)/void", token: desk, json: ["reason": "wrong house"],
                headers: ["Courtyard-Supervisor": desk])
            #expect(notSupervisor.code == "supervisor_required")
            let voided = try await api.call(
                .post, "/api/v1/payments/\(posId)/void", token: desk, json: ["reason": "wrong house"],
                headers: ["Courtyard-Supervisor": s.finance])
            #expect(voided.status == .ok, "\(voided.text)")
            #expect(voided.object["status"] as? String == "voided")
            let wallet = AccountKey.wallet(s.community, house: s.house, purpose: "general")
            #expect(Prepaid.amount(try await api.call(.get, "/api/v1/ledger/accounts/\(wallet.id)", token: s.finance).object["balance"]) == "0.00")
            let receipt = try await api.call(.get, "/api/v1/payments/\(posId)/receipt", token: desk)
            #expect(receipt.text.contains("VOIDED"))
            // Close with 5.00 short: float 200 + cash 10 = 210 expected.
            let closed = try await api.call(
                .post, "/api/v1/cashier-shifts/\(shift)/close", token: desk, json: ["counted_cash": Prepaid.money("205.00")])
            #expect(closed.status == .ok, "\(closed.text)")
            #expect(Prepaid.amount(closed.object["expected_cash"]) == "210.00")
            #expect(Prepaid.amount(closed.object["difference"]) == "-5.00")
            let late = try await api.call(
                .post, "/api/v1/cashier-shifts/\(shift)/payments", token: desk,
                json: [
                    "id": "desk-3", "house_id": s.house, "purpose": "bills", "channel": "cash", "amount": Prepaid.money("1.00"),
                ])
            #expect(late.code == "shift_closed")
            bill = try await api.call(.get, "/api/v1/bills/\(s.bill)", token: s.finance)
            #expect((bill.object["bill"] as? [String: Any])?["status"] as? String == "partially_paid")
            #expect(try await Prepaid.ledgerBalances(api))
        }
    }

    @Test(
        "refunds: small duplicates approve themselves and go back through WeChat Pay; larger ones wait for another finance user; never above what was paid",
        arguments: TestEngine.available)
    func refunds(engine: TestEngine) async throws {
        let fake = FakePaymentChannels()
        try await P.with(engine, fake: fake) { api in
            let s = try await P.billed(api)
            let order = try await api.call(
                .post, "/api/v1/payment-orders", token: s.finance,
                json: [
                    "id": "wallet-1", "house_id": s.house, "purpose": "top_up", "channel": "wechatpay", "wallet_purpose": "general",
                    "amount": Prepaid.money("300.00"),
                ])
            let outTradeNo = try #require(order.object["out_trade_no"] as? String, "\(order.text)")
            let note = try FakePaymentChannels.wechatNotification(
                outTradeNo: outTradeNo, transactionId: "4200000001202611220000000010", total: 300_00,
                at: P.timestamp)
            #expect(try await P.notify(api, note).status == .noContent)
            let paymentId = try #require(
                try await api.call(.get, "/api/v1/payments?house_id=\(s.house)", token: s.finance).items.first?["id"] as? String)
            let desk = try await api.login("frontdesk@alpha")
            // The house has an overdue bill: even a small duplicate refund needs approval.
            let small = try await api.call(
                .post, "/api/v1/refunds", token: desk,
                json: [
                    "id": "rf-1", "source": "payment", "payment_id": paymentId, "amount": Prepaid.money("50.00"), "reason_code": "duplicate_payment",
                    "reason": "paid twice",
                ])
            #expect(small.status == .created, "\(small.text)")
            #expect(small.object["state"] as? String == "pending_approval")
            #expect((small.object["rule_decision"] as? String)?.contains("overdue bill") == true)
            let tooMuch = try await api.call(
                .post, "/api/v1/refunds", token: desk,
                json: [
                    "id": "rf-2", "source": "payment", "payment_id": paymentId, "amount": Prepaid.money("250.01"), "reason_code": "overpayment",
                    "reason": "more than is left",
                ])
            #expect(tooMuch.status == .unprocessableContent)
            #expect(tooMuch.code == "refund_above_remaining")
            let zero = try await api.call(
                .post, "/api/v1/refunds", token: desk,
                json: [
                    "id": "rf-3", "source": "payment", "payment_id": paymentId, "amount": Prepaid.money("0.00"), "reason_code": "overpayment",
                    "reason": "x",
                ])
            #expect(zero.code == "amount_not_positive")
            let refundId = try #require(small.object["id"] as? String)
            // Finance approves (a requester never approves their own).
            let own = try await api.call(
                .post, "/api/v1/refunds", token: s.finance,
                json: [
                    "id": "rf-4", "source": "payment", "payment_id": paymentId, "amount": Prepaid.money("1.00"), "reason_code": "other",
                    "reason": "test",
                ])
            let ownId = try #require(own.object["id"] as? String, "\(own.text)")
            let selfApproval = try await api.call(.post, "/api/v1/refunds/\(ownId)/approve", token: s.finance, json: ["reason": "mine"])
            #expect(selfApproval.status == .forbidden)
            #expect(selfApproval.code == "four_eyes")
            let rejected = try await api.call(
                .post, "/api/v1/refunds/\(ownId)/reject", token: try await api.login("admin@alpha"), json: ["reason": "not needed"])
            #expect(rejected.object["state"] as? String == "rejected", "\(rejected.text)")
            let approved = try await api.call(.post, "/api/v1/refunds/\(refundId)/approve", token: s.finance, json: ["reason": "confirmed duplicate"])
            #expect(approved.status == .ok, "\(approved.text)")
            #expect(approved.object["state"] as? String == "succeeded")
            #expect((approved.object["channel_refund_id"] as? String)?.hasPrefix("50300000") == true)
            #expect(fake.requests.withLock { $0 }.contains("/v3/refund/domestic/refunds"))
            let wallet = AccountKey.wallet(s.community, house: s.house, purpose: "general")
            #expect(Prepaid.amount(try await api.call(.get, "/api/v1/ledger/accounts/\(wallet.id)", token: s.finance).object["balance"]) == "250.00")
            // What is left: 300 − 50 (refunded) = 250; the rejected 1.00 was released again.
            let rest = try await api.call(
                .post, "/api/v1/refunds", token: desk,
                json: [
                    "id": "rf-5", "source": "payment", "payment_id": paymentId, "amount": Prepaid.money("250.00"), "reason_code": "move_out",
                    "reason": "moving out",
                ])
            #expect(rest.object["state"] as? String == "pending_approval", "\(rest.text)")
            // A refund the channel refuses is failed, kept, and can be retried.
            fake.refuseRefunds.withLock { $0 = 500 }
            let failed = try await api.call(
                .post, "/api/v1/refunds/\(try #require(rest.object["id"] as? String))/approve", token: s.finance,
                json: ["reason": "ok"])
            #expect(failed.object["state"] as? String == "failed", "\(failed.text)")
            fake.refuseRefunds.withLock { $0 = nil }
            let retried = try await api.call(.post, "/api/v1/refunds/\(try #require(rest.object["id"] as? String))/retry", token: s.finance)
            #expect(retried.object["state"] as? String == "succeeded", "\(retried.text)")
            let more = try await api.call(
                .post, "/api/v1/refunds", token: desk,
                json: [
                    "id": "rf-6", "source": "payment", "payment_id": paymentId, "amount": Prepaid.money("0.01"), "reason_code": "overpayment",
                    "reason": "x",
                ])
            #expect(more.code == "refund_above_remaining")
            #expect(try await Prepaid.ledgerBalances(api))
            let audit = try await api.call(.get, "/api/v1/audit-log?subject_id=\(refundId)", token: s.finance)
            #expect(Set(audit.items.compactMap { $0["action"] as? String }).isSuperset(of: ["refund_requested", "refund_approved"]), "\(audit.text)")
        }
    }

    @Test(
        "an overcharged line of a paid bill is refunded to the wallet, and a wallet balance is paid out in cash, each within what is left",
        arguments: TestEngine.available)
    func lineAndWalletRefunds(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let s = try await P.billed(api)
            let desk = try await api.login("frontdesk@alpha")
            let shift = try #require(
                try await api.call(
                    .post, "/api/v1/cashier-shifts", token: desk,
                    json: ["community_id": s.community, "opening_float": Prepaid.money("0.00")]
                ).object["id"] as? String)
            let paid = try await api.call(
                .post, "/api/v1/cashier-shifts/\(shift)/payments", token: desk,
                json: [
                    "id": "pay-all", "house_id": s.house, "purpose": "bills", "channel": "cash", "bill_ids": [s.bill], "amount": Prepaid.money(s.due),
                ])
            #expect(paid.status == .created, "\(paid.text)")
            let document = try await api.call(.get, "/api/v1/bills/\(s.bill)", token: s.finance)
            let line = try #require((document.object["lines"] as? [[String: Any]])?.first)
            let lineId = try #require(line["id"] as? String)
            let over = try await api.call(
                .post, "/api/v1/refunds", token: desk,
                json: [
                    "id": "line-1", "source": "bill_line", "bill_line_id": lineId, "amount": Prepaid.money("100000.00"),
                    "reason_code": "billing_error",
                    "reason": "area was wrong",
                ])
            #expect(over.code == "refund_above_remaining", "\(over.text)")
            let refund = try await api.call(
                .post, "/api/v1/refunds", token: desk,
                json: [
                    "id": "line-2", "source": "bill_line", "bill_line_id": lineId, "amount": Prepaid.money("20.00"), "reason_code": "billing_error",
                    "reason": "area was 8 m² too large",
                ])
            #expect(refund.object["state"] as? String == "pending_approval", "\(refund.text)")
            let approved = try await api.call(
                .post, "/api/v1/refunds/\(try #require(refund.object["id"] as? String))/approve", token: s.finance,
                json: ["reason": "measured again"])
            #expect(approved.object["state"] as? String == "succeeded", "\(approved.text)")
            let wallet = AccountKey.wallet(s.community, house: s.house, purpose: "general")
            #expect(Prepaid.amount(try await api.call(.get, "/api/v1/ledger/accounts/\(wallet.id)", token: s.finance).object["balance"]) == "20.00")
            // The wallet's 20.00 is paid out in cash; 20.01 is more than it holds.
            let tooMuch = try await api.call(
                .post, "/api/v1/refunds", token: desk,
                json: [
                    "id": "wal-1", "source": "wallet", "house_id": s.house, "wallet_purpose": "general", "amount": Prepaid.money("20.01"),
                    "reason_code": "move_out", "reason": "moving out",
                ])
            #expect(tooMuch.code == "refund_above_remaining", "\(tooMuch.text)")
            let out = try await api.call(
                .post, "/api/v1/refunds", token: desk,
                json: [
                    "id": "wal-2", "source": "wallet", "house_id": s.house, "wallet_purpose": "general", "amount": Prepaid.money("20.00"),
                    "reason_code": "move_out", "reason": "moving out",
                ])
            let outId = try #require(out.object["id"] as? String, "\(out.text)")
            let cash = try await api.call(.post, "/api/v1/refunds/\(outId)/approve", token: s.finance, json: ["reason": "keys returned"])
            #expect(cash.object["state"] as? String == "succeeded", "\(cash.text)")
            #expect(Prepaid.amount(try await api.call(.get, "/api/v1/ledger/accounts/\(wallet.id)", token: s.finance).object["balance"]) == "0.00")
            // Each settled refund has its voucher, numbered after the payment's receipt (1): 2 and 3, no gap.
            let voucher = try await api.call(.get, "/api/v1/refunds/\(outId)/voucher", token: s.finance)
            #expect(voucher.text.contains("R0000000003") && voucher.text.contains("moving out"), "\(voucher.text)")
            #expect(
                try await api.call(.get, "/api/v1/refunds/\(try #require(refund.object["id"] as? String))/voucher", token: s.finance)
                    .text.contains("R0000000002"))
            #expect(try await Prepaid.ledgerBalances(api))
        }
    }

    @Test(
        "a decoration deposit is held apart, released only when inspected, less an itemized deduction, with a voucher",
        arguments: TestEngine.available)
    func deposits(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let finance = try await api.login("finance@alpha")
            let desk = try await api.login("frontdesk@alpha")
            let house = try #require(try await api.first("houses", token: finance)["id"] as? String)
            let community = try #require(try await api.first("houses", token: finance)["community_id"] as? String)
            let shift = try #require(
                try await api.call(
                    .post, "/api/v1/cashier-shifts", token: desk,
                    json: ["community_id": community, "opening_float": Prepaid.money("0.00")]
                ).object["id"] as? String)
            let paid = try await api.call(
                .post, "/api/v1/cashier-shifts/\(shift)/payments", token: desk,
                json: [
                    "id": "dep-1", "house_id": house, "purpose": "deposit", "channel": "cash", "amount": Prepaid.money("2000.00"),
                    "deposit_kind": "decoration", "deposit_conditions": [["kind": "inspection_passed"]],
                ])
            #expect(paid.status == .created, "\(paid.text)")
            let allocations = paid.object["allocations"] as? [[String: Any]] ?? []
            let deposit = try #require(allocations.first?["target_id"] as? String, "\(paid.text)")
            let account = AccountKey(communityId: community, kind: .deposit, owner: house, purpose: "decoration")
            #expect(Prepaid.amount(try await api.call(.get, "/api/v1/ledger/accounts/\(account.id)", token: finance).object["balance"]) == "2000.00")
            let early = try await api.call(.post, "/api/v1/deposits/\(deposit)/release", token: finance, json: ["destination": "wallet"])
            #expect(early.status == .conflict)
            #expect(early.code == "release_conditions_unmet")
            let over = try await api.call(
                .post, "/api/v1/deposits/\(deposit)/deductions", token: finance,
                json: ["amount": Prepaid.money("2000.01"), "reason": "too much"])
            #expect(over.code == "amount_above_remaining")
            let deducted = try await api.call(
                .post, "/api/v1/deposits/\(deposit)/deductions", token: finance,
                json: ["amount": Prepaid.money("300.00"), "reason": "damaged lift wall panel"])
            #expect(Prepaid.amount(deducted.object["deducted"]) == "300.00", "\(deducted.text)")
            let met = try await api.call(
                .post, "/api/v1/deposits/\(deposit)/conditions", token: finance,
                json: ["kind": "inspection_passed", "note": "inspected by engineer Wang"])
            #expect(met.status == .ok, "\(met.text)")
            let released = try await api.call(.post, "/api/v1/deposits/\(deposit)/release", token: finance, json: ["destination": "wallet"])
            #expect(released.status == .ok, "\(released.text)")
            let voucher = released.object["voucher"] as? [String: Any] ?? [:]
            #expect(Prepaid.amount(voucher["total"]) == "1700.00")
            #expect(
                (voucher["lines"] as? [[String: Any]])?.contains { ($0["description"] as? String)?.contains("damaged lift wall panel") == true }
                    == true)
            #expect(Prepaid.amount(try await api.call(.get, "/api/v1/ledger/accounts/\(account.id)", token: finance).object["balance"]) == "0.00")
            let wallet = AccountKey.wallet(community, house: house, purpose: "general")
            #expect(Prepaid.amount(try await api.call(.get, "/api/v1/ledger/accounts/\(wallet.id)", token: finance).object["balance"]) == "1700.00")
            #expect(
                try await api.call(.post, "/api/v1/deposits/\(deposit)/release", token: finance, json: ["destination": "wallet"]).code
                    == "deposit_released")
            // Read back, the deposit tells its whole story: released, what was deducted and why, the condition met.
            let record = try await api.call(.get, "/api/v1/deposits/\(deposit)", token: finance)
            #expect(record.status == .ok, "\(record.text)")
            #expect(record.object["state"] as? String == "released", "\(record.text)")
            #expect(Prepaid.amount(record.object["amount"]) == "2000.00")
            #expect(Prepaid.amount(record.object["deducted"]) == "300.00")
            #expect((record.object["deductions"] as? [[String: Any]])?.map { $0["reason"] as? String } == ["damaged lift wall panel"])
            #expect((record.object["satisfied"] as? [String: Any])?.keys.sorted() == ["inspection_passed"], "\(record.text)")
            #expect(try await api.call(.get, "/api/v1/deposits/no-such-deposit", token: finance).status == .notFound)
            #expect(try await Prepaid.ledgerBalances(api))
        }
    }

    @Test(
        "a bank statement applies the credit quoting an order, lists the rest as unmatched, and reports bad rows per row",
        arguments: TestEngine.available)
    func bankStatement(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let s = try await P.billed(api)
            let order = try await api.call(
                .post, "/api/v1/payment-orders", token: s.finance,
                json: [
                    "id": "bank-1", "house_id": s.house, "purpose": "bills", "channel": "bank", "bill_ids": [s.bill],
                ])
            #expect(order.status == .created, "\(order.text)")
            let outTradeNo = try #require(order.object["out_trade_no"] as? String)
            #expect((order.object["pay_with"] as? [String: Any])?["code_url"] as? String == outTradeNo)
            let csv = """
                transaction_id,value_date,amount,reference,payer_name
                B20261122001,2026-11-22,\(s.due),"物业费 \(outTradeNo.lowercased()) 3-1-101",张三
                B20261122002,2026-11-22,12.00,no reference,李四
                B20261122003,2026-11-31,5.00,bad date,
                B20261122004,2026-11-22,-3.00,a debit,
                ,2026-11-22,1.00,no id,
                """
            let imported = try await api.call(.post, "/api/v1/bank-statements", token: s.finance, raw: csv, headers: ["Content-Type": "text/csv"])
            #expect(imported.status == .ok, "\(imported.text)")
            #expect(imported.object["matched"] as? Int == 1)
            #expect(imported.object["unmatched"] as? Int == 1)
            #expect(imported.object["errors"] as? Int == 3)
            let rows = imported.object["rows"] as? [[String: Any]] ?? []
            #expect(rows.compactMap { $0["code"] as? String }.sorted() == ["amount_not_positive", "invalid_date", "no_matching_order", "required"])
            #expect(rows.first { $0["status"] as? String == "error" && $0["code"] as? String == "invalid_date" }?["row"] as? Int == 4)
            let bill = try await api.call(.get, "/api/v1/bills/\(s.bill)", token: s.finance)
            #expect((bill.object["bill"] as? [String: Any])?["status"] as? String == "paid", "\(bill.text)")
            let again = try await api.call(.post, "/api/v1/bank-statements", token: s.finance, raw: csv, headers: ["Content-Type": "text/csv"])
            #expect(again.object["duplicates"] as? Int == 2)
            let unmatched = try await api.call(.get, "/api/v1/bank-statements/unmatched", token: s.finance)
            #expect(unmatched.items.map { $0["bank_transaction_id"] as? String } == ["B20261122002"])
            // 李四's 12.00 quoted no order: finance finds his wallet top-up order and matches the line by hand.
            let line = try #require(unmatched.items.first?["id"] as? String, "\(unmatched.text)")
            let topUp = try await api.call(
                .post, "/api/v1/payment-orders", token: s.finance,
                json: [
                    "id": "bank-2", "house_id": s.house, "purpose": "top_up", "channel": "bank", "wallet_purpose": "general",
                    "amount": Prepaid.money("12.00"),
                ])
            let topUpOrder = try #require(topUp.object["out_trade_no"] as? String, "\(topUp.text)")
            let wrongAmount = try await api.call(
                .post, "/api/v1/payment-orders", token: s.finance,
                json: [
                    "id": "bank-3", "house_id": s.house, "purpose": "top_up", "channel": "bank", "wallet_purpose": "general",
                    "amount": Prepaid.money("12.01"),
                ])
            let mismatch = try await api.call(
                .post, "/api/v1/bank-statements/lines/\(line)/match", token: s.finance,
                json: ["out_trade_no": try #require(wrongAmount.object["out_trade_no"] as? String)])
            #expect(mismatch.status == .unprocessableContent && mismatch.code == "amount_mismatch", "\(mismatch.text)")
            let matched = try await api.call(
                .post, "/api/v1/bank-statements/lines/\(line)/match", token: s.finance, json: ["out_trade_no": topUpOrder])
            #expect(matched.status == .ok, "\(matched.text)")
            #expect(matched.object["status"] as? String == "applied", "\(matched.text)")
            let wallet = AccountKey.wallet(s.community, house: s.house, purpose: "general")
            #expect(Prepaid.amount(try await api.call(.get, "/api/v1/ledger/accounts/\(wallet.id)", token: s.finance).object["balance"]) == "12.00")
            #expect(try await api.call(.get, "/api/v1/bank-statements/unmatched", token: s.finance).items.isEmpty)
            let twice = try await api.call(
                .post, "/api/v1/bank-statements/lines/\(line)/match", token: s.finance, json: ["out_trade_no": topUpOrder])
            #expect(twice.status == .conflict && twice.code == "line_matched", "\(twice.text)")
            let missing = try await api.call(
                .post, "/api/v1/bank-statements", token: s.finance, raw: "id,amount\n1,2\n", headers: ["Content-Type": "text/csv"])
            #expect(missing.code == "csv_missing_column")
            #expect(try await Prepaid.ledgerBalances(api))
        }
    }

    @Test(
        "reconciling a WeChat Pay trade bill finds the matched payment, one missing on our side and an amount mismatch",
        arguments: TestEngine.available)
    func reconciliation(engine: TestEngine) async throws {
        try await P.with(engine) { api in
            let s = try await P.billed(api)
            let order = try await api.call(
                .post, "/api/v1/payment-orders", token: s.finance,
                json: [
                    "id": "rec-1", "house_id": s.house, "purpose": "top_up", "channel": "wechatpay", "wallet_purpose": "general",
                    "amount": Prepaid.money("20.00"),
                ])
            let outTradeNo = try #require(order.object["out_trade_no"] as? String, "\(order.text)")
            let paid = try FakePaymentChannels.wechatNotification(
                outTradeNo: outTradeNo, transactionId: "4200000001202611220000000020", total: 20_00,
                at: P.timestamp)
            #expect(try await P.notify(api, paid).status == .noContent)
            let order2 = try await api.call(
                .post, "/api/v1/payment-orders", token: s.finance,
                json: [
                    "id": "rec-2", "house_id": s.house, "purpose": "top_up", "channel": "wechatpay", "wallet_purpose": "general",
                    "amount": Prepaid.money("30.00"),
                ])
            let out2 = try #require(order2.object["out_trade_no"] as? String)
            #expect(
                try await P.notify(
                    api,
                    try FakePaymentChannels.wechatNotification(
                        outTradeNo: out2, transactionId: "4200000001202611220000000021",
                        total: 30_00, at: P.timestamp)
                ).status == .noContent)
            let statement = """
                交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注
                `2026-11-22 10:00:00,`wx8888888888888888,`1900000109,`0,`,`4200000001202611220000000020,`\(outTradeNo),`o1,`NATIVE,`SUCCESS,`OTHERS,`CNY,`20.00,`0.00,`0,`0,`0.00,`0.00,`,`,`充值,`,`0.12000,`0.60%,`20.00,`0.00,`
                `2026-11-22 10:05:00,`wx8888888888888888,`1900000109,`0,`,`4200000001202611220000000021,`\(out2),`o1,`NATIVE,`SUCCESS,`OTHERS,`CNY,`3.00,`0.00,`0,`0,`0.00,`0.00,`,`,`充值,`,`0.02000,`0.60%,`3.00,`0.00,`
                `2026-11-22 11:00:00,`wx8888888888888888,`1900000109,`0,`,`4200000001202611220000000099,`CYUNKNOWN,`o2,`NATIVE,`SUCCESS,`OTHERS,`CNY,`9.00,`0.00,`0,`0,`0.00,`0.00,`,`,`充值,`,`0.05000,`0.60%,`9.00,`0.00,`
                总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
                `3,`32.00,`0.00,`0.00,`0.19000,`32.00,`0.00
                """
            let report = try await api.call(
                .post, "/api/v1/reconciliations?channel=wechatpay&date=2026-11-22", token: s.finance, raw: statement,
                headers: ["Content-Type": "text/csv"])
            #expect(report.status == .ok, "\(report.text)")
            #expect(report.object["matched"] as? Int == 1)
            #expect(report.object["amount_mismatch"] as? Int == 1)
            #expect(report.object["missing_ours"] as? Int == 1)
            #expect(report.object["missing_theirs"] as? Int == 0)
            let nothing = try await api.call(
                .post, "/api/v1/reconciliations?channel=wechatpay&date=2026-11-22", token: s.finance, raw: "a,b\n1,2\n",
                headers: ["Content-Type": "text/csv"])
            #expect(nothing.code == "csv_missing_column")
        }
    }
}
