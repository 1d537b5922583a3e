import CourtyardDomain
import CourtyardStorage
import SQLKit

/// Prepaid supply on the staff console's dashboard: meters cut off, and meters whose balance has run out and whose
/// cut-off waits for its notice period (the houses to call first).
public struct SupplyFigures: TenantStore {
    public let tenant: TenantSQL

    public init(_ tenant: TenantSQL) {
        self.tenant = tenant
    }

    public func counts() async throws -> (cutOff: Int64, cutOffPending: Int64) {
        let row = try await tenant.select(
            """
            CAST(COALESCE(SUM(CASE WHEN desired = 'closed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS cut_off,
            CAST(COALESCE(SUM(CASE WHEN desired = 'open' AND cutoff_due_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS pending
            """,
            from: "supply_states", where: "\(tenant.inScopeCommunities())"
        ).first()
        return (try row?.decode(column: "cut_off", as: Int64.self) ?? 0, try row?.decode(column: "pending", as: Int64.self) ?? 0)
    }
}
