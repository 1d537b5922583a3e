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
        if let row = try await db.raw("""
            SELECT online, last_seen_at FROM device_presence WHERE device_id = \(bind: device.id) AND company_id = \(bind: companyId)
            """).first() {
            let reader = RowReader(row, table: "device_presence")
            let online = try reader.int64("online") == 1
            let lastSeen = try reader.int64("last_seen_at")
            guard seenAt > lastSeen || !online else { return }
            if online {
                try await db.raw("""
                    UPDATE device_presence SET last_seen_at = \(bind: seenAt)
                    WHERE device_id = \(bind: device.id) AND company_id = \(bind: companyId)
                    """).run()
            } else {
                try await db.raw("""
                    UPDATE device_presence SET last_seen_at = \(bind: max(seenAt, lastSeen)), online = 1, changed_at = \(bind: seenAt)
                    WHERE device_id = \(bind: device.id) AND company_id = \(bind: companyId)
                    """).run()
                try await alert(device.id, communityId: device.communityId, kind: "online", at: seenAt, lastSeen: seenAt)
            }
        } else {
            try await db.raw("""
                INSERT INTO device_presence (device_id, company_id, community_id, last_seen_at, online, changed_at)
                VALUES (\(bind: device.id), \(bind: companyId), \(bind: device.communityId), \(bind: seenAt), 1, \(bind: seenAt))
                """).run()
        }
    }

    mutating func alert(_ deviceId: String, communityId: String, kind: String, at: Int64, lastSeen: Int64) async throws {
        try await db.raw("""
            INSERT INTO device_alerts (id, company_id, community_id, device_id, kind, at, last_seen_at)
            VALUES (\(bind: ids.next()), \(bind: companyId), \(bind: communityId), \(bind: deviceId), \(bind: kind), \(bind: at), \(bind: lastSeen))
            """).run()
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
            let rows = try await db.raw("""
                SELECT p.device_id, p.company_id, p.community_id, p.last_seen_at, d.kind FROM device_presence p
                JOIN devices d ON d.id = p.device_id AND d.company_id = p.company_id
                WHERE p.online = 1 AND p.last_seen_at < \(bind: nowMillis - shortest - PresenceStore.lastSeenPrecisionMilliseconds)
                """).all()
            var stores: [String: PresenceStore] = [:]
            for row in rows {
                let reader = RowReader(row, table: "device_presence")
                let kind = try reader.value("kind", as: Device.Kind.self)
                let lastSeen = try reader.int64("last_seen_at")
                guard lastSeen + PresenceStore.timeoutMilliseconds(kind) + PresenceStore.lastSeenPrecisionMilliseconds <= nowMillis else { continue }
                let companyId = try reader.string("company_id")
                let deviceId = try reader.string("device_id")
                var store = stores[companyId] ?? PresenceStore(db, companyId: companyId, now: now)
                try await db.raw("""
                    UPDATE device_presence SET online = 0, changed_at = \(bind: nowMillis)
                    WHERE device_id = \(bind: deviceId) AND company_id = \(bind: companyId)
                    """).run()
                try await store.alert(deviceId, communityId: try reader.string("community_id"), kind: "offline", at: nowMillis, lastSeen: lastSeen)
                stores[companyId] = store
                count += 1
            }
            if count > 0 { try await IngestGeneration.bump(db) }
            return count
        }
    }
}
