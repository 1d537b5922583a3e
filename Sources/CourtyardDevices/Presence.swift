import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// Online/offline state per device: last seen on every uplink, offline after a per-kind silence, an alert each way.
public struct PresenceStore: Sendable {
    let db: any SQLDatabase
    let companyId: String
    var ids: IdentifierSequence

    public init(_ db: any SQLDatabase, companyId: String, now: Date) {
        self.db = db
        self.companyId = companyId
        self.ids = IdentifierSequence(at: now)
    }

    /// How long a device of `kind` may stay silent before it counts as offline: a day for meters (many report daily),
    /// ten minutes for cameras, barriers and access controllers, an hour for the rest.
    public static func timeoutMilliseconds(_ kind: Device.Kind) -> Int64 {
        switch kind {
        case .waterMeter, .electricityMeter, .gasMeter, .heatMeter: 24 * 3_600_000
        case .plateCamera, .barrier, .accessController: 10 * 60_000
        case .groundSensor, .chargingPile, .facilityReader: 3_600_000
        }
    }

    /// How far a stored `last_seen_at` may lag a device's newest uplink: the SQLite writer's fast path rewrites a device's
    /// presence row only when its last-seen time has moved on by this much (a device reporting every few seconds
    /// would otherwise rewrite its row in every commit). The sweep allows for it, so a device is never declared
    /// offline early.
    public static let lastSeenPrecisionMilliseconds: Int64 = 60_000

    /// Records that `device` was heard from at `seenAt` (its arrival time); a device that was offline comes back online.
    public mutating func touch(_ device: KnownDevice, seenAt: Int64) async throws {
        let tenant = TenantSQL(db, scope: TenantScope(companyId: companyId))
        if let row = try await tenant.select("online, last_seen_at", from: "device_presence", where: "device_id = \(bind: device.id)").first() {
            let reader = RowReader(row, table: "device_presence")
            let online = try reader.int64("online") == 1
            let lastSeen = try reader.int64("last_seen_at")
            guard seenAt > lastSeen || !online else { return }
            if online {
                try await tenant.update("device_presence", set: "last_seen_at = \(bind: seenAt)", where: "device_id = \(bind: device.id)").run()
            } else {
                try await tenant.update(
                    "device_presence",
                    set: """
                        last_seen_at = \(bind: max(seenAt, lastSeen)), online = 1, changed_at = \(bind: seenAt)
                        """, where: "device_id = \(bind: device.id)"
                ).run()
                try await alert(device.id, communityId: device.communityId, kind: "online", at: seenAt, lastSeen: seenAt)
            }
        } else {
            try await tenant.insert(
                into: "device_presence", columns: ["device_id", "community_id", "last_seen_at", "online", "changed_at"],
                values: [device.id, device.communityId, seenAt, Int64(1), seenAt]
            ).run()
        }
    }

    mutating func alert(_ deviceId: String, communityId: String, kind: String, at: Int64, lastSeen: Int64) async throws {
        try await TenantSQL(db, scope: TenantScope(companyId: companyId))
            .insert(
                into: "device_alerts", columns: ["id", "community_id", "device_id", "kind", "at", "last_seen_at"],
                values: [ids.next(), communityId, deviceId, kind, at, lastSeen]
            ).run()
    }
}

extension PresenceStore {
    /// The fast path's presence (the ingestion writer's raw batches): a device's stored state, and last-seen upserts that
    /// only move forward. A device coming back from offline is not recorded here: it needs its alert, which
    /// ``touch(_:seenAt:)`` on the careful path writes.
    static let storedOnline = TenantQuery.select("online", from: "device_presence", where: "device_id = ?2")
    static let seenUpsert = TenantQuery.insert(
        into: "device_presence", columns: ["device_id", "community_id", "last_seen_at", "online", "changed_at"],
        values: "?2, ?3, ?4, 1, ?4",
        onConflict: .updateOnKey(["device_id"], set: "last_seen_at = MAX(device_presence.last_seen_at, excluded.last_seen_at)"))

    /// Whether `device` has a stored presence that says offline.
    public static func isStoredOffline(_ sql: TenantFastSQL, device: String) throws -> Bool {
        let query = try sql.prepare(storedOnline)
        query.bind(2, device)
        defer { query.reset() }
        return try query.step() && query.int64(0) == 0
    }

    /// Records that `device`, online, was heard from at `at` (a later time than stored wins; a new row is online).
    public static func recordSeen(_ sql: TenantFastSQL, device: KnownDevice, at: Int64) throws {
        let upsert = try sql.prepare(seenUpsert)
        upsert.bind(2, device.id)
        upsert.bind(3, device.communityId)
        upsert.bind(4, at)
        try upsert.run()
        upsert.reset()
    }
}

/// Marks silent devices offline, with an alert each, for every company. The server runs it every minute.
///
/// A device is offline once it has been silent for its kind's timeout plus ``PresenceStore/lastSeenPrecisionMilliseconds``.
public enum PresenceSweep {
    /// Devices that went offline in this sweep.
    public static func run(_ database: Database, now: Date) async throws -> Int {
        let nowMillis = now.epochMilliseconds
        return try await database.transaction { db in
            var count = 0
            let shortest = Device.Kind.allCases.map(PresenceStore.timeoutMilliseconds).min() ?? 600_000
            let rows = try await TenantSQL.sweep(
                db, "p.device_id, p.community_id, p.last_seen_at, d.kind", from: "device_presence", as: "p",
                joining: [.inner("devices", as: "d", on: "d.id = p.device_id")],
                where: "p.online = 1 AND p.last_seen_at < \(bind: nowMillis - shortest - PresenceStore.lastSeenPrecisionMilliseconds)")
            var stores: [String: PresenceStore] = [:]
            for owned in rows {
                let reader = RowReader(owned.row, table: "device_presence")
                let kind = try reader.value("kind", as: Device.Kind.self)
                let lastSeen = try reader.int64("last_seen_at")
                guard lastSeen + PresenceStore.timeoutMilliseconds(kind) + PresenceStore.lastSeenPrecisionMilliseconds <= nowMillis else { continue }
                let companyId = owned.companyId
                let deviceId = try reader.string("device_id")
                var store = stores[companyId] ?? PresenceStore(db, companyId: companyId, now: now)
                try await TenantSQL(db, scope: TenantScope(companyId: companyId))
                    .update("device_presence", set: "online = 0, changed_at = \(bind: nowMillis)", where: "device_id = \(bind: deviceId)").run()
                try await store.alert(deviceId, communityId: try reader.string("community_id"), kind: "offline", at: nowMillis, lastSeen: lastSeen)
                stores[companyId] = store
                count += 1
            }
            if count > 0 { try await IngestGeneration.bump(db) }
            return count
        }
    }
}

/// Presence's figure on the staff console's dashboard.
public struct PresenceFigures: TenantStore {
    public let tenant: TenantSQL

    public init(_ tenant: TenantSQL) {
        self.tenant = tenant
    }

    /// Devices the presence sweep has marked offline.
    public func offline() async throws -> Int64 {
        try await tenant.select(
            "COUNT(*) AS n", from: "device_presence", where: "online = 0 AND \(tenant.inScopeCommunities())"
        ).first()?.decode(column: "n", as: Int64.self) ?? 0
    }
}
