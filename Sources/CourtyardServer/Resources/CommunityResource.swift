import CourtyardDomain
import CourtyardStorage
import Foundation

extension Community: APIResource {
    /// Writable fields of a community.
    struct Input: Codable, Sendable {
        var code: String
        var name: String
        /// IANA zone, e.g. Asia/Shanghai.
        var timeZone: String
        var currency: Currency?
        var address: String?
    }

    static let path = "communities"
    static let displayName = "Community"
    static let readPermission = Permission.readProperty
    static let writePermission = Permission.manageProperty
    static let filters = ["code"]
    static let requiredInputFields = ["code", "name", "time_zone"]
    static var example: Community {
        Community(
            id: Example.community, companyId: Example.company, code: "LJY", name: "绿景苑", timeZone: "Asia/Shanghai",
            currency: .cny, address: "杭州市西湖区文三路 100 号", createdAt: Example.date, updatedAt: Example.date)
    }
    static var exampleInput: Input { example.input }

    var input: Input { Input(code: code, name: name, timeZone: timeZone, currency: currency, address: address) }

    static func make(_ input: Input, id: String, existing: Community?, now: Date, store: ScopedStore) async throws -> Community {
        var check = Validator()
        check.text(input.code, "code", maxLength: 32)
        check.text(input.name, "name")
        check.check(
            TimeZone(identifier: input.timeZone) != nil && input.timeZone.contains("/") || input.timeZone == "UTC",
            "time_zone", "unknown_time_zone", "time_zone must be an IANA zone such as Asia/Shanghai")
        check.optionalText(input.address, "address", maxLength: 300)
        let currency = input.currency ?? existing?.currency ?? .cny
        check.unchanged(currency, existing?.currency, "currency")
        if existing != nil {
            check.unchanged(input.timeZone, existing?.timeZone, "time_zone")
        }
        try check.finish()
        return Community(
            id: id, companyId: store.scope.companyId, code: input.code, name: input.name, timeZone: input.timeZone,
            currency: currency, address: input.address, createdAt: existing?.createdAt ?? now, updatedAt: now)
    }
}
