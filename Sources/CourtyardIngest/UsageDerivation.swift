import CourtyardDevices
import CourtyardDomain
import CourtyardMeterProtocols
import CourtyardStorage
import Foundation
import SQLKit

/// Turns a month of accepted readings into the monthly usage records bill runs read (`usage_records`, source `ingestion`).
///
/// For every meter bound to a house (or to a common area, for 公摊) during the period, the usage of its main register
/// (`energy_total` for electricity, `volume_total` for water and gas, `heat_total` for heat) and of interval usage is
/// summed over the days the binding covers, in the community's time zone. Usage whose reading interval crosses the
/// period's edge is split by time (see ``UsageSeries``) and the record is marked estimated. A record that exists
/// with the same figure is left alone; one with another figure is reported, not overwritten: changing billed usage
/// is a correction, which adjusts bills with a trace.
public enum UsageDerivation {
    public struct Difference: Codable, Hashable, Sendable {
        public var subjectKind: String
        public var subjectId: String
        public var usageKind: String
        public var stored: String
        public var derived: String
    }

    public struct Summary: Codable, Hashable, Sendable {
        public var period: String
        public var created: Int
        public var unchanged: Int
        /// Records whose stored figure differs from the readings: use a usage correction.
        public var differing: [Difference]
        /// Bound meters without a single reading in the period (nothing recorded for them).
        public var metersWithoutReadings: [String]

        public init(period: String, created: Int, unchanged: Int, differing: [Difference], metersWithoutReadings: [String]) {
            self.period = period
            self.created = created
            self.unchanged = unchanged
            self.differing = differing
            self.metersWithoutReadings = metersWithoutReadings
        }
    }

    public static func register(for kind: Device.Kind) -> String? {
        switch kind {
        case .electricityMeter: "energy_total"
        case .waterMeter, .gasMeter: "volume_total"
        case .heatMeter: "heat_total"
        default: nil
        }
    }

    public static func usageKind(for kind: Device.Kind) -> UsageKind? {
        switch kind {
        case .electricityMeter: .electricity
        case .waterMeter: .water
        case .gasMeter: .gas
        case .heatMeter: .heat
        default: nil
        }
    }

    public static func run(_ db: any SQLDatabase, scope: TenantScope, communityId: String, period: BillingPeriod, now: Date) async throws -> Summary {
        let store = ScopedStore(db, scope: scope)
        let community = try await store.get(Community.self, id: communityId)
        // Per meter, the queries below read `meter_readings` by index; recent readings move there first.
        try await RecentReadings.settleAll(db)
        let zone = TimeZone(identifier: community.timeZone) ?? TimeZone(secondsFromGMT: 8 * 3600) ?? .gmt
        func instant(_ date: LocalDate) -> Int64 {
            CivilTime.instant(startOf: date, in: zone)
        }
        let bindings = try await store.listAll(DeviceBinding.self, filters: [("community_id", communityId)])
            .filter { ($0.targetKind == .house || $0.targetKind == .commonArea) && $0.period.overlaps(period.span) }
        var totals: [String: (subjectKind: UsageRecord.SubjectKind, subjectId: String, kind: UsageKind, milli: Int64, estimated: Bool)] = [:]
        var silent: [String] = []
        for binding in bindings.sorted(by: { $0.id < $1.id }) {
            let device = try await store.get(Device.self, id: binding.deviceId)
            guard let register = register(for: device.kind), let kind = usageKind(for: device.kind) else { continue }
            let from = max(period.start, binding.validFrom)
            let until = min(period.end, binding.validUntil ?? period.end)
            guard from < until else { continue }
            let known = KnownDevice(
                id: device.id, companyId: scope.companyId, communityId: communityId, deviceKey: device.deviceKey, kind: device.kind,
                status: device.status, registerModulus: device.registerModulus?.milliUnits, timeZone: zone)
            var milli: Int64 = 0
            var estimated = false
            var heard = false
            for name in [register, ReadingSubmission.intervalRegister] {
                let days = try await UsageSeries.query(
                    db, companyId: scope.companyId, device: known, register: name, from: instant(from),
                    to: instant(until), granularity: .day)
                for day in days { milli += day.milli }
            }
            // Estimated when a reading interval crosses the edge of the covered days (a split by time), not merely a day.
            let (start, end) = (instant(from), instant(until))
            let tenant = TenantSQL(db, scope: TenantScope(companyId: scope.companyId))
            estimated =
                try await tenant.select(
                    "1 AS one", from: "meter_readings",
                    where: """
                        device_id = \(bind: device.id) AND usage_milli IS NOT NULL AND since IS NOT NULL
                        AND ((since < \(bind: start) AND measured_at > \(bind: start)) OR (since < \(bind: end) AND measured_at > \(bind: end)))
                        """, then: "LIMIT 1"
                ).first() != nil
            heard =
                try await tenant.select(
                    "1 AS one", from: "meter_readings",
                    where: "device_id = \(bind: device.id) AND measured_at >= \(bind: instant(from))", then: "LIMIT 1"
                )
                .first() != nil
            if !heard {
                silent.append(device.deviceKey)
                continue
            }
            let subjectKind: UsageRecord.SubjectKind = binding.targetKind == .house ? .house : .device
            let subjectId = binding.targetKind == .house ? binding.targetId : device.id
            let key = "\(subjectId)|\(kind.rawValue)"
            var total = totals[key] ?? (subjectKind, subjectId, kind, 0, false)
            total.milli += milli
            total.estimated = total.estimated || estimated
            totals[key] = total
        }
        var summary = Summary(period: period.description, created: 0, unchanged: 0, differing: [], metersWithoutReadings: silent.sorted())
        for total in totals.values.sorted(by: { ($0.subjectId, $0.kind.rawValue) < ($1.subjectId, $1.kind.rawValue) }) {
            let existing = try await store.listAll(
                UsageRecord.self,
                filters: [
                    ("subject_id", total.subjectId), ("usage_kind", total.kind.rawValue),
                    ("period", period.description),
                ]
            ).first
            if let existing {
                if existing.quantity.milliUnits == total.milli {
                    summary.unchanged += 1
                } else {
                    summary.differing.append(
                        Difference(
                            subjectKind: total.subjectKind.rawValue, subjectId: total.subjectId,
                            usageKind: total.kind.rawValue, stored: existing.quantity.decimalText,
                            derived: Quantity(milliUnits: total.milli).decimalText))
                }
                continue
            }
            try await store.insert(
                UsageRecord(
                    id: Identifier.uuidV7(at: now), companyId: scope.companyId, communityId: communityId,
                    subjectKind: total.subjectKind, subjectId: total.subjectId, usageKind: total.kind, period: period,
                    quantity: Quantity(milliUnits: total.milli), windows: nil, estimated: total.estimated,
                    source: .ingestion, createdAt: now, updatedAt: now))
            summary.created += 1
        }
        return summary
    }
}
