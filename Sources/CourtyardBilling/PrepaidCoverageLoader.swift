import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// Reads, for one community and billing period, which houses' meters ran on prepaid plans and what the plans charged,
/// so that the bill run leaves prepaid usage out (see ``PrepaidCoverage``).
///
/// A plan's span runs from the local day it was created to the local day after it ended (an ended plan's last update
/// is its end). Charges are summed per plan and time window over readings measured in the period, by the index on
/// `(plan_id, measured_at)`.
enum PrepaidCoverageLoader {
    static func load(
        _ db: any SQLDatabase, companyId: String, community: Community, period: BillingPeriod
    )
        async throws -> [String: [UsageKind: PrepaidCoverage]]
    {
        let store = ScopedStore(db, scope: TenantScope(companyId: companyId))
        let rows = try await store.select(
            ["id", "house_id", "utility", "status", "created_at", "updated_at"], from: "prepaid_plans",
            where: [SQLBinaryExpression(SQLColumn("community_id"), .equal, SQLBind(community.id))])
        guard !rows.isEmpty else { return [:] }
        let zone = community.timeZone
        var plans: [(id: String, house: String, kind: UsageKind, span: PrepaidCoverage.Span)] = []
        for r in rows {
            guard let kind = usageKind(try r.string("utility")) else { continue }
            let from = LocalDate.of(Date(epochMilliseconds: try r.int64("created_at")), timeZone: zone)
            let until =
                try r.string("status") == "ended"
                ? LocalDate.of(Date(epochMilliseconds: try r.int64("updated_at")), timeZone: zone).adding(days: 1) : nil
            let span = PrepaidCoverage.Span(planId: try r.string("id"), from: from, until: until)
            guard span.from < period.end, span.until.map({ $0 > period.start }) ?? true else { continue }
            plans.append((try r.string("id"), try r.string("house_id"), kind, span))
        }
        guard !plans.isEmpty else { return [:] }
        // Readings measured from the period's first local midnight to the next period's.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone) ?? TimeZone(secondsFromGMT: 8 * 3600) ?? .gmt
        func midnight(_ date: LocalDate) -> Int64 {
            (calendar.date(from: DateComponents(year: date.year, month: date.month, day: date.day)) ?? .distantPast).epochMilliseconds
        }
        let (start, end) = (midnight(period.start), midnight(period.end))
        var charged: [String: [String: Int64]] = [:]
        for part in stride(from: 0, to: plans.count, by: 500).map({ Array(plans[$0..<min($0 + 500, plans.count)]) }) {
            let ids = part.map(\.id)
            let sums = try await store.sum(
                "usage_milli", from: "prepaid_charges", groupedBy: ["plan_id", "time_window"],
                where: [
                    SQLBinaryExpression(SQLColumn("plan_id"), .in, SQLBind.group(ids)),
                    SQLBinaryExpression(SQLColumn("measured_at"), .greaterThanOrEqual, SQLBind(start)),
                    SQLBinaryExpression(SQLColumn("measured_at"), .lessThan, SQLBind(end)),
                ])
            for r in sums {
                charged[try r.string("plan_id"), default: [:]][try r.optionalString("time_window") ?? "", default: 0] += try r.int64("total")
            }
        }
        var coverage: [String: [UsageKind: PrepaidCoverage]] = [:]
        for plan in plans {
            var entry = coverage[plan.house, default: [:]][plan.kind, default: PrepaidCoverage(spans: [])]
            entry.spans.append(plan.span)
            for (window, milli) in charged[plan.id] ?? [:] {
                entry.charged[window] = Quantity(milliUnits: (entry.charged[window]?.milliUnits ?? 0) + milli)
            }
            coverage[plan.house, default: [:]][plan.kind] = entry
        }
        return coverage
    }

    /// The usage kind a plan's utility is billed under.
    static func usageKind(_ utility: String) -> UsageKind? {
        switch utility {
        case "electricity": .electricity
        case "water": .water
        case "gas": .gas
        case "heating": .heat
        default: nil
        }
    }
}
