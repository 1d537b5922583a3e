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

    public init(id: String, companyId: String, communityId: String, deviceKey: String, kind: Device.Kind, status: Device.Status,
                registerModulus: Int64?, timeZone: TimeZone) {
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
/// within ``ttlMilliseconds``, or at once when the change went through this server's device routes (they call
/// ``invalidate(companyId:)``).
public actor DeviceDirectory {
    private let database: Database
    private var cache: [String: [String: (device: KnownDevice?, fetchedAt: Int64)]] = [:]
    public let ttlMilliseconds: Int64

    public init(database: Database, ttlMilliseconds: Int64 = 60_000) {
        self.database = database
        self.ttlMilliseconds = ttlMilliseconds
    }

    /// The devices with these keys in `companyId`; keys without a device are absent from the result.
    public func devices(companyId: String, keys: Set<String>, now: Int64) async throws -> [String: KnownDevice] {
        var found: [String: KnownDevice] = [:]
        var missing: [String] = []
        let companyCache = cache[companyId] ?? [:]
        for key in keys {
            if let entry = companyCache[key], now - entry.fetchedAt < ttlMilliseconds, let device = entry.device {
                found[key] = device
            } else {
                missing.append(key)
            }
        }
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

    /// Forgets cached devices (after a registry change made here).
    public func invalidate(companyId: String) { cache[companyId] = nil }

    public static func load(_ db: any SQLDatabase, companyId: String, keys: [String]) async throws -> [String: KnownDevice] {
        var result: [String: KnownDevice] = [:]
        var zones: [String: TimeZone] = [:]
        for chunk in stride(from: 0, to: keys.count, by: 500).map({ Array(keys[$0..<min($0 + 500, keys.count)]) }) {
            let rows = try await db.select()
                .columns(SQLColumn("id", table: "d"), SQLColumn("community_id", table: "d"), SQLColumn("device_key", table: "d"),
                         SQLColumn("kind", table: "d"), SQLColumn("status", table: "d"), SQLColumn("register_modulus_milli", table: "d"),
                         SQLColumn("time_zone", table: "c"))
                .from(SQLAlias(SQLIdentifier("devices"), as: SQLIdentifier("d")))
                .join(SQLAlias(SQLIdentifier("communities"), as: SQLIdentifier("c")), method: SQLJoinMethod.inner,
                      on: SQLColumn("id", table: "c"), .equal, SQLColumn("community_id", table: "d"))
                .where(SQLColumn("company_id", table: "d"), .equal, SQLBind(companyId))
                .where(SQLColumn("device_key", table: "d"), .in, SQLBind.group(chunk))
                .all()
            for row in rows {
                let reader = RowReader(row, table: "devices")
                let zoneName = try reader.string("time_zone")
                let zone = zones[zoneName] ?? TimeZone(identifier: zoneName) ?? TimeZone(identifier: "Asia/Shanghai")!
                zones[zoneName] = zone
                let device = KnownDevice(id: try reader.string("id"), companyId: companyId, communityId: try reader.string("community_id"),
                                         deviceKey: try reader.string("device_key"), kind: try reader.value("kind", as: Device.Kind.self),
                                         status: try reader.value("status", as: Device.Status.self),
                                         registerModulus: try reader.optionalInt64("register_modulus_milli"), timeZone: zone)
                result[device.deviceKey] = device
            }
        }
        return result
    }
}
