import CourtyardDomain
import CourtyardStorage
import SQLKit

/// The figures the staff console's dashboard shows of bills: how much of what was billed has been collected, and what
/// is overdue. Sums are exact fen over the scope's communities.
public struct BillingFigures: TenantStore {
    public let tenant: TenantSQL

    public init(_ tenant: TenantSQL) {
        self.tenant = tenant
    }

    /// Principal billed and collected on bills issued from `from` up to (not including) `until`; cancelled bills left out.
    public func collection(issuedFrom from: LocalDate, until: LocalDate) async throws -> (billed: Int64, collected: Int64) {
        let row = try await tenant.select(
            "CAST(COALESCE(SUM(total_amount), 0) AS BIGINT) AS billed, CAST(COALESCE(SUM(paid_amount), 0) AS BIGINT) AS collected", from: "bills",
            where: "issue_date >= \(bind: from.description) AND issue_date < \(bind: until.description) AND status <> 'cancelled' AND \(tenant.inScopeCommunities())"
        ).first()
        return (try row?.decode(column: "billed", as: Int64.self) ?? 0, try row?.decode(column: "collected", as: Int64.self) ?? 0)
    }

    /// Unpaid principal of bills past their due date on `day`, and how many houses owe it.
    public func overdue(on day: LocalDate) async throws -> (amount: Int64, houses: Int64) {
        let row = try await tenant.select(
            "CAST(COALESCE(SUM(total_amount - paid_amount), 0) AS BIGINT) AS amount, COUNT(DISTINCT house_id) AS houses", from: "bills",
            where: "status IN ('open', 'partially_paid') AND due_date < \(bind: day.description) AND \(tenant.inScopeCommunities())"
        ).first()
        return (try row?.decode(column: "amount", as: Int64.self) ?? 0, try row?.decode(column: "houses", as: Int64.self) ?? 0)
    }
}
