import SQLKit

/// Reads and writes tenant rows, always inside one ``TenantScope``.
///
/// This is where tenant isolation is enforced: every `SELECT`, `UPDATE` and
/// `DELETE` built here carries `company_id = ?` (and the community filter when
/// the scope has one), and every insert is checked against the scope first. A
/// row of another company is indistinguishable from a missing row.
public struct ScopedStore: Sendable {
    /// The connection or transaction to run on.
    public let db: any SQLDatabase
    /// Whose rows are visible.
    public let scope: TenantScope

    public init(_ db: any SQLDatabase, scope: TenantScope) {
        self.db = db
        self.scope = scope
    }

    /// Statements beyond records, on the same connection and scope (the tenant predicate added by the storage layer).
    public var sql: TenantSQL { TenantSQL(db, scope: scope) }

    /// Adds the tenant predicate for `R` to a query.
    /// The tenant predicate on `builder`. With `byPrimaryKey` (the query names its rows by id), SQLite is told not to
    /// use an index for the company (`+company_id`): without statistics its planner would otherwise prefer an index led
    /// by the company over the primary key for `id IN (…)`, and walk every row of the company (3 s for 50 houses of a
    /// million). PostgreSQL plans from its statistics and has no unary plus for text.
    private func scoped<B: SQLPredicateBuilder, R: TenantRecord>(_ builder: B, _ type: R.Type, byPrimaryKey: Bool = false) -> B {
        if byPrimaryKey, db.dialect.name == "sqlite" {
            builder.where(SQLRaw("+company_id"), .equal, SQLBind(scope.companyId))
        } else {
            builder.where(SQLColumn("company_id"), .equal, SQLBind(scope.companyId))
        }
        if let communities = scope.communityIds {
            builder.where(SQLColumn(R.communityColumn), .in, SQLBind.group(communities.sorted()))
        }
        return builder
    }

    /// The row with `id`, or `nil` when it does not exist or lies outside the scope.
    public func find<R: TenantRecord>(_ type: R.Type, id: String) async throws -> R? {
        let query = db.select().columns(R.columns.map { SQLColumn($0) }).from(R.table)
            .where(SQLColumn("id"), .equal, SQLBind(id))
        guard let row = try await scoped(query, R.self).first() else { return nil }
        return try R(row: RowReader(row, table: R.table))
    }

    /// The row with `id`, or ``StorageError/notFound(table:id:)``.
    public func get<R: TenantRecord>(_ type: R.Type, id: String) async throws -> R {
        guard let record = try await find(type, id: id) else { throw StorageError.notFound(table: R.table, id: id) }
        return record
    }

    /// One page of rows in id order (ids are UUIDv7, so this is creation order).
    ///
    /// - Parameters:
    ///   - filters: column = value conditions, all of which must hold.
    ///   - cursor: the last id of the previous page; rows after it are returned.
    ///   - limit: the page size.
    /// - Returns: the rows, and the cursor for the next page when there is one.
    public func list<R: TenantRecord>(
        _ type: R.Type, filters: [(column: String, value: String)] = [], after cursor: String? = nil, limit: Int
    ) async throws -> (items: [R], nextCursor: String?) {
        let query = db.select().columns(R.columns.map { SQLColumn($0) }).from(R.table)
        for filter in filters {
            query.where(SQLColumn(filter.column), .equal, SQLBind(filter.value))
        }
        if let cursor {
            query.where(SQLColumn("id"), .greaterThan, SQLBind(cursor))
        }
        query.orderBy("id").limit(limit + 1)
        let rows = try await scoped(query, R.self).all()
        var items = try rows.prefix(limit).map { try R(row: RowReader($0, table: R.table)) }
        let next = rows.count > limit ? items.last?.id : nil
        if items.count > limit { items.removeLast(items.count - limit) }
        return (items, next)
    }

    /// How many rows match `filters` within the scope.
    public func count<R: TenantRecord>(_ type: R.Type, filters: [(column: String, value: String)] = []) async throws -> Int {
        let query = db.select().column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n").from(R.table)
        for filter in filters {
            query.where(SQLColumn(filter.column), .equal, SQLBind(filter.value))
        }
        guard let row = try await scoped(query, R.self).first() else { return 0 }
        return try row.decode(column: "n", as: Int.self)
    }

    private func checkInScope<R: TenantRecord>(_ record: R) throws {
        guard record.companyId == scope.companyId, scope.includes(communityId: record.communityId) else {
            throw StorageError.outOfScope
        }
    }

    /// Inserts a new row; refuses one that names another company or a community outside the scope.
    public func insert<R: TenantRecord>(_ record: R) async throws {
        try checkInScope(record)
        try await db.insert(into: R.table).columns(R.columns).values(record.storageValues).run()
    }

    /// Replaces the stored row with the same id; ``StorageError/notFound(table:id:)`` when it is not in the scope.
    public func update<R: TenantRecord>(_ record: R) async throws {
        try checkInScope(record)
        guard try await find(R.self, id: record.id) != nil else { throw StorageError.notFound(table: R.table, id: record.id) }
        let query = db.update(R.table)
        for (column, value) in zip(R.columns, record.storageValues) where column != "id" && column != "company_id" {
            query.set(SQLColumn(column), to: value)
        }
        query.where(SQLColumn("id"), .equal, SQLBind(record.id))
        try await scoped(query, R.self).run()
    }

    /// Deletes the row with `id`; ``StorageError/notFound(table:id:)`` when it is not in the scope.
    public func delete<R: TenantRecord>(_ type: R.Type, id: String) async throws {
        guard try await find(R.self, id: id) != nil else { throw StorageError.notFound(table: R.table, id: id) }
        let query = db.delete(from: R.table).where(SQLColumn("id"), .equal, SQLBind(id))
        try await scoped(query, R.self).run()
    }

    /// Every row whose `column` is one of `values` (and that matches `filters`), within the scope; for batch loads.
    public func all<R: TenantRecord>(
        _ type: R.Type, where column: String, in values: [String], filters: [(column: String, value: String)] = [],
        alsoIn other: (column: String, values: [String])? = nil, literal: [any SQLExpression] = []
    ) async throws -> [R] {
        guard !values.isEmpty, other.map({ !$0.values.isEmpty }) ?? true else { return [] }
        var records: [R] = []
        for start in stride(from: 0, to: values.count, by: 1_000) {
            let query = db.select().columns(R.columns.map { SQLColumn($0) }).from(R.table)
                .where(SQLColumn(column), .in, SQLBind.group(Array(values[start..<min(values.count, start + 1_000)])))
            for filter in filters {
                query.where(SQLColumn(filter.column), .equal, SQLBind(filter.value))
            }
            if let other {
                query.where(SQLColumn(other.column), .in, SQLBind.group(other.values))
            }
            // Conditions written into the SQL text, so that partial indexes (`WHERE kind = 'charge'`) can serve the query.
            for condition in literal {
                query.where(condition)
            }
            for row in try await scoped(query, R.self, byPrimaryKey: column == "id").all() {
                records.append(try R(row: RowReader(row, table: R.table)))
            }
        }
        return records
    }

    /// Inserts many rows with multi-row statements (each checked against the scope first); for bill runs and imports.
    public func insertAll<R: TenantRecord>(_ records: [R], into table: String = R.table) async throws {
        guard !records.isEmpty else { return }
        for record in records { try checkInScope(record) }
        let perStatement = max(1, 30_000 / R.columns.count)
        for start in stride(from: 0, to: records.count, by: perStatement) {
            let query = db.insert(into: table).columns(R.columns)
            for record in records[start..<min(records.count, start + perStatement)] {
                query.values(record.storageValues)
            }
            try await query.run()
        }
    }

    /// Selected columns of the rows whose `column` is one of `values`, within the scope; for batch loads that need a few fields.
    public func columns<R: TenantRecord>(
        _ names: [String], of type: R.Type, where column: String, in values: [String],
        alsoIn other: (column: String, values: [String])? = nil, literal: [any SQLExpression] = []
    ) async throws -> [any SQLRow] {
        guard !values.isEmpty, other.map({ !$0.values.isEmpty }) ?? true else { return [] }
        var rows: [any SQLRow] = []
        for start in stride(from: 0, to: values.count, by: 1_000) {
            let query = db.select().columns(names.map { SQLColumn($0) }).from(R.table)
                .where(SQLColumn(column), .in, SQLBind.group(Array(values[start..<min(values.count, start + 1_000)])))
            if let other {
                query.where(SQLColumn(other.column), .in, SQLBind.group(other.values))
            }
            for condition in literal {
                query.where(condition)
            }
            rows.append(contentsOf: try await scoped(query, R.self).all())
        }
        return rows
    }
}
