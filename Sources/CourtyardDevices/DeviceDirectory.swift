import CourtyardStorage
import Foundation
import SQLKit

/// A device as ingestion needs it: who owns it, where its local time is, how its register wraps.
public struct KnownDevice: Hashable, Sendable {
    public let id: String
    /// The id with its hash, computed once here (on the request's thread) for the ingestion writer's sets.
    public let key: DeviceKey
    public var companyId: String
    public var communityId: String
    public var deviceKey: String
    public var kind: Device.Kind
    public var status: Device.Status
    public var registerModulus: Int64?
    public var timeZone: TimeZone

    public init(
        id: String, companyId: String, communityId: String, deviceKey: String, kind: Device.Kind, status: Device.Status,
        registerModulus: Int64?, timeZone: TimeZone
    ) {
        self.id = id
        self.key = DeviceKey(id)
        self.companyId = companyId
        self.communityId = communityId
        self.deviceKey = deviceKey
        self.kind = kind
        self.status = status
        self.registerModulus = registerModulus
        self.timeZone = timeZone
    }
}

/// A device id with its hash computed once, so that the ingestion writer, whose one thread bounds how many readings a
/// second SQLite takes, looks devices up in its sets without hashing their ids' text again.
public struct DeviceKey: Hashable, Sendable {
    public let id: String
    private let hashCode: Int

    public init(_ id: String) {
        self.id = id
        var hasher = Hasher()
        hasher.combine(id)
        hashCode = hasher.finalize()
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.hashCode == rhs.hashCode && lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(hashCode) }
}

/// Finds devices by the key they report with, always within one company (a device of another tenant is unknown).
///
/// Lookups are cached for a few seconds: a batch of 5,000 readings from 5,000 meters would otherwise cost 5,000 queries.
/// A new device is found at once (a miss always asks the database); a changed modulus or a retirement is seen
/// within ``ttlMilliseconds`` and one re-read, or at once when the change went through this server's device routes
/// (they call ``invalidate(companyId:)``).
///
/// An expired entry is still answered while the company's expired entries are re-read in the background, all of them
/// in one task (500 keys per query), one task per company at a time: when a whole fleet's entries expired together,
/// every request would wait for a query of its own (the single-reading p99 this cost is in docs/PERFORMANCE.md, Ingestion).
public actor DeviceDirectory {
    private let database: Database
    private var cache: [String: [String: (device: KnownDevice?, fetchedAt: Int64)]] = [:]
    /// Companies whose expired keys are being re-read in the background.
    private var refreshing: Set<String> = []
    /// Counts invalidations per company, so that a re-read begun before one is not stored after it.
    private var invalidations: [String: Int] = [:]
    public let ttlMilliseconds: Int64

    public init(database: Database, ttlMilliseconds: Int64 = 60_000) {
        self.database = database
        self.ttlMilliseconds = ttlMilliseconds
    }

    /// The devices with these keys in `companyId`; keys without a device are absent from the result.
    public func devices(companyId: String, keys: Set<String>, now: Int64) async throws -> [String: KnownDevice] {
        var found: [String: KnownDevice] = [:]
        var missing: [String] = []
        var expired = false
        let companyCache = cache[companyId] ?? [:]
        for key in keys {
            if let entry = companyCache[key], let device = entry.device {
                found[key] = device
                if now - entry.fetchedAt >= ttlMilliseconds { expired = true }
            } else {
                missing.append(key)
            }
        }
        if expired { refresh(companyId: companyId, now: now) }
        if missing.isEmpty { return found }
        let keys = missing
        let loaded = try await database.read { db in try await Self.load(db, companyId: companyId, keys: keys) }
        var updated = cache[companyId] ?? [:]
        for key in missing {
            updated[key] = (loaded[key], now)
            if let device = loaded[key] { found[key] = device }
        }
        cache[companyId] = updated
        return found
    }

    /// Re-reads expired keys in the background, skipping those already being re-read.
    /// Re-reads every expired key of the company in one background task (500 keys per query), unless one is running.
    private func refresh(companyId: String, now: Int64) {
        guard !refreshing.contains(companyId), let companyCache = cache[companyId] else { return }
        let keys = companyCache.compactMap { key, entry in entry.device != nil && now - entry.fetchedAt >= ttlMilliseconds ? key : nil }
        guard !keys.isEmpty else { return }
        refreshing.insert(companyId)
        let invalidation = invalidations[companyId, default: 0]
        Task {
            let loaded = try? await database.read { db in try await Self.load(db, companyId: companyId, keys: keys) }
            self.refreshed(companyId: companyId, keys: keys, loaded: loaded, at: now, invalidation: invalidation)
        }
    }

    private func refreshed(companyId: String, keys: [String], loaded: [String: KnownDevice]?, at now: Int64, invalidation: Int) {
        refreshing.remove(companyId)
        // A failed read leaves the entries expired (the next lookup tries again); one begun before an invalidation is dropped.
        guard let loaded, invalidation == invalidations[companyId, default: 0], cache[companyId] != nil else { return }
        for key in keys { cache[companyId]?[key] = (loaded[key], now) }
    }

    /// Forgets cached devices (after a registry change made here).
    public func invalidate(companyId: String) {
        cache[companyId] = nil
        invalidations[companyId, default: 0] += 1
    }

    public static func load(_ db: any SQLDatabase, companyId: String, keys: [String]) async throws -> [String: KnownDevice] {
        var result: [String: KnownDevice] = [:]
        var zones: [String: TimeZone] = [:]
        for chunk in stride(from: 0, to: keys.count, by: 500).map({ Array(keys[$0..<min($0 + 500, keys.count)]) }) {
            let rows = try await TenantSQL(db, scope: TenantScope(companyId: companyId)).select(
                "d.id, d.community_id, d.device_key, d.kind, d.status, d.register_modulus_milli, c.time_zone", from: "devices", as: "d",
                joining: [.inner("communities", as: "c", on: "c.id = d.community_id")],
                where: "d.device_key IN (\(binds: chunk.map { $0 as any Encodable & Sendable }))"
            ).all()
            for row in rows {
                let reader = RowReader(row, table: "devices")
                let zoneName = try reader.string("time_zone")
                let zone = zones[zoneName] ?? TimeZone(identifier: zoneName) ?? TimeZone(identifier: "Asia/Shanghai")!
                zones[zoneName] = zone
                let device = KnownDevice(
                    id: try reader.string("id"), companyId: companyId, communityId: try reader.string("community_id"),
                    deviceKey: try reader.string("device_key"), kind: try reader.value("kind", as: Device.Kind.self),
                    status: try reader.value("status", as: Device.Status.self),
                    registerModulus: try reader.optionalInt64("register_modulus_milli"), timeZone: zone)
                result[device.deviceKey] = device
            }
        }
        return result
    }
}
