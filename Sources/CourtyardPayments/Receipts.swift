import CourtyardDomain
import CourtyardStorage
import Crypto
import Foundation
import SQLKit

/// An e-receipt (电子收据): what was paid (or refunded, or released), by whom, for which house, through which channel;
/// numbered per company without gaps, verifiable by anyone holding it at `/r/{token}`.
public struct Receipt: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable { case payment, refund, depositRelease = "deposit_release" }

    public struct Line: Codable, Sendable, Hashable {
        public var description: String
        public var amount: Money

        public init(description: String, amount: Money) {
            self.description = description
            self.amount = amount
        }
    }

    public var number: Int64
    public var kind: Kind
    public var companyName: String
    public var communityName: String
    public var house: String
    public var payer: String?
    public var channel: String
    public var channelReference: String
    public var lines: [Line]
    public var total: Money
    public var issuedAt: Date
    /// The community's IANA zone: the receipt shows its local time (absent on receipts issued before 2026-12; those show
    /// Beijing time).
    public var timeZone: String?
    /// The verification token (unguessable; the QR code links to `/r/{token}`).
    public var token: String
    /// Formatted number, `R` + 10 digits.
    public var displayNumber: String { "R" + String(repeating: "0", count: max(0, 10 - String(number).count)) + String(number) }
}

/// Issues receipts in the caller's transaction: the company's counter goes up by one, so a rolled-back payment leaves
/// no gap and two payments never share a number (the counter row is the lock).
public struct ReceiptBook: TenantStore {
    public let tenant: TenantSQL

    public init(_ tenant: TenantSQL) {
        self.tenant = tenant
    }

    /// The next number, taken in this transaction (pass it to ``issue`` as `number`; a rollback gives it back).
    public func nextNumber() async throws -> Int64 {
        let row = try await tenant.insert(
            into: "receipt_counters", columns: ["last_number"], values: [Int64(1)],
            onConflict: .onTenantKey([], doUpdate: "last_number = receipt_counters.last_number + 1"),
            returning: "last_number"
        ).first()
        guard let row else { throw StorageError.corruptRow(table: "receipt_counters", column: "last_number") }
        return try RowReader(row, table: "receipt_counters").int64("last_number")
    }

    /// A name as counters show it on a receipt: the surname and a mask (张**).
    static func masked(_ name: String) -> String {
        String(name.prefix(1)) + String(repeating: "*", count: max(1, name.count - 1))
    }

    /// Issues a receipt for `subjectId` (a payment, refund or deposit); issuing again for the same subject returns the first.
    ///
    /// `fresh` says the subject was created in this transaction (a new payment), so there is no earlier receipt to find.
    public func issue(
        kind: Receipt.Kind, subjectId: String, communityId: String, houseId: String, payer: String?, channel: String,
        channelReference: String, lines: [Receipt.Line], total: Money, at now: Date, fresh: Bool = false,
        number reserved: Int64? = nil
    ) async throws -> Receipt {
        if !fresh, let existing = try await receipt(kind: kind, subjectId: subjectId) { return existing }
        // The house's names and, for a receipt without a named payer (cash at the desk), its current owner on record
        // (the latest of several), in one query: a receipt always says for whom it was paid.
        let names = try await tenant.select(
            """
            c.name AS community_name, c.time_zone AS time_zone, b.name AS building_name, h.number AS house_number,
            p.name AS owner_name
            """, from: "houses", as: "h",
            joining: [
                .inner("communities", as: "c", on: "c.id = h.community_id"), .inner("buildings", as: "b", on: "b.id = h.building_id"),
                .left("occupancies", as: "o", on: "o.house_id = h.id AND o.role = 'owner' AND o.valid_until IS NULL"),
                .left("people", as: "p", on: "p.id = o.person_id"),
            ],
            where: "h.id = \(bind: houseId)", then: "ORDER BY o.valid_from DESC LIMIT 1"
        ).first()
        let reader = names.map { RowReader($0, table: "houses") }
        let companyName = try await tenant.company("name").first().map { try RowReader($0, table: "companies").string("name") }
        let number: Int64
        if let reserved { number = reserved } else { number = try await nextNumber() }
        let token = Self.newToken()
        var shownPayer = payer
        if shownPayer == nil, let owner = try reader?.optionalString("owner_name") { shownPayer = Self.masked(owner) + " (业主 owner)" }
        let receipt = Receipt(
            number: number, kind: kind, companyName: names == nil ? "" : companyName ?? "",
            communityName: try reader?.string("community_name") ?? "",
            house: [try reader?.string("building_name"), try reader?.string("house_number")].compactMap { $0 }.joined(separator: " "),
            payer: shownPayer, channel: channel, channelReference: channelReference,
            lines: lines, total: total, issuedAt: now, timeZone: try reader?.string("time_zone"), token: token)
        try await tenant.insert(
            into: "receipts", columns: ["id", "community_id", "number", "kind", "subject_id", "token", "document", "created_at"],
            values: [
                Identifier.uuidV7(at: now), communityId, number, kind.rawValue, subjectId, token, StoredJSON.encode(receipt),
                now.epochMilliseconds,
            ]
        ).run()
        return receipt
    }

    /// 128 random bits as 32 lowercase hex digits: the receipt's public credential.
    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(32)
        for _ in 0..<2 {
            var word = generator.next()
            for _ in 0..<16 {
                text.append(digits[Int(word & 0xF)])
                word >>= 4
            }
        }
        return String(decoding: text, as: UTF8.self)
    }

    public func receipt(kind: Receipt.Kind, subjectId: String) async throws -> Receipt? {
        try await tenant.select("document", from: "receipts", where: "kind = \(bind: kind.rawValue) AND subject_id = \(bind: subjectId)").first().map
        { try StoredJSON.decode(Receipt.self, try RowReader($0, table: "receipts").string("document"), table: "receipts", column: "document") }
    }

    public func receipt(number: Int64) async throws -> Receipt? {
        try await tenant.select("document", from: "receipts", where: "number = \(bind: number)").first().map {
            try StoredJSON.decode(Receipt.self, try RowReader($0, table: "receipts").string("document"), table: "receipts", column: "document")
        }
    }

    /// A receipt by its public token, across companies (the token is the credential: 128 random bits).
    public static func receipt(token: String, db: any SQLDatabase) async throws -> Receipt? {
        guard token.count == 32, token.allSatisfy(\.isHexDigit) else { return nil }
        return try await db.raw("SELECT document FROM receipts WHERE token = \(bind: token)")
            .first().map {
                try StoredJSON.decode(Receipt.self, try RowReader($0, table: "receipts").string("document"), table: "receipts", column: "document")
            }
    }
}
