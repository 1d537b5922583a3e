import CourtyardDomain
import Foundation
import SQLKit

/// Notifications recorded in the same transaction as the state change they announce; delivery channels (SMS,
/// WeChat template messages, the owner app) read the outbox later. A dedup key makes each episode announce once.
///
/// The one writer of `notification_outbox`. It sits in Storage because every module announces something (prepaid
/// cut-offs, the device dispatcher's failed commands, later bills and arrears) and none of them owns the others.
public enum Outbox {
    /// Events of every company not yet delivered, and when the oldest was recorded (epoch milliseconds), for metrics.
    public static func backlog(_ db: any SQLDatabase) async throws -> (events: Int, oldestCreatedAt: Int64?) {
        let row = try await db.raw("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM notification_outbox WHERE delivered_at IS NULL").first()
        return (try row?.decode(column: "n", as: Int.self) ?? 0, try row?.decode(column: "oldest", as: Int64?.self))
    }

    /// `low_balance`, `cutoff_scheduled`, `cutoff_done`, `restored`, `gas_alarm`, `water_leak`, `command_failed`, `supply_mismatch`.
    public static func record(
        _ db: any SQLDatabase, companyId: String, communityId: String, houseId: String?, deviceId: String?,
        kind: String, audience: String, dedupKey: String, payload: [String: String], now: Date
    ) async throws {
        let text = String(decoding: try SnakeCaseJSON.encoder.encode(payload), as: UTF8.self)
        try await TenantSQL(db, scope: TenantScope(companyId: companyId)).insert(
            into: "notification_outbox",
            columns: insertColumns,
            values: [Identifier.uuidV7(at: now), communityId, houseId, deviceId, kind, audience, dedupKey, text, now.epochMilliseconds],
            onConflict: .onTenantKey(["dedup_key"])
        ).run()
    }

    static let insertColumns = ["id", "community_id", "house_id", "device_id", "kind", "audience", "dedup_key", "payload", "created_at"]
    static let fastInsert = TenantQuery.insert(
        into: "notification_outbox", columns: insertColumns, onConflict: .ignoreOnTenantKey(["dedup_key"]))

    /// ``record(_:companyId:communityId:houseId:deviceId:kind:audience:dedupKey:payload:now:)`` on the fast path, inside its
    /// open transaction: the same row.
    public static func record(
        _ sql: TenantFastSQL, communityId: String, houseId: String?, deviceId: String?, kind: String, audience: String,
        dedupKey: String, payload: [String: String], now: Date
    ) throws {
        let insert = try sql.prepare(fastInsert)
        insert.bind(2, Identifier.uuidV7(at: now))
        insert.bind(3, communityId)
        insert.bind(4, houseId)
        insert.bind(5, deviceId)
        insert.bind(6, kind)
        insert.bind(7, audience)
        insert.bind(8, dedupKey)
        insert.bind(9, String(decoding: try SnakeCaseJSON.encoder.encode(payload), as: UTF8.self))
        insert.bind(10, now.epochMilliseconds)
        try insert.run()
        insert.reset()
    }

    /// A recorded notification.
    public struct Notification: Codable, Sendable, Hashable {
        public var id: String
        public var communityId: String
        public var houseId: String?
        public var deviceId: String?
        public var kind: String
        public var audience: String
        public var payload: [String: String]
        public var createdAt: Date
    }

    /// Notifications of a house (or of the whole company when `house` is nil), newest first.
    public static func list(
        _ db: any SQLDatabase, companyId: String, communities: Set<String>?, house: String?, limit: Int
    ) async throws -> [Notification] {
        var conditions: [SQLQueryString] = ["1 = 1"]
        if let communities { conditions.append(communities.isEmpty ? "1 = 0" : "community_id IN (\(binds: communities.sorted()))") }
        if let house { conditions.append("house_id = \(bind: house)") }
        return try await TenantSQL(db, scope: TenantScope(companyId: companyId))
            .select(
                "id, community_id, house_id, device_id, kind, audience, payload, created_at", from: "notification_outbox",
                where: conditions.joined(separator: " AND "), then: "ORDER BY created_at DESC, id DESC LIMIT \(literal: limit)"
            )
            .all().map { row in
                let r = RowReader(row, table: "notification_outbox")
                let payload = (try? SnakeCaseJSON.decoder.decode([String: String].self, from: Data(try r.string("payload").utf8))) ?? [:]
                return Notification(
                    id: try r.string("id"), communityId: try r.string("community_id"), houseId: try r.optionalString("house_id"),
                    deviceId: try r.optionalString("device_id"),
                    kind: try r.string("kind"), audience: try r.string("audience"), payload: payload,
                    createdAt: Date(timeIntervalSince1970: TimeInterval(try r.int64("created_at")) / 1000))
            }
    }
}
