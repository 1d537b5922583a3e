import CourtyardDomain
import CourtyardStorage
import Foundation
import SQLKit

/// A device's presence: online or not, when it was last heard from and when that changed.
public struct PresenceView: Codable, Sendable {
    public var deviceId: String
    public var deviceKey: String
    public var communityId: String
    public var kind: String
    public var online: Bool
    public var lastSeenAt: Date?
    public var changedAt: Date?

    public init(deviceId: String, deviceKey: String, communityId: String, kind: String, online: Bool, lastSeenAt: Date?, changedAt: Date?) {
        self.deviceId = deviceId
        self.deviceKey = deviceKey
        self.communityId = communityId
        self.kind = kind
        self.online = online
        self.lastSeenAt = lastSeenAt
        self.changedAt = changedAt
    }
}

/// An offline or back-online alert of a device.
public struct DeviceAlert: Codable, Sendable {
    public var id: String
    public var deviceId: String
    public var kind: String
    public var at: Date
    public var lastSeenAt: Date

    public init(id: String, deviceId: String, kind: String, at: Date, lastSeenAt: Date) {
        self.id = id
        self.deviceId = deviceId
        self.kind = kind
        self.at = at
        self.lastSeenAt = lastSeenAt
    }
}

/// What the monitoring screens read about one company's devices, a page at a time: readings in measurement order,
/// alerts newest first, presence by device. Pages are keyset pages: each returns up to `limit + 1` rows, so the caller
/// knows whether another page follows, and the next page starts after the last row shown.
public struct DeviceHistory: Sendable {
    package let tenant: TenantSQL

    public init(_ db: any SQLDatabase, scope: TenantScope) { tenant = TenantSQL(db, scope: scope) }

    /// A place in a list ordered by (instant, id): the last row of the previous page.
    public struct Position: Sendable, Hashable {
        public var milliseconds: Int64
        public var id: String
        public init(milliseconds: Int64, id: String) {
            self.milliseconds = milliseconds
            self.id = id
        }

        /// Rows after this position in (column, id) order, ascending or descending.
        package func after(_ column: String, descending: Bool) -> SQLQueryString {
            let comparison = descending ? "<" : ">"
            return
                "(\(ident: column) \(unsafeRaw: comparison) \(bind: milliseconds) OR (\(ident: column) = \(bind: milliseconds) AND id \(unsafeRaw: comparison) \(bind: id)))"
        }
    }

    /// Offline and back-online alerts, newest first, in the scope's communities.
    public func alerts(deviceId: String?, kind: String?, after: Position?, limit: Int) async throws -> [DeviceAlert] {
        var conditions: [SQLQueryString] = [communities("community_id")]
        if let deviceId { conditions.append("device_id = \(bind: deviceId)") }
        if let kind { conditions.append("kind = \(bind: kind)") }
        if let after { conditions.append(after.after("at", descending: true)) }
        let rows = try await tenant.select(
            "id, device_id, kind, at, last_seen_at", from: "device_alerts", where: conditions.joined(separator: " AND "),
            then: "ORDER BY at DESC, id DESC LIMIT \(literal: limit + 1)"
        ).all()
        return try rows.map { row in
            let r = RowReader(row, table: "device_alerts")
            return DeviceAlert(
                id: try r.string("id"), deviceId: try r.string("device_id"), kind: try r.string("kind"),
                at: try r.instant("at"), lastSeenAt: try r.instant("last_seen_at"))
        }
    }

    /// Whether a device is online, for ``presence(online:community:after:limit:)``.
    public enum Presence: String, Sendable { case online, offline }

    /// Devices in service with their presence, by id; a device never heard from counts as offline.
    public func presence(_ presence: Presence?, community: String?, after: String?, limit: Int) async throws -> [PresenceView] {
        var conditions: [SQLQueryString] = ["d.status <> 'retired'", communities("d.community_id")]
        if let community { conditions.append("d.community_id = \(bind: community)") }
        switch presence {
        case .online: conditions.append("p.online = 1")
        case .offline: conditions.append("(p.online IS NULL OR p.online = 0)")
        case nil: break
        }
        if let after { conditions.append("d.id > \(bind: after)") }
        let rows = try await tenant.select(
            """
            d.id AS id, d.device_key AS device_key, d.community_id AS community_id, d.kind AS kind, p.online AS online, \
            p.last_seen_at AS last_seen_at, p.changed_at AS changed_at
            """, from: "devices", as: "d", joining: [.left("device_presence", as: "p", on: "p.device_id = d.id")],
            where: conditions.joined(separator: " AND "), then: "ORDER BY d.id LIMIT \(literal: limit + 1)"
        ).all()
        return try rows.map { row in
            let r = RowReader(row, table: "devices")
            return PresenceView(
                deviceId: try r.string("id"), deviceKey: try r.string("device_key"), communityId: try r.string("community_id"),
                kind: try r.string("kind"), online: try r.optionalInt64("online") == 1,
                lastSeenAt: try r.optionalInt64("last_seen_at").map(Self.date), changedAt: try r.optionalInt64("changed_at").map(Self.date))
        }
    }

    /// The scope's communities (everything when it names none).
    private func communities(_ column: SQLQueryString) -> SQLQueryString {
        guard let communities = tenant.scope.communityIds else { return "1 = 1" }
        return communities.isEmpty ? "1 = 0" : "\(column) IN (\(binds: communities.sorted()))"
    }

    package static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1000) }
}

extension DeviceDirectory {
    /// One device of the scope, as ingestion knows it (its community's zone, its register modulus).
    public static func device(_ id: String, scope: TenantScope, db: any SQLDatabase) async throws -> KnownDevice {
        let device = try await ScopedStore(db, scope: scope).get(Device.self, id: id)
        guard let known = try await load(db, companyId: scope.companyId, keys: [device.deviceKey])[device.deviceKey] else {
            throw StorageError.notFound(table: "devices", id: id)
        }
        return known
    }
}
