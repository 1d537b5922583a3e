import CourtyardBilling
import CourtyardDomain
import CourtyardPayments
import CourtyardPrepaid
import CourtyardStorage
import Foundation

extension PaymentPorts {
    /// Payments wired to this product's wallets (prepaid top-ups, which also restore supply) and bills (billing's
    /// settlements). The composition root's choice: Payments itself imports neither module.
    public static let courtyard = PaymentPorts(wallets: PrepaidWallets(), receivables: BillingReceivables())
}

/// Wallet credits as prepaid top-ups: the credit, the repayment of any overdraft, and the supply decided again.
struct PrepaidWallets: WalletCredits {
    var maximumCredit: Int64 { TopUp.maximum }

    func credit(_ credit: WalletCredit, tenant: TenantSQL, now: Date) async throws -> WalletCredited {
        do {
            let result = try await TopUp(tenant.db, companyId: tenant.companyId, engine: tenant.engine).apply(
                TopUp.Request(
                    id: credit.id, purpose: credit.purpose, amount: Money(minorUnits: credit.amount), channel: credit.channel, note: credit.note),
                house: credit.houseId, scope: TenantScope(companyId: tenant.companyId), actor: credit.actor, now: now)
            return WalletCredited(walletId: result.walletId, commands: result.commands)
        } catch let refused as PrepaidError {
            // A refused credit is a refused allocation: the payment is held for review with the same code and field.
            let kind: PaymentError.Kind =
                switch refused.kind {
                case .invalid: .invalid
                case .notFound: .notFound
                case .conflict: .conflict
                }
            throw PaymentError(kind, code: refused.code, field: refused.field, refused.message)
        }
    }
}

/// Bills as billing's settlements see them.
struct BillingReceivables: Receivables {
    func openDebts(houseId: String, chosen: [String]?, asOf day: LocalDate, tenant: TenantSQL) async throws -> [OpenDebt] {
        try await BillSettlements(tenant).openBills(houseId: houseId, chosen: chosen, asOf: day).map { bill in
            OpenDebt(debt: Settlement.Debt(billId: bill.billId, lateFee: bill.lateFee, principal: bill.principal), period: bill.period)
        }
    }

    func addPaid(_ amount: Int64, to billId: String, tenant: TenantSQL, now: Date) async throws {
        try await BillSettlements(tenant).addPaid(amount, to: billId, now: now)
    }

    func settleLateFees(billId: String, paymentId: String, through day: LocalDate, amount: Int64, tenant: TenantSQL) async throws {
        try await BillSettlements(tenant).settleLateFees(billId: billId, paymentId: paymentId, through: day, amount: amount)
    }

    func unsettleLateFees(billId: String, paymentId: String, tenant: TenantSQL) async throws {
        try await BillSettlements(tenant).unsettleLateFees(billId: billId, paymentId: paymentId)
    }

    func overdueCount(houseId: String, on day: LocalDate, tenant: TenantSQL) async throws -> Int64 {
        try await BillSettlements(tenant).overdueCount(houseId: houseId, on: day)
    }
}
