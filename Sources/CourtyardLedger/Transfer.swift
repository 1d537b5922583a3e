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

    public init(
        id: String, debit: AccountKey, credit: AccountKey, amount: Int64, currency: String = "CNY",
        code: TransferCode, reference: String? = nil, actor: String
    ) {
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
        var writer = Canonical.Writer(capacity: 256)
        switch self {
        case .transfer(let t):
            writer.append("transfer"); writer.append(t.id); writer.append(t.debit.id); writer.append(t.credit.id)
            writer.append(t.amount); writer.append(t.currency); writer.append(t.code.rawValue); writer.append(t.reference ?? "")
            writer.append(t.actor)
        case .hold(let t, let expiresAt):
            writer.append("hold"); writer.append(t.id); writer.append(t.debit.id); writer.append(t.credit.id)
            writer.append(t.amount); writer.append(t.currency); writer.append(t.code.rawValue); writer.append(t.reference ?? "")
            writer.append(t.actor); writer.append(expiresAt)
        case .postHold(let id, let holdId, let amount, let actor):
            writer.append("post"); writer.append(id); writer.append(holdId)
            if let amount { writer.append(amount) } else { writer.append("all") }
            writer.append(actor)
        case .voidHold(let id, let holdId, let actor):
            writer.append("void"); writer.append(id); writer.append(holdId); writer.append(actor)
        case .expireHold(let holdId):
            writer.append("expire"); writer.append(holdId)
        }
        return writer.sha256Hex()
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

    public init(
        id: String, communityId: String, debit: AccountKey, credit: AccountKey, amount: Int64, currency: String,
        code: TransferCode, expiresAt: Int64, status: Status
    ) {
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
        var writer = Writer(capacity: 256)
        for field in fields { writer.append(field) }
        return writer.bytes
    }

    /// Builds the canonical bytes field by field into one buffer (the ledger's hot path hashes two per transfer).
    ///
    /// The output is byte for byte what ``Canonical/bytes(_:)`` gives for the
    /// same fields written as strings (an integer as its decimal text).
    public struct Writer {
        public private(set) var bytes: [UInt8]

        public init(capacity: Int) {
            bytes = []
            bytes.reserveCapacity(capacity)
        }

        /// Raw bytes, without a length prefix (the chain's previous hash).
        public mutating func appendRaw(_ text: String) {
            var text = text
            text.withUTF8 { bytes.append(contentsOf: $0) }
        }

        public mutating func appendRaw(byte: UInt8) {
            bytes.append(byte)
        }

        public mutating func append(_ field: String) {
            var field = field
            field.withUTF8 { utf8 in
                appendDecimal(Int64(utf8.count))
                bytes.append(UInt8(ascii: ":"))
                bytes.append(contentsOf: utf8)
                bytes.append(UInt8(ascii: "\n"))
            }
        }

        public mutating func append(_ field: Int64) {
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
                let count = Self.decimal(field, into: digits)
                appendDecimal(Int64(count))
                bytes.append(UInt8(ascii: ":"))
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[(20 - count)...]))
                bytes.append(UInt8(ascii: "\n"))
            }
        }

        private mutating func appendDecimal(_ value: Int64) {
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
                let count = Self.decimal(value, into: digits)
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[(20 - count)...]))
            }
        }

        /// Writes `value`'s decimal text right-aligned into the 20-byte `buffer`; returns its length.
        private static func decimal(_ value: Int64, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
            var magnitude = value.magnitude
            var index = 20
            repeat {
                index -= 1
                buffer[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                index -= 1
                buffer[index] = UInt8(ascii: "-")
            }
            return 20 - index
        }

        public func sha256Hex() -> String {
            Canonical.hex(SHA256.hash(data: bytes))
        }
    }

    public static func hex(_ digest: some Sequence<UInt8>) -> String {
        let bytes = Array(digest)
        return String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            let table: StaticString = "0123456789abcdef"
            let digits = table.utf8Start
            var index = 0
            for byte in bytes {
                out[index] = digits[Int(byte >> 4)]
                out[index + 1] = digits[Int(byte & 0x0F)]
                index += 2
            }
            return index
        }
    }

    public static func digest(_ fields: [String]) -> String {
        hex(SHA256.hash(data: bytes(fields)))
    }
}
