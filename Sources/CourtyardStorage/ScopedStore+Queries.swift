import SQLKit

/// Reads of tables without a record type (prepaid plans and charges, refunds), with the tenant predicate added here,
/// in the storage layer, as for every scoped read: module code states only its own conditions.
extension ScopedStore {
    /// `columns` of the rows of `table` that match `conditions`, within the scope (its company, and its communities when
    /// it has some; `table` has a `community_id` column).
    public func select(_ columns: [String], from table: String, where conditions: [any SQLExpression] = []) async throws -> [RowReader] {
        let query = db.select().columns(columns.map { SQLColumn($0) }).from(table)
        return try await scopedRaw(query, table: table, conditions: conditions).all().map { RowReader($0, table: table) }
    }

    /// The sum of `column` as `total` (a BIGINT, 0 when nothing matches) per group of `groupedBy`, within the scope.
    public func sum(
        _ column: String, from table: String, groupedBy: [String] = [],
        where conditions: [any SQLExpression] = []
    ) async throws -> [RowReader] {
        let query = db.select().columns(groupedBy.map { SQLColumn($0) })
            .column(SQLRaw("CAST(COALESCE(SUM(\(column)), 0) AS BIGINT)"), as: "total").from(table)
        for name in groupedBy { query.groupBy(SQLColumn(name)) }
        return try await scopedRaw(query, table: table, conditions: conditions).all().map { RowReader($0, table: table) }
    }

    private func scopedRaw(_ query: SQLSelectBuilder, table: String, conditions: [any SQLExpression]) -> SQLSelectBuilder {
        query.where(SQLColumn("company_id"), .equal, SQLBind(scope.companyId))
        if let communities = scope.communityIds {
            query.where(SQLColumn("community_id"), .in, SQLBind.group(communities.sorted()))
        }
        for condition in conditions { query.where(condition) }
        return query
    }
}
