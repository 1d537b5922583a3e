import Crypto
import Foundation

/// Why money moved; decides which balance rules allow the movement.
public enum TransferCode: String, Codable, Sendable, CaseIterable {
    case topUp = "top_up"
    case deduction
    case billPosting = "bill_posting"
    case payment
    case refund
    case depositReceived = "deposit_received"
    case depositRefund = "deposit_refund"
    case depositDeduction = "deposit_deduction"
    case lateFee = "late_fee"
    case writeOff = "write_off"
    case maintenanceFundCollection = "maintenance_fund_collection"
    case maintenanceFundUse = "maintenance_fund_use"
    case walletTransfer = "wallet_transfer"
    case adjustment
}

/// One movement of money from a debit account to a credit account, named by a client-supplied id.
public struct Transfer: Hashable, Sendable, Codable {
    /// Client-supplied, unique per company; the idempotency key.
    public var id: String
    public var debit: AccountKey
    public var credit: AccountKey
    /// Fen; strictly positive.
    public var amount: Int64
    public var currency: String
    public var code: TransferCode
    /// What caused it: a bill, reading, payment, command…
    public var reference: String?
    /// The user id or `system:<component>` that asked for it.
    public var actor: String

    public init(id: String, debit: AccountKey, credit: AccountKey, amount: Int64, currency: String = "CNY",
                code: TransferCode, reference: String? = nil, actor: String) {
        self.id = id
        self.debit = debit
        self.credit = credit
        self.amount = amount
        self.currency = currency
        self.code = code
        self.reference = reference
        self.actor = actor
    }
}

/// Something the ledger can be asked to do. Each has an id for idempotency.
public enum LedgerOperation: Hashable, Sendable {
    /// Move money now.
    case transfer(Transfer)
    /// Reserve money until `expiresAt` (epoch ms): the debit's available balance drops, nothing is posted yet.
    case hold(Transfer, expiresAt: Int64)
    /// Post all (`amount == nil`) or part of a pending hold; the rest is released.
    case postHold(id: String, holdId: String, amount: Int64?, actor: String)
    /// Release a pending hold without posting.
    case voidHold(id: String, holdId: String, actor: String)
    /// Release a pending hold whose expiry has passed (issued by the system).
    case expireHold(holdId: String)

    /// The idempotency key.
    public var id: String {
        switch self {
        case .transfer(let t), .hold(let t, _): return t.id
        case .postHold(let id, _, _, _), .voidHold(let id, _, _): return id
        case .expireHold(let holdId): return "expire:" + holdId
        }
    }

    /// A digest of everything the operation asks for; a replay with a different digest is a conflict.
    public var contentDigest: String {
        var fields: [String] = []
        switch self {
        case .transfer(let t):
            fields = ["transfer", t.id, t.debit.id, t.credit.id, String(t.amount), t.currency, t.code.rawValue, t.reference ?? "", t.actor]
        case .hold(let t, let expiresAt):
            fields = ["hold", t.id, t.debit.id, t.credit.id, String(t.amount), t.currency, t.code.rawValue, t.reference ?? "", t.actor,
                      String(expiresAt)]
        case .postHold(let id, let holdId, let amount, let actor):
            fields = ["post", id, holdId, amount.map(String.init) ?? "all", actor]
        case .voidHold(let id, let holdId, let actor):
            fields = ["void", id, holdId, actor]
        case .expireHold(let holdId):
            fields = ["expire", holdId]
        }
        return Canonical.digest(fields)
    }
}

/// A pending, posted, voided or expired reservation.
public struct Hold: Hashable, Sendable, Codable {
    public enum Status: String, Codable, Sendable {
        case pending, posted, voided, expired
    }

    public var id: String
    public var communityId: String
    public var debit: AccountKey
    public var credit: AccountKey
    public var amount: Int64
    public var currency: String
    public var code: TransferCode
    public var expiresAt: Int64
    public var status: Status

    public init(id: String, communityId: String, debit: AccountKey, credit: AccountKey, amount: Int64, currency: String,
                code: TransferCode, expiresAt: Int64, status: Status) {
        self.id = id
        self.communityId = communityId
        self.debit = debit
        self.credit = credit
        self.amount = amount
        self.currency = currency
        self.code = code
        self.expiresAt = expiresAt
        self.status = status
    }
}

/// Length-prefixed canonical encoding and SHA-256 helpers shared by digests and the hash chain.
public enum Canonical {
    /// `len:bytes` for each field, joined by newlines: unambiguous whatever the fields contain.
    public static func bytes(_ fields: [String]) -> [UInt8] {
        var out: [UInt8] = []
        for field in fields {
            let utf8 = Array(field.utf8)
            out.append(contentsOf: Array(String(utf8.count).utf8))
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: utf8)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    public static func hex(_ digest: some Sequence<UInt8>) -> String {
        let table = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in digest {
            out.append(table[Int(byte >> 4)])
            out.append(table[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func digest(_ fields: [String]) -> String {
        hex(SHA256.hash(data: bytes(fields)))
    }
}
