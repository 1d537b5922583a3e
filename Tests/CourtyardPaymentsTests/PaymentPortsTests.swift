import CourtyardDomain
import CourtyardPayments
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import Synchronization
import Testing

/// Payments reaches bills and wallets only through the ports it is given: a payment is allocated over the debts the
/// receivables port reports, each part is handed back to that port, the excess goes to the wallet port, and a wallet
/// that refuses holds the payment for review with nothing written. No HTTP and no Billing or Prepaid module involved.
@Suite struct PaymentPortsTests {
    static let now = Date(timeIntervalSince1970: 1_790_000_000)

    /// Receivables with one open bill, recording what payments did to it.
    final class OneBill: Receivables {
        let paid = Mutex<[(String, Int64)]>([])
        let principal: Int64
        init(principal: Int64) { self.principal = principal }

        func openDebts(houseId: String, chosen: [String]?, asOf day: LocalDate, tenant: TenantSQL) async throws -> [OpenDebt] {
            [OpenDebt(debt: Settlement.Debt(billId: "bill-1", lateFee: 0, principal: principal), period: "2026-10")]
        }
        func addPaid(_ amount: Int64, to billId: String, tenant: TenantSQL, now: Date) async throws { paid.withLock { $0.append((billId, amount)) } }
        func settleLateFees(billId: String, paymentId: String, through day: LocalDate, amount: Int64, tenant: TenantSQL) async throws {}
        func unsettleLateFees(billId: String, paymentId: String, tenant: TenantSQL) async throws {}
        func overdueCount(houseId: String, on day: LocalDate, tenant: TenantSQL) async throws -> Int64 { 0 }
    }

    /// Wallets recording credits, or refusing every one.
    final class Wallets: WalletCredits {
        let credits = Mutex<[WalletCredit]>([])
        let refuse: Bool
        init(refuse: Bool) { self.refuse = refuse }
        var maximumCredit: Int64 { 1_000_00 }

        func credit(_ credit: WalletCredit, tenant: TenantSQL, now: Date) async throws -> WalletCredited {
            if refuse { throw PaymentError(.invalid, code: "wallet_closed", field: "wallet_purpose", "the wallet takes no credits") }
            credits.withLock { $0.append(credit) }
            return WalletCredited(walletId: "wallet-of-" + credit.houseId, commands: [])
        }
    }

    /// A seeded company and one of its houses, with an order of `purpose` for `amount` fen.
    static func order(_ database: Database, purpose: PaymentOrder.Purpose, amount: Int64) async throws -> (company: String, outTradeNo: String) {
        let seeded = try await DemoSeeder(
            seed: 7, companyCode: "ports", buildingsPerCommunity: 1, unitsPerBuilding: 1, housesPerUnit: 1, bcryptCost: 4,
            billing: false
        ).seed(database) { password, _ in "test-hash-\(password)" }
        let outTradeNo = "PORTS" + purpose.rawValue.uppercased()
        try await database.transaction { db in
            let tenant = TenantSQL(db, companyId: seeded.companyId, engine: database.engine)
            let house = try await tenant.store.list(House.self, limit: 1).items[0]
            try await PaymentStore(tenant).insert(
                PaymentOrder(
                    id: Identifier.uuidV7(at: now), companyId: seeded.companyId, communityId: house.communityId, houseId: house.id,
                    outTradeNo: outTradeNo,
                    purpose: purpose, items: .init(walletPurpose: purpose == .topUp ? "water" : nil), amount: amount, currency: "CNY",
                    channel: "wechatpay", payerPersonId: nil, payerRelation: .staff, state: .created, channelRequest: nil,
                    expiresAt: now.addingTimeInterval(900), paidAt: nil, paymentId: nil, requestDigest: "digest", createdBy: "test", createdAt: now,
                    updatedAt: now))
        }
        return (seeded.companyId, outTradeNo)
    }

    @Test("a bill payment pays the port's debt and credits what is left to the wallet port", arguments: TestEngine.available)
    func allocatesThroughPorts(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let (company, outTradeNo) = try await Self.order(database, purpose: .bills, amount: 150_00)
            let bills = OneBill(principal: 100_00)
            let wallets = Wallets(refuse: false)
            let service = PaymentService(
                database: database, channels: ChannelConfiguration(), ports: PaymentPorts(wallets: wallets, receivables: bills),
                clock: ManualClock(Self.now))
            let outcome = try await service.apply(
                ChannelTransaction(
                    channel: "wechatpay", transactionId: "tx-1", outTradeNo: outTradeNo, amount: 150_00,
                    paidAt: Self.now, recordedBy: "test"), companyId: company, payload: "{}")
            #expect(outcome.status == .applied)
            #expect(bills.paid.withLock { $0.map(\.0) } == ["bill-1"])
            #expect(bills.paid.withLock { $0.map(\.1) } == [100_00])
            #expect(wallets.credits.withLock { $0.map(\.amount) } == [50_00])
            #expect(wallets.credits.withLock { $0.map(\.purpose) } == ["general"])
            #expect(Set(outcome.allocations.map(\.target)) == [.billPrincipal, .wallet])
        }
    }

    @Test("a wallet that refuses holds the payment for review, and nothing of it is written", arguments: TestEngine.available)
    func refusedCreditHolds(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let (company, outTradeNo) = try await Self.order(database, purpose: .topUp, amount: 80_00)
            let bills = OneBill(principal: 100_00)
            let service = PaymentService(
                database: database, channels: ChannelConfiguration(),
                ports: PaymentPorts(wallets: Wallets(refuse: true), receivables: bills), clock: ManualClock(Self.now))
            let outcome = try await service.apply(
                ChannelTransaction(
                    channel: "wechatpay", transactionId: "tx-2", outTradeNo: outTradeNo, amount: 80_00,
                    paidAt: Self.now, recordedBy: "test"), companyId: company, payload: "{}")
            #expect(outcome.status == .heldForReview)
            #expect(outcome.review == "apply_failed")
            #expect(outcome.paymentId == nil)
            let stored = try await database.read { db in
                try await PaymentStore(TenantSQL(db, companyId: company, engine: database.engine)).payment(
                    channel: "wechatpay", transactionId: "tx-2")
            }
            #expect(stored == nil)
            #expect(bills.paid.withLock { $0.isEmpty })
        }
    }

    @Test("an order above the wallet port's largest credit is refused before any channel is asked")
    func topUpLimitFromThePort() throws {
        let request = PaymentService.OrderRequest(
            id: "r1", houseId: "h1", purpose: .topUp, channel: "wechatpay", amount: Money(minorUnits: 1_000_01),
            walletPurpose: "water")
        #expect(throws: PaymentError.self) { try PaymentService.validate(request, maximumTopUp: 1_000_00) }
        try PaymentService.validate(request, maximumTopUp: 1_000_01)
    }
}
