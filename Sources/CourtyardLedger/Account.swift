import Foundation

/// What an account is for; decides its normal side and which movements its balance rules allow.
public enum AccountKind: String, Codable, Sendable, CaseIterable {
    /// A household's prepaid money for one purpose (a liability: credit-normal).
    case wallet
    /// What a house owes (an asset: debit-normal).
    case receivable
    /// A deposit held for a house, apart from everything else (liability).
    case deposit
    /// The special maintenance fund (专项维修资金) (liability).
    case maintenanceFund = "maintenance_fund"
    /// Income per fee item (credit-normal).
    case revenue
    /// Money received through a payment channel and not yet settled (asset: debit-normal).
    case clearing
    /// Refunds approved and owed to payers (liability).
    case refundsPayable = "refunds_payable"
    /// Late-fee income (credit-normal).
    case lateFeeIncome = "late_fee_income"
    /// Written-off receivables and breakage (expense: debit-normal).
    case writeOff = "write_off"

    /// Whether the balance grows with debits (assets, expenses) rather than credits.
    public var isDebitNormal: Bool {
        switch self {
        case .receivable, .clearing, .writeOff: return true
        default: return false
        }
    }

    /// Whether the account belongs to one house (its `owner` is a house id) rather than to the community.
    public var isPerHouse: Bool {
        switch self {
        case .wallet, .receivable, .deposit: return true
        default: return false
        }
    }

    /// The purposes an account of this kind may have; `nil` means any code (fee item codes for revenue).
    public var purposes: Set<String>? {
        switch self {
        case .wallet: return Self.walletPurposes
        case .receivable: return Self.receivablePurposes
        case .deposit: return Self.depositPurposes
        case .maintenanceFund: return Self.mainPurpose
        case .revenue: return nil
        case .clearing: return Self.clearingPurposes
        case .refundsPayable, .lateFeeIncome, .writeOff: return Self.mainPurpose
        }
    }

    // Built once: `purposes` is checked twice per transfer.
    private static let walletPurposes: Set<String> = ["electricity", "water", "gas", "heating", "parking", "property_fee", "general"]
    // `fees`: bills. A utility name: prepaid usage beyond the wallets (emergency credit, friendly windows), repaid by the next top-up.
    private static let receivablePurposes: Set<String> = ["fees", "electricity", "water", "gas", "heating"]
    private static let depositPurposes: Set<String> = ["decoration", "access_card", "facility", "other"]
    private static let mainPurpose: Set<String> = ["main"]
    private static let clearingPurposes: Set<String> = ["wechatpay", "alipay", "cash", "pos", "bank"]
}

/// The natural key of an account: community, kind, owning object and purpose.
///
/// Account ids are derived from this key (``id``), so any module can name an
/// account without looking it up: the electricity wallet of house H in
/// community C always has the same id. How the id is derived is
/// ``AccountIdScheme``: by default it begins with the owner's own id, so that
/// the accounts a bill run opens for a million houses append to the id indexes
/// instead of landing at random places in them.
///
/// An immutable final class rather than a struct: keys are copied into every
/// transfer, account and hold the ledger handles, and a copy of a reference is
/// one retain where a struct of four strings was four (the ledger's hot path
/// copies each key several times per transfer). Equality and hashing are by
/// ``id``, so it behaves as a value.
public final class AccountKey: Hashable, Sendable, Codable {
    public let communityId: String
    public let kind: AccountKind
    /// A house id for per-house kinds; `community` (or a house id, for the maintenance fund) otherwise.
    public let owner: String
    public let purpose: String
    /// The stable account id: a UUID-shaped digest of the key, computed once.
    public let id: String

    public init(communityId: String, kind: AccountKind, owner: String, purpose: String) {
        self.communityId = communityId
        self.kind = kind
        self.owner = owner
        self.purpose = purpose
        self.id = Self.derivedId(communityId: communityId, kind: kind, owner: owner, purpose: purpose)
    }

    /// A key read back from storage together with its already-derived id (skips recomputing the digest).
    ///
    /// Only for rows this ledger wrote itself; ``JournalVerifier`` and `ledger verify` still check every id.
    public init(storedId id: String, communityId: String, kind: AccountKind, owner: String, purpose: String) {
        self.communityId = communityId
        self.kind = kind
        self.owner = owner
        self.purpose = purpose
        self.id = id
    }

    private enum CodingKeys: String, CodingKey { case communityId, kind, owner, purpose }

    public convenience init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            communityId: try container.decode(String.self, forKey: .communityId),
            kind: try container.decode(AccountKind.self, forKey: .kind),
            owner: try container.decode(String.self, forKey: .owner),
            purpose: try container.decode(String.self, forKey: .purpose))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(communityId, forKey: .communityId)
        try container.encode(kind, forKey: .kind)
        try container.encode(owner, forKey: .owner)
        try container.encode(purpose, forKey: .purpose)
    }

    public static func == (lhs: AccountKey, rhs: AccountKey) -> Bool { lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    static func derivedId(communityId: String, kind: AccountKind, owner: String, purpose: String) -> String {
        let scheme: AccountIdScheme = AccountIdScheme.hashOnlyCommunities.contains(communityId) ? .hashOnly : .ownerOrdered
        return scheme.id(communityId: communityId, kind: kind, owner: owner, purpose: purpose)
    }

    /// The community-level owner name.
    public static let communityOwner = "community"

    /// A house's wallet for `purpose`.
    public static func wallet(_ communityId: String, house: String, purpose: String) -> AccountKey {
        AccountKey(communityId: communityId, kind: .wallet, owner: house, purpose: purpose)
    }

    /// A community-level account (clearing, revenue, refunds payable, …).
    public static func community(_ communityId: String, _ kind: AccountKind, purpose: String = "main") -> AccountKey {
        AccountKey(communityId: communityId, kind: kind, owner: communityOwner, purpose: purpose)
    }

    /// Problems with the key itself, or `nil`.
    public var problem: LedgerError? {
        if let allowed = kind.purposes, !allowed.contains(purpose) { return .invalidAccount("\(kind.rawValue) has no purpose \(purpose)") }
        if kind.purposes == nil, purpose.isEmpty || purpose.count > 64 { return .invalidAccount("purpose must be 1 to 64 characters") }
        if kind.isPerHouse, owner == Self.communityOwner { return .invalidAccount("\(kind.rawValue) accounts belong to a house") }
        if !kind.isPerHouse, kind != .maintenanceFund, owner != Self.communityOwner {
            return .invalidAccount("\(kind.rawValue) accounts belong to the community")
        }
        return nil
    }
}

/// An account's running totals, TigerBeetle-style: posted and pending amounts on each side.
public struct Account: Hashable, Sendable, Codable {
    public var key: AccountKey
    public var currency: String
    public var debitsPosted: Int64 = 0
    public var creditsPosted: Int64 = 0
    public var debitsPending: Int64 = 0
    public var creditsPending: Int64 = 0
    /// Sequence of the last journal entry (in the account's community chain) that touched the account; 0 before the first.
    ///
    /// It heads the account's own chain of entries: every entry stores the
    /// previous entry of each of its two accounts, so statements and "as of"
    /// balances walk back from here instead of the journal keeping an index
    /// per account, whose random inserts would dominate the write cost.
    public var lastSequence: Int64 = 0

    public init(
        key: AccountKey, currency: String, debitsPosted: Int64 = 0, creditsPosted: Int64 = 0,
        debitsPending: Int64 = 0, creditsPending: Int64 = 0, lastSequence: Int64 = 0
    ) {
        self.lastSequence = lastSequence
        self.key = key
        self.currency = currency
        self.debitsPosted = debitsPosted
        self.creditsPosted = creditsPosted
        self.debitsPending = debitsPending
        self.creditsPending = creditsPending
    }

    public var id: String { key.id }

    /// Posted balance on the account's normal side (a wallet's money, a receivable's debt).
    public var balance: Int64 {
        key.kind.isDebitNormal ? debitsPosted &- creditsPosted : creditsPosted &- debitsPosted
    }

    /// Posted balance less what holds reserve against it.
    public var available: Int64 {
        key.kind.isDebitNormal ? balance &- creditsPending : balance &- debitsPending
    }
}
