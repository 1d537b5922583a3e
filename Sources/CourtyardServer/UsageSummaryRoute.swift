import CourtyardDomain
import CourtyardIngest
import CourtyardStorage
import Foundation
import Hummingbird

/// A house's usage this month against last month, and where the month is heading: what an owner's dashboard shows.
///
/// Figures are exact milli-units: this month so far, last month over the same days and hours (so the comparison is
/// like for like), last month in full, the change in percent (one decimal, rounded half away from zero), and a
/// month-end estimate that extends this month's pace to the whole month (floor). Owners see only months of their own
/// occupancy: a comparison with a month before they moved in is left out.
enum UsageSummaryRoute {
    struct Summary: Codable, Sendable {
        var houseId: String
        var kind: String
        var unit: String
        var timeZone: String
        var month: String
        var monthToDate: String
        var lastMonthSameDays: String?
        var lastMonth: String?
        /// (this month so far − last month over the same days) ÷ the latter, in percent; absent without a comparison.
        var changePercent: String?
        var monthEndEstimate: String
        var asOf: Date
    }

    static func register(on api: DocumentedRouter, services: ServerServices) {
        api.schema(
            "UsageSummary",
            example: Summary(
                houseId: Example.house, kind: "electricity", unit: "kWh", timeZone: "Asia/Shanghai",
                month: "2026-11", monthToDate: "150.000", lastMonthSameDays: "120.000",
                lastMonth: "250.000", changePercent: "25.0", monthEndEstimate: "205.000",
                asOf: Example.date))
        api.on(
            .get, "/api/v1/houses/:id/usage/summary",
            summary: "This month's usage so far against last month over the same days, and a month-end estimate (owner dashboards)",
            tag: "Readings", permission: .readDevices, response: "UsageSummary", query: ["kind"]
        ) { request, context in
            let houseId = try context.parameters.require("id")
            guard let kindText = request.uri.queryParameters["kind"], let kind = UsageKind(rawValue: String(kindText)) else {
                throw Problem.invalid("kind", code: "invalid_value", "kind is electricity, water, gas or heat")
            }
            let principal = try context.requirePrincipal()
            var since = Int64.min
            let scope: TenantScope
            if principal.role == .owner {
                guard let hold = try await OwnerAccess.hold(principal, house: houseId, services: services) else { throw Problem.notFound("house") }
                (scope, since) = (hold.scope, hold.sinceMilliseconds)
            } else {
                scope = try await OwnerAccess.houseScope(context, house: houseId, staff: .readDevices, services: services)
            }
            let now = services.clock.now()
            let summary = try await services.database.read { [since, scope] db -> Summary in
                let store = ScopedStore(db, scope: scope)
                let house = try await store.get(House.self, id: houseId)
                let community = try await store.get(Community.self, id: house.communityId)
                let zone = community.timeZone
                let today = LocalDate.of(now, timeZone: zone)
                guard let month = BillingPeriod(cycle: .monthly, year: today.year, index: today.month) else {
                    throw Problem(.unprocessableContent, code: "clock_out_of_range", title: "Today is outside the calendar Courtyard bills")
                }
                let previous = month.previousMonth
                func midnight(_ date: LocalDate) -> Int64 { OwnerAccess.Hold(scope: scope, since: date, timeZone: zone).sinceMilliseconds }
                let monthStart = midnight(month.start)
                let nowMillis = now.epochMilliseconds
                let elapsed = nowMillis - monthStart
                let previousStart = midnight(previous.start)
                func total(_ from: Int64, _ to: Int64) async throws -> Int64? {
                    guard to > from, from >= since else { return nil }
                    let usage = try await HouseUsage.query(
                        db, scope: scope, houseId: houseId, kind: kind, from: from, to: to,
                        granularity: .hour)
                    return try FixedPoint.parse(usage.total, scale: 3)
                }
                let toDate = try await total(max(monthStart, since), nowMillis) ?? 0
                let lastFull = try await total(previousStart, monthStart)
                let lastSame = try await total(previousStart, min(monthStart, previousStart + elapsed))
                var change: String? = nil
                if let lastSame, lastSame > 0 {
                    // Percent with one decimal: (a − b) × 1000 ÷ b tenths of a percent, rounded half away from zero.
                    let tenths = RoundingMode.halfUp.divide(Int128(toDate - lastSame) * 1000, by: Int128(lastSame))
                    change = FixedPoint.format(Int64(clamping: tenths), scale: 1)
                }
                let monthLength = midnight(month.end) - monthStart
                let estimate = elapsed > 0 ? Int64(clamping: Int128(toDate) * Int128(monthLength) / Int128(elapsed)) : toDate
                return Summary(
                    houseId: houseId, kind: kind.rawValue, unit: kind.unit, timeZone: zone, month: month.description,
                    monthToDate: FixedPoint.format(toDate, scale: 3), lastMonthSameDays: lastSame.map { FixedPoint.format($0, scale: 3) },
                    lastMonth: lastFull.map { FixedPoint.format($0, scale: 3) }, changePercent: change,
                    monthEndEstimate: FixedPoint.format(estimate, scale: 3), asOf: now)
            }
            return try .json(summary)
        }
    }
}

extension UsageKind {
    /// The unit usage of this kind is measured in.
    var unit: String {
        switch self {
        case .electricity: "kWh"
        case .water, .gas: "m³"
        case .heat: "kWh"
        }
    }
}
