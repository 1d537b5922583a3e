import SQLKit

/// Searches the front desk types into a box: a name's first characters, a phone's last four digits. The tenant
/// predicate is added here, as for every scoped read; each search is served by an index of migration 9
/// (``Schema/frontDeskSearch``).
extension ScopedStore {
    /// Rows whose `column` starts with `prefix`, in `column` order: a range on the column (`>= prefix` and below
    /// `prefix` followed by the last code point), which a plain B-tree index serves on both engines, unlike `LIKE`.
    public func rows<R: TenantRecord>(_ type: R.Type, where column: String, startsWith prefix: String, limit: Int) async throws -> [R] {
        guard !prefix.isEmpty else { return [] }
        let query = db.select().columns(R.columns.map { SQLColumn($0) }).from(R.table)
            .where(SQLColumn(column), .greaterThanOrEqual, SQLBind(prefix))
            .where(SQLColumn(column), .lessThan, SQLBind(prefix + "\u{10FFFF}"))
        return try await run(query, R.self, order: column, limit: limit)
    }

    /// People whose phone number ends with the four digits `suffix`: the expression is the one the index
    /// `people_phone_suffix` is built on, so the lookup is a range scan, not a table scan.
    public func people(phoneEndingWith suffix: String, limit: Int) async throws -> [Person] {
        guard suffix.count == 4, suffix.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return [] }
        let query = db.select().columns(Person.columns.map { SQLColumn($0) }).from(Person.table)
            .where(SQLRaw("SUBSTR(phone, LENGTH(phone) - 3)"), .equal, SQLBind(suffix))
        return try await run(query, Person.self, order: "id", limit: limit)
    }

    private func run<R: TenantRecord>(_ query: SQLSelectBuilder, _ type: R.Type, order: String, limit: Int) async throws -> [R] {
        query.where(SQLColumn("company_id"), .equal, SQLBind(scope.companyId))
        if let communities = scope.communityIds {
            query.where(SQLColumn(R.communityColumn), .in, SQLBind.group(communities.sorted()))
        }
        query.orderBy(order).limit(limit)
        return try await query.all().map { try R(row: RowReader($0, table: R.table)) }
    }
}

extension Schema {
    /// Indexes for the front desk's searches: a house by number, a person by name prefix or phone suffix, a vehicle
    /// by plate, each led by the company so the tenant predicate narrows first.
    static let frontDeskSearch = Migration(
        version: 9, name: "front_desk_search",
        statements: [
            "CREATE INDEX houses_company_number ON houses (company_id, number)",
            "CREATE INDEX people_company_name ON people (company_id, name)",
            "CREATE INDEX people_phone_suffix ON people (company_id, (SUBSTR(phone, LENGTH(phone) - 3)))",
            "CREATE INDEX vehicles_company_plate ON vehicles (company_id, plate)",
        ])
}
