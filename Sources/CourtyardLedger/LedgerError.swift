/// Why the ledger refused a movement. Every case has a stable API code; nothing is written when one is raised.
public enum LedgerError: Error, Hashable, Sendable {
    case invalidAmount
    case sameAccount
    case crossCommunity
    case currencyMismatch
    case invalidAccount(String)
    case unknownAccount(String)
    case invalidTransferId
    case invalidField(String)
    case overflow
    /// The debit would take the account below what its rule allows.
    case insufficientBalance(accountId: String, available: Int64, requested: Int64)
    /// Deposits may only move to a refund or a documented deduction.
    case depositRestricted
    /// The maintenance fund may only move to an approved use.
    case maintenanceFundRestricted
    case idempotencyConflict(transferId: String)
    case unknownHold(String)
    case holdNotPending(String)
    case holdExpired(String)
    case holdAmountExceeded(holdId: String, held: Int64, requested: Int64)
    case invalidExpiry
    /// Another transfer of the same linked group failed, so this one was not applied.
    case linkedTransferFailed(index: Int)

    /// The stable API code.
    public var code: String {
        switch self {
        case .invalidAmount: return "invalid_amount"
        case .sameAccount: return "same_account"
        case .crossCommunity: return "cross_community"
        case .currencyMismatch: return "currency_mismatch"
        case .invalidAccount: return "invalid_account"
        case .unknownAccount: return "unknown_account"
        case .invalidTransferId: return "invalid_transfer_id"
        case .invalidField: return "invalid_field"
        case .overflow: return "amount_overflow"
        case .insufficientBalance: return "insufficient_balance"
        case .depositRestricted: return "deposit_restricted"
        case .maintenanceFundRestricted: return "maintenance_fund_restricted"
        case .idempotencyConflict: return "idempotency_conflict"
        case .unknownHold: return "unknown_hold"
        case .holdNotPending: return "hold_not_pending"
        case .holdExpired: return "hold_expired"
        case .holdAmountExceeded: return "hold_amount_exceeded"
        case .invalidExpiry: return "invalid_expiry"
        case .linkedTransferFailed: return "linked_transfer_failed"
        }
    }
}
