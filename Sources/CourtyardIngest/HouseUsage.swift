import CourtyardDevices
import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// Usage of a house for one utility: the buckets of every meter bound to it, each meter counted only over the days
/// of its binding (a meter swapped mid-month contributes its days, the new meter the rest).
public struct HouseUsage: Codable, Sendable {
    public var houseId: String
    public var kind: String
    public var granularity: String
    public var timeZone: String
    public var total: String
    /// The meters that counted, with the days each was bound.
    public var meters: [String]
    public var buckets: [UsageSeries.Bucket]

    public init(houseId: String, kind: String, granularity: String, timeZone: String, total: String, meters: [String], buckets: [UsageSeries.Bucket])
    {
        self.houseId = houseId
        self.kind = kind
        self.granularity = granularity
        self.timeZone = timeZone
        self.total = total
        self.meters = meters
        self.buckets = buckets
    }
}

extension HouseUsage {
    /// Sums the buckets of every meter of `kind` bound to the house, each only over the days of its binding.
    public static func query(
        _ db: any SQLDatabase, scope: TenantScope, houseId: String, kind: UsageKind, from: Int64, to: Int64,
        granularity: UsageSeries.Granularity
    ) async throws -> HouseUsage {
        let store = ScopedStore(db, scope: scope)
        let house = try await store.get(House.self, id: houseId)
        let community = try await store.get(Community.self, id: house.communityId)
        let zone = TimeZone(identifier: community.timeZone) ?? TimeZone(identifier: "Asia/Shanghai")!
        let bindings = try await store.listAll(DeviceBinding.self, filters: [("target_kind", "house"), ("target_id", houseId)])
        var sums: [String: (bucket: UsageSeries.Bucket, milli: Int64)] = [:]
        var order: [String] = []
        var meters: [String] = []
        for binding in bindings.sorted(by: { $0.validFrom < $1.validFrom }) {
            let device = try await store.get(Device.self, id: binding.deviceId)
            guard UsageDerivation.usageKind(for: device.kind) == kind, let register = UsageDerivation.register(for: device.kind) else { continue }
            meters.append("\(device.deviceKey) from \(binding.validFrom)\(binding.validUntil.map { " until \($0)" } ?? "")")
            let known = KnownDevice(
                id: device.id, companyId: scope.companyId, communityId: device.communityId, deviceKey: device.deviceKey,
                kind: device.kind, status: device.status, registerModulus: device.registerModulus?.milliUnits, timeZone: zone)
            for name in [register, ReadingSubmission.intervalRegister] {
                for bucket in try await UsageSeries.query(
                    db, companyId: scope.companyId, device: known, register: name, from: from, to: to,
                    granularity: granularity)
                {
                    let day = LocalDate(String(bucket.start.prefix(10)))!
                    if sums[bucket.start] == nil { order.append(bucket.start) }
                    var sum =
                        sums[bucket.start] ?? (
                            UsageSeries.Bucket(
                                start: bucket.start, startsAt: bucket.startsAt, usage: "0.000",
                                estimated: false, milli: 0), 0
                        )
                    if binding.period.contains(day) {
                        sum.milli += bucket.milli
                        sum.bucket.estimated = sum.bucket.estimated || bucket.estimated
                    }
                    sums[bucket.start] = sum
                }
            }
        }
        var total: Int64 = 0
        let buckets = order.sorted().map { start -> UsageSeries.Bucket in
            var entry = sums[start]!
            entry.bucket.usage = FixedPoint.format(entry.milli, scale: 3)
            total += entry.milli
            return entry.bucket
        }
        return HouseUsage(
            houseId: houseId, kind: kind.rawValue, granularity: granularity.rawValue, timeZone: zone.identifier,
            total: FixedPoint.format(total, scale: 3), meters: meters, buckets: buckets)
    }
}
