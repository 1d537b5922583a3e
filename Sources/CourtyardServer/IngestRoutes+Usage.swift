import CourtyardDevices
import CourtyardDomain
import CourtyardIngest
import CourtyardStorage
import Foundation
import Hummingbird

extension IngestRoutes {
    /// Usage per device and per house in the community's time zone, and the month's usage derivation.
    static func registerUsage(on api: DocumentedRouter, services: ServerServices) {
        let exampleBucket = UsageSeries.Bucket(start: "2026-10-01", startsAt: Example.date, usage: "12.500", estimated: false, milli: 12_500)
        api.schema(
            "UsageReport",
            example: UsageReport(
                deviceId: Example.device, register: "energy_total", granularity: "day",
                timeZone: "Asia/Shanghai", total: "0.000", buckets: [exampleBucket]))

        api.on(
            .get, "/api/v1/devices/:id/usage", summary: "Usage per hour or day in the community's time zone (spread over gaps and flagged estimated)",
            tag: "Readings", permission: .readDevices, response: "UsageReport",
            query: ["register", "from", "to", "granularity"]
        ) { request, context in
            let scope = try context.scope(for: .readDevices)
            let id = try context.parameters.require("id")
            let query = request.uri.queryParameters
            guard let from = try instant(query["from"], "from"), let to = try instant(query["to"], "to") else {
                throw Problem.invalid("from", code: "required", "from and to (RFC 3339) are required")
            }
            guard to > from, to - from <= 400 * 86_400_000 else {
                throw Problem.invalid("to", code: "out_of_range", "to must be after from, at most 400 days later")
            }
            let granularity = UsageSeries.Granularity(rawValue: query["granularity"].map(String.init) ?? "day")
            guard let granularity else { throw Problem.invalid("granularity", code: "invalid_value", "granularity is hour or day") }
            guard granularity == .day || to - from <= 62 * 86_400_000 else {
                throw Problem.invalid("to", code: "out_of_range", "hourly usage covers at most 62 days")
            }
            let register = query["register"].map(String.init) ?? "energy_total"
            let report = try await services.database.read { db in
                let device = try await DeviceDirectory.device(id, scope: scope, db: db)
                let buckets = try await UsageSeries.query(
                    db, companyId: scope.companyId, device: device, register: register,
                    from: from, to: to, granularity: granularity)
                let total = buckets.reduce(Int64(0)) { sum, bucket in
                    let (next, overflow) = sum.addingReportingOverflow((try? FixedPoint.parse(bucket.usage, scale: 3)) ?? 0)
                    return overflow ? Int64.max : next
                }
                return UsageReport(
                    deviceId: id, register: register, granularity: granularity.rawValue, timeZone: device.timeZone.identifier,
                    total: FixedPoint.format(total, scale: 3), buckets: buckets)
            }
            return try .json(report)
        }

        api.schema("UsageDerivationInput", example: ["period": "2026-10"], required: ["period"])
        api.schema(
            "UsageDerivation",
            example: UsageDerivation.Summary(
                period: "2026-10", created: 240, unchanged: 0, differing: [],
                metersWithoutReadings: ["water_meter_102"]),
            items: ["differing": .object(description: "subject_kind, subject_id, usage_kind, stored and derived quantities")])
        api.on(
            .post, "/api/v1/communities/:id/usage/derive",
            summary:
                "Monthly usage records for bill runs from the accepted readings of bound meters (source ingestion); differing stored figures are reported, not overwritten",
            tag: "Readings", permission: .recordUsage, request: "UsageDerivationInput", response: "UsageDerivation"
        ) { request, context in
            let scope = try context.scope(for: .recordUsage)
            let communityId = try context.parameters.require("id")
            let input = try await ResourceRoutes.decodeBody([String: String].self, request, context)
            guard let text = input["period"], let period = BillingPeriod(text), period.cycle == .monthly else {
                throw Problem.invalid("period", code: "invalid_period", "period must be a month, e.g. 2026-10")
            }
            let now = services.clock.now()
            let summary = try await services.database.transaction { db in
                try await UsageDerivation.run(db, scope: scope, communityId: communityId, period: period, now: now)
            }
            return try .json(summary)
        }

        api.schema(
            "HouseUsage",
            example: HouseUsage(
                houseId: Example.house, kind: "electricity", granularity: "day", timeZone: "Asia/Shanghai",
                total: "12.500", meters: ["electricity_meter_101"],
                buckets: [
                    UsageSeries.Bucket(
                        start: "2026-10-01", startsAt: Example.date, usage: "12.500",
                        estimated: false, milli: 12_500)
                ]))
        api.on(
            .get, "/api/v1/houses/:id/usage",
            summary: "A house's usage per hour or day for one utility, over the meters bound to it on each day (owner dashboards, billing checks)",
            tag: "Readings", permission: .readDevices, response: "HouseUsage", query: ["kind", "from", "to", "granularity"]
        ) { request, context in
            let houseId = try context.parameters.require("id")
            let query = request.uri.queryParameters
            guard let kindText = query["kind"], let kind = UsageKind(rawValue: String(kindText)) else {
                throw Problem.invalid("kind", code: "invalid_value", "kind is electricity, water, gas or heat")
            }
            guard let requestedFrom = try instant(query["from"], "from"), let to = try instant(query["to"], "to"), to > requestedFrom,
                to - requestedFrom <= 62 * 86_400_000
            else {
                throw Problem.invalid("from", code: "out_of_range", "from and to (RFC 3339) are required, to after from, at most 62 days apart")
            }
            guard let granularity = UsageSeries.Granularity(rawValue: query["granularity"].map(String.init) ?? "day") else {
                throw Problem.invalid(
                    "granularity", code: "invalid_value",
                    "granularity is hour or day; for months ask GET /api/v1/houses/{id}/usage/summary")
            }
            // Owners may read their own houses; staff need read_devices.
            let scope: TenantScope
            var from = requestedFrom
            if let principal = context.principal, principal.role == .owner {
                // Only while the occupancy holds, and only since it began: not a past occupant, not the previous owner's usage.
                guard let hold = try await OwnerAccess.hold(principal, house: houseId, services: services) else {
                    throw StorageError.notFound(table: "houses", id: houseId)
                }
                scope = hold.scope
                from = max(from, hold.sinceMilliseconds)
                guard from < to else { throw Problem.invalid("from", code: "out_of_range", "your occupancy of this house begins after `to`") }
            } else {
                scope = try context.scope(for: .readDevices)
            }
            let report = try await services.database.read { [from] db in
                try await HouseUsage.query(db, scope: scope, houseId: houseId, kind: kind, from: from, to: to, granularity: granularity)
            }
            return try .json(report)
        }

    }
}
