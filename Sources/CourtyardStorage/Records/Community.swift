import CourtyardDomain
import Foundation
import SQLKit

/// A residential community (小区) run by one company: the unit of billing, time zone and currency.
public struct Community: TenantRecord, Codable, Equatable {
    public var id: String
    public var companyId: String
    public var code: String
    public var name: String
    /// IANA time zone in which billing periods, tiers and due dates are read.
    public var timeZone: String
    public var currency: Currency
    public var address: String?
    public var createdAt: Date
    public var updatedAt: Date

    public var communityId: String { id }

    public init(
        id: String, companyId: String, code: String, name: String, timeZone: String, currency: Currency,
        address: String?, createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.companyId = companyId; self.code = code; self.name = name; self.timeZone = timeZone
        self.currency = currency; self.address = address; self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    public static let table = "communities"
    public static let communityColumn = "id"
    public static let columns = ["id", "company_id", "code", "name", "time_zone", "currency", "address", "created_at", "updated_at"]

    public init(row: RowReader) throws {
        let code = try row.string("currency")
        guard let currency = Currency.supported[code] else { throw StorageError.corruptRow(table: Self.table, column: "currency") }
        self.init(
            id: try row.string("id"), companyId: try row.string("company_id"), code: try row.string("code"),
            name: try row.string("name"), timeZone: try row.string("time_zone"), currency: currency,
            address: try row.optionalString("address"), createdAt: try row.instant("created_at"),
            updatedAt: try row.instant("updated_at"))
    }

    public var storageValues: [any SQLExpression] {
        [
            SQLBind(id), SQLBind(companyId), SQLBind(code), SQLBind(name), SQLBind(timeZone), SQLBind(currency.code),
            sqlValue(address), SQLBind(createdAt.epochMilliseconds), SQLBind(updatedAt.epochMilliseconds),
        ]
    }
}
