import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// The figures the staff console's dashboard shows of payments: what came in by channel, and callbacks held for staff.
public struct PaymentFigures: TenantStore {
    public let tenant: TenantSQL

    public init(_ tenant: TenantSQL) {
        self.tenant = tenant
    }

    public struct ChannelTotal: Sendable, Equatable {
        public var channel: String
        public var count: Int64
        public var amount: Int64
    }

    /// Settled payments paid in `[from, until)`, per channel, largest amount first.
    public func byChannel(from: Date, until: Date) async throws -> [ChannelTotal] {
        try await tenant.select(
            "channel, COUNT(*) AS n, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS amount", from: "payments",
            where: "paid_at >= \(bind: from.epochMilliseconds) AND paid_at < \(bind: until.epochMilliseconds) AND status = 'settled' AND \(tenant.inScopeCommunities())",
            then: "GROUP BY channel ORDER BY amount DESC, channel"
        ).all().map { row in
            ChannelTotal(
                channel: try row.decode(column: "channel", as: String.self), count: try row.decode(column: "n", as: Int64.self),
                amount: try row.decode(column: "amount", as: Int64.self))
        }
    }

    /// Verified callbacks held for staff and not yet resolved (the company's; callbacks carry no community).
    public func heldCallbacks() async throws -> Int64 {
        try await tenant.select(
            "COUNT(*) AS n", from: "payment_callbacks", where: "outcome <> 'applied' AND resolved_at IS NULL"
        ).first()?.decode(column: "n", as: Int64.self) ?? 0
    }
}
