import CourtyardDomain
import CourtyardPayments
import Foundation
import PropertyBased
import Testing

/// The pure rules of payments: the order state machine, allocation, refund rules and steps, CSV and statements.
@Suite("Payment rules")
struct PaymentRulesTests {
    static let now = Date(timeIntervalSince1970: 1_790_000_000)

    static func order(_ state: PaymentOrder.State = .created, amount: Int64 = 100_00) -> PaymentOrder {
        PaymentOrder(
            id: "o1", companyId: "c", communityId: "m", houseId: "h", outTradeNo: "CY1", purpose: .bills, items: .init(), amount: amount,
            currency: "CNY", channel: "wechatpay", payerPersonId: nil, payerRelation: .staff, state: state, channelRequest: nil,
            expiresAt: now.addingTimeInterval(900), paidAt: nil, paymentId: nil, requestDigest: "d", createdBy: "u", createdAt: now, updatedAt: now)
    }

    @Test("an open order becomes paid by a notification of its exact amount, and by nothing else")
    func paidByExactAmount() {
        let (action, paid) = Self.order().handle(.paid(channelTransactionId: "t1", amount: 100_00, at: Self.now))
        #expect(action == .applyPayment)
        #expect(paid.state == .paid)
        let (mismatch, unchanged) = Self.order().handle(.paid(channelTransactionId: "t1", amount: 99_99, at: Self.now))
        #expect(mismatch == .holdForReview(outcome: "amount_mismatch", detail: "the channel reports 9999 fen for an order of 10000 fen"))
        #expect(unchanged.state == .created)
    }

    @Test("money for a closed or expired order, or a second transaction for a paid one, is held for review, never dropped")
    func lateMoneyIsHeld() {
        for state in [PaymentOrder.State.closed, .expired] {
            guard
                case .holdForReview(let outcome, _) = Self.order(state).handle(.paid(channelTransactionId: "t", amount: 100_00, at: Self.now)).action
            else {
                Issue.record("\(state) did not hold"); continue
            }
            #expect(outcome == "order_closed")
        }
        let paid = Self.order(.paid)
        #expect(paid.handle(.paid(channelTransactionId: "t1", amount: 100_00, at: Self.now), appliedTransactionId: "t1").action == .alreadyApplied)
        guard
            case .holdForReview(let outcome, _) = paid.handle(
                .paid(channelTransactionId: "t2", amount: 100_00, at: Self.now), appliedTransactionId: "t1"
            ).action
        else {
            Issue.record("a second transaction was not held"); return
        }
        #expect(outcome == "order_paid_otherwise")
    }

    @Test("an order closes before payment, expires only after its time, and a paid order refuses both")
    func closeAndExpire() {
        #expect(Self.order().handle(.close(at: Self.now)).order.state == .closed)
        #expect(
            Self.order().handle(.expire(at: Self.now)).action
                == .refuse(code: "order_not_expired", message: "the order expires at \(Self.now.addingTimeInterval(900))"))
        #expect(Self.order().handle(.expire(at: Self.now.addingTimeInterval(900))).order.state == .expired)
        #expect(
            Self.order(.paid).handle(.close(at: Self.now)).action
                == .refuse(code: "order_paid", message: "a paid order cannot be closed; ask for a refund"))
    }

    @Test("money goes oldest bill first, late fee before principal, and the rest is excess")
    func allocationOrder() {
        let debts = [Settlement.Debt(billId: "b1", lateFee: 5_00, principal: 100_00), Settlement.Debt(billId: "b2", lateFee: 0, principal: 50_00)]
        let (parts, excess) = Settlement.allocate(120_00, over: debts)
        #expect(
            parts == [
                .init(billId: "b1", part: .lateFee, amount: 5_00), .init(billId: "b1", part: .principal, amount: 100_00),
                .init(billId: "b2", part: .principal, amount: 15_00),
            ])
        #expect(excess == 0)
        let (principalFirst, _) = Settlement.allocate(50_00, over: debts, order: .principalFirst)
        #expect(principalFirst == [.init(billId: "b1", part: .principal, amount: 50_00)])
        #expect(Settlement.allocate(200_00, over: debts).excess == 45_00)
    }

    @Test("allocations and excess always sum to the payment, no part exceeds its debt, and no part is zero")
    func allocationSums() async {
        await propertyCheck(count: 300, input: Gen.int64(in: 1...10_000_000), Gen.int64(in: 0...500_000).array(of: 0...24)) { amount, owed in
            let debts = stride(from: 0, to: owed.count - 1, by: 2).map {
                Settlement.Debt(billId: "b\($0)", lateFee: owed[$0], principal: owed[$0 + 1])
            }
            for order in Settlement.Order.allCases {
                let (parts, excess) = Settlement.allocate(amount, over: debts, order: order)
                #expect(parts.reduce(0) { $0 + $1.amount } + excess == amount)
                #expect(parts.allSatisfy { $0.amount > 0 })
                for debt in debts {
                    #expect(parts.filter { $0.billId == debt.billId && $0.part == .lateFee }.reduce(0) { $0 + $1.amount } <= debt.lateFee)
                    #expect(parts.filter { $0.billId == debt.billId && $0.part == .principal }.reduce(0) { $0 + $1.amount } <= debt.principal)
                }
                #expect(excess == max(0, amount - debts.reduce(0) { $0 + $1.lateFee + $1.principal }))
            }
        }
    }

    @Test("refund rules approve small refunds for listed reasons from houses without arrears, and say why not otherwise")
    func refundRules() {
        let rules = RefundRules()
        #expect(rules.decide(amount: Money(minorUnits: 200_00), reasonCode: "duplicate_payment", overdueBills: 0).approved)
        let (approved, why) = rules.decide(amount: Money(minorUnits: 200_01), reasonCode: "other", overdueBills: 2)
        #expect(!approved)
        #expect(why == "finance approval: amount above 200.00; reason other needs approval; the house has 2 overdue bill(s)")
    }

    static func refund(_ state: Refund.State) -> Refund {
        Refund(
            id: "r", communityId: "m", houseId: "h", requestId: "q", source: .payment, sourceId: "p", paymentId: "p", amount: Money(minorUnits: 1),
            reasonCode: "other", reason: "x", destination: .originalChannel, state: state, ruleDecision: "", requestedBy: "alice", decidedBy: nil,
            decisionReason: nil, decidedAt: nil, channelRefundId: nil, failure: nil, createdAt: now, updatedAt: now)
    }

    @Test("a refund is approved by someone other than its requester, and moves only along its states")
    func refundSteps() {
        #expect(
            Self.refund(.pendingApproval).next(.approve(by: "alice"))
                == .failure(
                    PaymentError(
                        .forbidden, code: "four_eyes", field: "refund_id",
                        "a refund is approved by someone other than its requester")))
        #expect(Self.refund(.pendingApproval).next(.approve(by: "bob")) == .success(.approved))
        #expect(Self.refund(.pendingApproval).next(.reject(by: "bob")) == .success(.rejected))
        #expect(Self.refund(.approved).next(.channelAccepted(refundId: "w", settled: false)) == .success(.processing))
        #expect(Self.refund(.processing).next(.channelAccepted(refundId: "w", settled: true)) == .success(.succeeded))
        #expect(Self.refund(.approved).next(.channelFailed("down")) == .success(.failed))
        for state in [Refund.State.rejected, .succeeded] {
            #expect((try? Self.refund(state).next(.approve(by: "bob")).get()) == nil)
        }
    }

    @Test("CSV reads quoted fields with commas, quotes and line breaks, CRLF endings and a byte-order mark")
    func csv() {
        let records = CSV.records("\u{FEFF}a,b,c\r\n1,\"x, \"\"y\"\"\",\"two\nlines\"\r\n\r\n3,,\n")
        #expect(records.map(\.fields) == [["a", "b", "c"], ["1", "x, \"y\"", "two\nlines"], ["3", "", ""]])
        #expect(records.map(\.line) == [1, 2, 5])
    }

    @Test("a WeChat Pay trade bill yields payments and refunds, with backticks stripped and the summary skipped")
    func wechatStatement() throws {
        // The column layout of WeChat Pay's downloadable trade bill (bill_type=ALL).
        let text = """
            交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注
            `2026-11-20 10:00:05,`wx1,`1900000001,`0,`,`4200000001202611200000000001,`CY01,`oUser,`NATIVE,`SUCCESS,`OTHERS,`CNY,`88.88,`0.00,`0,`0,`0.00,`0.00,`,`,`物业费,`,`0.53000,`0.60%,`88.88,`0.00,`
            `2026-11-20 11:00:00,`wx1,`1900000001,`0,`,`4200000001202611200000000002,`CY02,`oUser,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50300000012026112000000001,`RF01,`10.00,`0.00,`ORIGINAL,`SUCCESS,`物业费,`,`-0.06000,`0.60%,`0.00,`10.00,`
            总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
            `2,`88.88,`10.00,`0.00,`0.47000,`88.88,`10.00
            """
        let entries = try Reconciliation.parse(text, channel: "wechatpay")
        #expect(
            entries == [
                .init(kind: .payment, reference: "4200000001202611200000000001", outTradeNo: "CY01", amount: 88_88),
                .init(kind: .refund, reference: "50300000012026112000000001", outTradeNo: "CY02", amount: 10_00),
            ])
    }

    @Test("an Alipay transaction detail yields payments and refunds, comment lines skipped")
    func alipayStatement() throws {
        let text = """
            #支付宝交易记录明细查询
            #账号:[20880000000000010156]
            支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注
            2026112022001446881412345678,CY03,交易,物业费,2026-11-20 10:00:00,2026-11-20 10:00:05,,,,,buyer,88.88,88.88,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,-0.53,0.00,
            2026112022001446881412345678,CY03,退款,物业费,2026-11-20 12:00:00,2026-11-20 12:00:01,,,,,buyer,-8.88,-8.88,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,RF02,0.05,0.00,
            #支付宝交易记录明细列表结束
            """
        let entries = try Reconciliation.parse(text, channel: "alipay")
        #expect(
            entries == [
                .init(kind: .payment, reference: "2026112022001446881412345678", outTradeNo: "CY03", amount: 88_88),
                .init(kind: .refund, reference: "2026112022001446881412345678:RF02", outTradeNo: "CY03", amount: 8_88),
            ])
    }
}
