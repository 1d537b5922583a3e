import CourtyardDomain
import CourtyardStorage
import Foundation

/// What Payments asks of the modules that own wallets and bills. It imports neither: the composition root gives it
/// implementations (CourtyardServer's `PaymentPorts.courtyard`: prepaid top-ups and billing's settlements), and each
/// writes its own tables inside the payment's transaction, so an allocation still commits with its payment or not at all.
public struct PaymentPorts: Sendable {
    public var wallets: any WalletCredits
    public var receivables: any Receivables

    public init(wallets: any WalletCredits, receivables: any Receivables) {
        self.wallets = wallets
        self.receivables = receivables
    }
}

/// A house's wallets, credited by payments (a top-up order, or what a bill payment leaves over).
public protocol WalletCredits: Sendable {
    /// The largest single credit in fen; orders above it are refused before they reach a channel.
    var maximumCredit: Int64 { get }
    /// Credits a wallet inside the payment's transaction and decides the house's supply again. Refusals are
    /// ``PaymentError``s (the payment is then held for review).
    func credit(_ credit: WalletCredit, tenant: TenantSQL, now: Date) async throws -> WalletCredited
}

/// One wallet credit: idempotent by `id`.
public struct WalletCredit: Sendable, Hashable {
    public var id: String
    public var houseId: String
    public var purpose: String
    public var amount: Int64
    public var channel: String
    public var note: String
    public var actor: String

    public init(id: String, houseId: String, purpose: String, amount: Int64, channel: String, note: String, actor: String) {
        self.id = id
        self.houseId = houseId
        self.purpose = purpose
        self.amount = amount
        self.channel = channel
        self.note = note
        self.actor = actor
    }
}

/// What a credit did: the wallet's account id and the device commands (restores) it queued.
public struct WalletCredited: Sendable, Hashable {
    public var walletId: String
    public var commands: [String]

    public init(walletId: String, commands: [String]) {
        self.walletId = walletId
        self.commands = commands
    }
}

/// A house's bills as payments see them: debts to allocate over, and what an allocation (or its undoing) does to them.
public protocol Receivables: Sendable {
    /// The open debts a payment settles, in order: the chosen bills of the house, or all its unpaid bills, oldest due first.
    func openDebts(houseId: String, chosen: [String]?, asOf day: LocalDate, tenant: TenantSQL) async throws -> [OpenDebt]
    /// Adds (or, negative, takes back) paid principal of a bill.
    func addPaid(_ amount: Int64, to billId: String, tenant: TenantSQL, now: Date) async throws
    /// A payment settled `amount` of a bill's late fees accrued through `day`.
    func settleLateFees(billId: String, paymentId: String, through day: LocalDate, amount: Int64, tenant: TenantSQL) async throws
    /// A voided payment's late-fee settlement of a bill is undone.
    func unsettleLateFees(billId: String, paymentId: String, tenant: TenantSQL) async throws
    /// How many bills of a house are unpaid past their due date on `day` (the refund rules ask).
    func overdueCount(houseId: String, on day: LocalDate, tenant: TenantSQL) async throws -> Int64
}

/// An unpaid bill as a debt on a day, with its period for the receipt's line.
public struct OpenDebt: Sendable, Hashable {
    public var debt: Settlement.Debt
    public var period: String

    public init(debt: Settlement.Debt, period: String) {
        self.debt = debt
        self.period = period
    }
}
