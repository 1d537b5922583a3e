import Crypto

/// One line of the append-only journal: an applied operation, chained to the previous line of its community.
///
/// `hash = SHA-256(previousHash ‖ canonical bytes of every other field)`, so
/// editing an amount, deleting a line or reordering lines breaks the chain at
/// that line. Each line also records the debit and credit accounts' posted
/// balances after it, which gives statements a running balance and balances
/// "as of" an instant without replaying.
public struct JournalEntry: Hashable, Sendable, Codable {
    public enum EntryType: String, Codable, Sendable {
        case post
        case hold
        case holdPost = "hold_post"
        case holdVoid = "hold_void"
        case holdExpire = "hold_expire"
    }

    public var companyId: String
    public var communityId: String
    /// Position in the community's chain, from 1, without gaps.
    public var sequence: Int64
    /// The operation's id (the client's transfer id).
    public var transferId: String
    public var type: EntryType
    public var debitAccountId: String
    public var creditAccountId: String
    /// Amount posted by this entry (0 for holds, voids and expiries).
    public var amount: Int64
    /// Amount moved into (hold) or out of (post, void, expire) pending.
    public var pendingAmount: Int64
    public var currency: String
    public var code: TransferCode
    public var reference: String?
    public var actor: String
    public var holdId: String?
    public var expiresAt: Int64?
    /// Epoch milliseconds.
    public var recordedAt: Int64
    public var contentDigest: String
    public var debitBalanceAfter: Int64
    public var creditBalanceAfter: Int64
    public var previousHash: String
    public var hash: String
    /// Sequence of the debit account's previous entry in this chain (0 for its first): the account's back-link.
    ///
    /// The links are derived data, outside the hash (older entries were hashed
    /// without them); the verifier recomputes and checks every one.
    public var debitPrevious: Int64
    /// Sequence of the credit account's previous entry in this chain (0 for its first).
    public var creditPrevious: Int64

    public init(
        companyId: String, communityId: String, sequence: Int64, transferId: String, type: EntryType,
        debitAccountId: String, creditAccountId: String, amount: Int64, pendingAmount: Int64, currency: String,
        code: TransferCode, reference: String?, actor: String, holdId: String?, expiresAt: Int64?, recordedAt: Int64,
        contentDigest: String, debitBalanceAfter: Int64, creditBalanceAfter: Int64, previousHash: String, hash: String,
        debitPrevious: Int64 = 0, creditPrevious: Int64 = 0
    ) {
        self.debitPrevious = debitPrevious; self.creditPrevious = creditPrevious
        self.companyId = companyId; self.communityId = communityId; self.sequence = sequence; self.transferId = transferId
        self.type = type; self.debitAccountId = debitAccountId; self.creditAccountId = creditAccountId; self.amount = amount
        self.pendingAmount = pendingAmount; self.currency = currency; self.code = code; self.reference = reference
        self.actor = actor; self.holdId = holdId; self.expiresAt = expiresAt; self.recordedAt = recordedAt
        self.contentDigest = contentDigest; self.debitBalanceAfter = debitBalanceAfter
        self.creditBalanceAfter = creditBalanceAfter; self.previousHash = previousHash; self.hash = hash
    }

    /// The hash before the first entry of a chain.
    public static let genesisHash = String(repeating: "0", count: 64)

    /// Every field but `hash`, in a fixed order.
    public var canonicalFields: [String] {
        [
            companyId, communityId, String(sequence), transferId, type.rawValue, debitAccountId, creditAccountId, String(amount),
            String(pendingAmount), currency, code.rawValue, reference ?? "\u{0}", actor, holdId ?? "\u{0}",
            expiresAt.map(String.init) ?? "\u{0}", String(recordedAt), contentDigest, String(debitBalanceAfter),
            String(creditBalanceAfter),
        ]
    }

    /// The hash this entry must carry given its previous hash and content.
    public var computedHash: String {
        // Same bytes as `previousHash ‖ "\n" ‖ Canonical.bytes(canonicalFields)`, without the intermediate strings.
        var writer = Canonical.Writer(capacity: 512)
        writer.appendRaw(previousHash)
        writer.appendRaw(byte: UInt8(ascii: "\n"))
        writer.append(companyId); writer.append(communityId); writer.append(sequence); writer.append(transferId)
        writer.append(type.rawValue); writer.append(debitAccountId); writer.append(creditAccountId); writer.append(amount)
        writer.append(pendingAmount); writer.append(currency); writer.append(code.rawValue); writer.append(reference ?? "\u{0}")
        writer.append(actor); writer.append(holdId ?? "\u{0}")
        if let expiresAt { writer.append(expiresAt) } else { writer.append("\u{0}") }
        writer.append(recordedAt); writer.append(contentDigest); writer.append(debitBalanceAfter); writer.append(creditBalanceAfter)
        return writer.sha256Hex()
    }
}

/// The last entry of a community's chain: what anchoring elsewhere pins down.
public struct ChainHead: Hashable, Sendable, Codable {
    public var communityId: String
    public var sequence: Int64
    public var hash: String

    public init(communityId: String, sequence: Int64, hash: String) {
        self.communityId = communityId
        self.sequence = sequence
        self.hash = hash
    }
}
