import CourtyardDomain
import CourtyardMeterProtocols
import CourtyardStorage
import Foundation
import SQLKit

/// A command on its way to a device: what to do, and how it leaves.
public struct DeviceCommand: Codable, Sendable, Hashable {
    /// QUEUED → SENT → DELIVERED → SUCCEEDED | FAILED | EXPIRED; a queued command a newer one replaced is SUPERSEDED.
    public enum State: String, Codable, Sendable, CaseIterable {
        case queued, sent, delivered, succeeded, failed, expired, superseded
        public var isOpen: Bool { self == .queued || self == .sent || self == .delivered }
    }
    public var id: String
    public var companyId: String
    public var communityId: String
    public var deviceId: String
    /// `open` or `close` the supply.
    public var action: SupplyPosition
    public var reason: String
    public var state: State
    /// `mqtt` (JSON on `…/devices/{key}/commands`), `dlt645` / `cjt188` (a frame in that JSON, for a gateway), `http`
    /// (the device pulls it after its next report).
    public var transport: String
    public var attempts: Int
    public var maxAttempts: Int
    public var nextAttemptAt: Int64
    public var expiresAt: Int64
    public var createdAt: Int64
    public var sentAt: Int64?
    public var deliveredAt: Int64?
    public var completedAt: Int64?
    public var error: String?

    /// The columns a command is read from (its company comes from the tenant or the sweep that read it).
    static let columns: SQLQueryString = """
        id, community_id, device_id, action, reason, state, transport, attempts, max_attempts, next_attempt_at, expires_at, \
        created_at, sent_at, delivered_at, completed_at, error
        """

    init(row: any SQLRow, companyId: String) throws {
        let r = RowReader(row, table: "device_commands")
        id = try r.string("id")
        self.companyId = companyId
        communityId = try r.string("community_id")
        deviceId = try r.string("device_id")
        guard let action = SupplyPosition(rawValue: try r.string("action") == "open" ? "open" : "closed"),
            let state = State(rawValue: try r.string("state"))
        else { throw StorageError.corruptRow(table: "device_commands", column: "state") }
        self.action = action
        self.state = state
        reason = try r.string("reason")
        transport = try r.string("transport")
        attempts = Int(try r.int64("attempts"))
        maxAttempts = Int(try r.int64("max_attempts"))
        nextAttemptAt = try r.int64("next_attempt_at")
        expiresAt = try r.int64("expires_at")
        createdAt = try r.int64("created_at")
        sentAt = try r.optionalInt64("sent_at")
        deliveredAt = try r.optionalInt64("delivered_at")
        completedAt = try r.optionalInt64("completed_at")
        error = try r.optionalString("error")
    }

    init(_ owned: TenantSQL.Owned) throws { try self.init(row: owned.row, companyId: owned.companyId) }

    /// The action's storage name.
    public static func actionText(_ position: SupplyPosition) -> String { position == .open ? "open" : "close" }

    /// The command as the queue's rules see it.
    var open: CommandLifecycle.Open { .init(id: id, action: action, state: state, createdAt: createdAt) }
}

/// The only writer of `device_commands`: one company's device command queue, following ``CommandLifecycle``. Every
/// transition is a conditional update, so a late or duplicate ack cannot move a command backwards. The dispatcher's
/// sweeps across companies are the static functions; everything done to a command they found goes through the queue of
/// the command's company.
public struct CommandQueue: Sendable {
    let tenant: TenantSQL

    public init(_ tenant: TenantSQL) { self.tenant = tenant }

    public init(_ db: any SQLDatabase, companyId: String) { self.init(TenantSQL(db, scope: TenantScope(companyId: companyId))) }

    /// How long a sent command waits for its ack before it is sent again (``CommandLifecycle/ackTimeout(attempt:)``).
    public static func ackTimeout(attempt: Int) -> Int64 { CommandLifecycle.ackTimeout(attempt: attempt) }

    /// How long after its last report a sleepy meter still listens.
    public static let uplinkWindowMilliseconds: Int64 = 60_000

    /// Queues `action` for a device unless its newest open command already asks for it; returns the command's id.
    @discardableResult
    public func enqueue(
        communityId: String, deviceId: String, action: SupplyPosition, reason: String, transport: String,
        maxAttempts: Int, expirySeconds: Int, waitForUplink: Bool = false, now: Date
    ) async throws -> String {
        let open = try await open(deviceId: deviceId).map(\.open)
        if case .alreadyAsked(let id) = CommandLifecycle.desire(action, open: open) { return id }
        let millis = now.epochMilliseconds
        let id = Identifier.uuidV7(at: now)
        try await tenant.insert(
            into: "device_commands", columns: Self.insertColumns,
            values: [
                id, communityId, deviceId, DeviceCommand.actionText(action), reason, "queued", transport, 0, maxAttempts, millis,
                millis + Int64(expirySeconds) * 1000, CommandLifecycle.creationTime(now: millis, open: open), waitForUplink ? 1 : 0,
            ]
        ).run()
        return id
    }

    /// ``enqueue(communityId:deviceId:action:reason:transport:maxAttempts:expirySeconds:waitForUplink:now:)`` on the fast
    /// path (the ingestion writer's raw batch, for a prepaid deduction), inside its open transaction: the same rule
    /// (``CommandLifecycle/desire(_:open:)``) and the same row. The transport is the device's protocol. Returns the
    /// command's id, or the id of the open command that already asks for `action`.
    @discardableResult
    public static func enqueue(
        _ sql: TenantFastSQL, communityId: String, deviceId: String, action: SupplyPosition, reason: String, maxAttempts: Int,
        expirySeconds: Int, waitForUplink: Bool, now: Date
    ) throws -> String {
        let millis = now.epochMilliseconds
        let newest = try sql.prepare(newestOpen)
        newest.bind(2, deviceId)
        var open: [CommandLifecycle.Open] = []
        if try newest.step() {
            open.append(.init(id: newest.string(0), action: newest.string(1) == "open" ? .open : .closed, state: .queued, createdAt: newest.int64(2)))
        }
        newest.reset()
        if case .alreadyAsked(let id) = CommandLifecycle.desire(action, open: open) { return id }
        let transportQuery = try sql.prepare(deviceProtocol)
        transportQuery.bind(2, deviceId)
        let transport = try transportQuery.step() ? transportQuery.string(0) : "mqtt"
        transportQuery.reset()
        let id = Identifier.uuidV7(at: now)
        let insert = try sql.prepare(fastInsert)
        insert.bind(2, id)
        insert.bind(3, communityId)
        insert.bind(4, deviceId)
        insert.bind(5, DeviceCommand.actionText(action))
        insert.bind(6, reason)
        insert.bind(7, "queued")
        insert.bind(8, transport)
        insert.bind(9, Int64(0))
        insert.bind(10, Int64(maxAttempts))
        insert.bind(11, millis)
        insert.bind(12, millis + Int64(expirySeconds) * 1000)
        insert.bind(13, CommandLifecycle.creationTime(now: millis, open: open))
        insert.bind(14, Int64(waitForUplink ? 1 : 0))
        try insert.run()
        insert.reset()
        return id
    }

    static let newestOpen = TenantQuery.select(
        "id, action, created_at", from: "device_commands", where: "device_id = ?2 AND state IN ('queued', 'sent', 'delivered')",
        then: "ORDER BY created_at DESC, id DESC LIMIT 1")
    static let deviceProtocol = TenantQuery.select("protocol", from: "devices", where: "id = ?2")
    static let fastInsert = TenantQuery.insert(into: "device_commands", columns: insertColumns)

    /// The columns a new command is written with (the storage layer adds its company).
    static let insertColumns = [
        "id", "community_id", "device_id", "action", "reason", "state", "transport", "attempts", "max_attempts",
        "next_attempt_at", "expires_at", "created_at", "wait_for_uplink",
    ]

    /// A device's unfinished commands (queued, sent or delivered), newest first.
    public func open(deviceId: String) async throws -> [DeviceCommand] {
        try await tenant.select(
            DeviceCommand.columns, from: "device_commands",
            where: "device_id = \(bind: deviceId) AND state IN ('queued', 'sent', 'delivered')",
            then: "ORDER BY created_at DESC, id DESC"
        ).all().map { try DeviceCommand(row: $0, companyId: tenant.companyId) }
    }

    /// One command of a device.
    public func command(deviceId: String, id: String) async throws -> DeviceCommand? {
        try await tenant.select(DeviceCommand.columns, from: "device_commands", where: "device_id = \(bind: deviceId) AND id = \(bind: id)")
            .first().map { try DeviceCommand(row: $0, companyId: tenant.companyId) }
    }

    /// The newest commands of a device.
    public func recent(deviceId: String, limit: Int) async throws -> [DeviceCommand] {
        try await tenant.select(
            DeviceCommand.columns, from: "device_commands", where: "device_id = \(bind: deviceId)",
            then: "ORDER BY created_at DESC, id DESC LIMIT \(bind: limit)"
        )
        .all().map { try DeviceCommand(row: $0, companyId: tenant.companyId) }
    }

    /// Marks a command sent (again): one more attempt, its ack due after the backoff; the commands queued before it are
    /// superseded (``CommandLifecycle/replaced(by:open:)``).
    public func markSent(_ command: DeviceCommand, attempts: Int, at: Int64) async throws {
        // The attempt counts even when a quick device acked before this update: only the state waits on the state.
        try await tenant.update(
            "device_commands", set: "attempts = \(bind: attempts), sent_at = \(bind: at)",
            where: "id = \(bind: command.id) AND attempts < \(bind: attempts)"
        ).run()
        try await tenant.update(
            "device_commands", set: "state = 'sent', next_attempt_at = \(bind: at + Self.ackTimeout(attempt: attempts))",
            where: "id = \(bind: command.id) AND state IN ('queued', 'sent', 'delivered')"
        ).run()
        let replaced = CommandLifecycle.replaced(by: command.open, open: try await open(deviceId: command.deviceId).map(\.open))
        guard !replaced.isEmpty else { return }
        try await tenant.update(
            "device_commands", set: "state = 'superseded', completed_at = \(bind: at)",
            where: "id IN (\(binds: replaced)) AND state = 'queued'"
        ).run()
    }

    /// What the device of an HTTP integration gets when it asks for its commands after a report: the command in flight
    /// again (it lost the answer; another attempt), else its newest queued command, marked sent.
    public func pull(deviceId: String, now: Int64) async throws -> DeviceCommand? {
        let open = try await open(deviceId: deviceId).filter { $0.expiresAt > now }
        guard var next = open.first(where: { $0.state == .sent || $0.state == .delivered }) ?? open.first(where: { $0.state == .queued })
        else { return nil }
        next.attempts += 1
        try await markSent(next, attempts: next.attempts, at: now)
        next.state = .sent
        next.sentAt = now
        return next
    }

    /// A device's ack, applied by ``CommandLifecycle/acknowledge(_:state:attempts:now:)``: the command after it and what
    /// the ack did. `nil` when the device has no such command.
    public func acknowledge(
        deviceId: String, commandId: String, status: CommandLifecycle.AckStatus, error: String?,
        now: Int64
    ) async throws -> (command: DeviceCommand, effect: CommandLifecycle.AckEffect)? {
        guard var command = try await command(deviceId: deviceId, id: commandId) else { return nil }
        let effect = CommandLifecycle.acknowledge(status, state: command.state, attempts: command.attempts, now: now)
        switch effect {
        case .refuse, .duplicate:
            break
        case .deliver(let next):
            try await tenant.update(
                "device_commands", set: "state = 'delivered', delivered_at = \(bind: now), next_attempt_at = \(bind: next)",
                where: "id = \(bind: command.id) AND state IN ('queued', 'sent')"
            ).run()
            command.state = .delivered
            command.deliveredAt = now
        case .complete(let state):
            try await tenant.update(
                "device_commands",
                set: """
                    state = \(bind: state.rawValue), completed_at = \(bind: now), error = \(bind: error), delivered_at = COALESCE(delivered_at, \(bind: now))
                    """, where: "id = \(bind: command.id) AND state IN ('queued', 'sent', 'delivered')"
            ).run()
            command.state = state
            command.completedAt = now
            command.error = error
        }
        return (command, effect)
    }

    /// Fails a sent command whose last attempt went unanswered.
    func fail(_ command: DeviceCommand, reason: String, at: Int64) async throws {
        try await tenant.update(
            "device_commands", set: "state = 'failed', completed_at = \(bind: at), error = \(bind: reason)",
            where: "id = \(bind: command.id) AND state IN ('sent', 'delivered')"
        ).run()
    }

    /// Expires an open command past its time.
    func expire(_ command: DeviceCommand, at: Int64) async throws {
        try await tenant.update(
            "device_commands", set: "state = 'expired', completed_at = \(bind: at), error = 'no answer before the command expired'",
            where: "id = \(bind: command.id) AND state IN ('queued', 'sent', 'delivered')"
        ).run()
    }
}

// MARK: - Sweeps across companies (the dispatcher)

extension CommandQueue {
    /// Commands ready to leave, oldest first: each free device's newest queued command (nothing sent or delivered in
    /// flight, as ``CommandLifecycle`` keeps one per device), due and not expired, on a transport that can reach it (an
    /// HTTP callback needs its URL) and, for sleepy meters, on a device that reported within the last minute.
    public static func ready(_ db: any SQLDatabase, now: Int64, limit: Int) async throws -> [DeviceCommand] {
        try await TenantSQL.sweep(
            db, DeviceCommand.columns, from: "device_commands", as: "c",
            where: """
                c.state = 'queued' AND c.next_attempt_at <= \(bind: now) AND c.expires_at > \(bind: now)
                  AND (c.transport <> 'http' OR EXISTS (SELECT 1 FROM supply_states s JOIN integrations i ON i.id = s.callback_integration_id
                                                        WHERE s.device_id = c.device_id AND i.command_url IS NOT NULL))
                  AND NOT EXISTS (SELECT 1 FROM device_commands f WHERE f.device_id = c.device_id AND f.state IN ('sent', 'delivered'))
                  AND NOT EXISTS (SELECT 1 FROM device_commands n WHERE n.device_id = c.device_id AND n.state = 'queued'
                                                                  AND (n.created_at > c.created_at OR (n.created_at = c.created_at AND n.id > c.id)))
                  AND (c.wait_for_uplink = 0 OR EXISTS (SELECT 1 FROM device_presence p WHERE p.device_id = c.device_id
                                                        AND p.last_seen_at >= \(bind: now - uplinkWindowMilliseconds)))
                """, then: "ORDER BY c.next_attempt_at, c.id LIMIT \(bind: limit)"
        ).map(DeviceCommand.init)
    }

    /// Sent or delivered commands whose ack is overdue (to send again or fail), oldest first.
    public static func overdue(_ db: any SQLDatabase, now: Int64, limit: Int) async throws -> [DeviceCommand] {
        try await TenantSQL.sweep(
            db, DeviceCommand.columns, from: "device_commands",
            where: """
                state IN ('sent', 'delivered') AND next_attempt_at <= \(bind: now) AND expires_at > \(bind: now)
                """, then: "ORDER BY next_attempt_at, id LIMIT \(bind: limit)"
        ).map(DeviceCommand.init)
    }

    /// Open commands past their time, expired; returns them (at most 1,000 a call).
    public static func expireDue(_ db: any SQLDatabase, now: Int64) async throws -> [DeviceCommand] {
        let due = try await TenantSQL.sweep(
            db, DeviceCommand.columns, from: "device_commands",
            where: """
                state IN ('queued', 'sent', 'delivered') AND expires_at <= \(bind: now)
                """, then: "ORDER BY id LIMIT 1000"
        ).map(DeviceCommand.init)
        for command in due { try await CommandQueue(db, companyId: command.companyId).expire(command, at: now) }
        return due
    }

    /// Commands of every company not yet finished (queued, sent or delivered), and when the oldest was created (epoch
    /// milliseconds): the queue's depth and age, for metrics.
    public static func backlog(_ db: any SQLDatabase) async throws -> (commands: Int, oldestCreatedAt: Int64?) {
        let row = try await db.raw(
            """
            SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM device_commands WHERE state IN ('queued', 'sent', 'delivered')
            """
        ).first()
        return (try row?.decode(column: "n", as: Int.self) ?? 0, try row?.decode(column: "oldest", as: Int64?.self))
    }
}

/// How a command is written on the wire for its device's protocol.
public enum CommandPayload {
    /// The JSON a device or gateway receives: the command, and for DL/T 645 / CJ/T 188 meters the frame to forward.
    public static func json(_ command: DeviceCommand, device: CommandTarget, now: Date) -> [UInt8] {
        var fields: [String: String] = [
            "command_id": command.id, "device_id": device.deviceKey, "action": DeviceCommand.actionText(command.action),
            "reason": command.reason, "attempt": String(command.attempts),
            "expires_at": String(command.expiresAt),
        ]
        if let frame = frame(command, device: device, now: now) { fields["frame"] = Hex.string(frame) }
        let data = (try? SnakeCaseJSON.encoder.encode(fields)) ?? Data()
        return Array(data)
    }

    /// The protocol frame for a meter with a protocol address, if it speaks DL/T 645 or CJ/T 188.
    public static func frame(_ command: DeviceCommand, device: CommandTarget, now: Date) -> [UInt8]? {
        guard let address = device.address else { return nil }
        switch device.transport {
        case "dlt645":
            guard let parsed = try? DLT645.Address(address) else { return nil }
            let zone = device.timeZone
            func clock(_ date: Date) -> MeterClock? {
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = zone
                let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
                guard let year = c.year, let month = c.month, let day = c.day, let hour = c.hour, let minute = c.minute,
                    let second = c.second
                else { return nil }
                return MeterClock(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
            }
            guard let current = clock(now), let until = clock(Date(timeIntervalSince1970: TimeInterval(command.expiresAt) / 1000)) else { return nil }
            return try? DLT645.remoteControl(address: parsed, command: command.action == .open ? .close : .trip, validUntil: until, now: current)
        case "cjt188":
            guard let parsed = try? CJT188.Address(address) else { return nil }
            let type: CJT188.MeterType =
                switch device.kind {
                case .gasMeter: .gas
                case .heatMeter: .heat
                default: .coldWater
                }
            return CJT188.valveCommand(type: type, address: parsed, open: command.action == .open)
        default:
            return nil
        }
    }
}

/// What a transport needs to know about a command's device.
public struct CommandTarget: Sendable, Hashable {
    public var deviceId: String
    public var companyId: String
    public var communityId: String
    public var deviceKey: String
    public var kind: Device.Kind
    /// The device's protocol (`mqtt`, `http`, `dlt645`, `cjt188`, `manual`).
    public var transport: String
    public var address: String?
    public var timeZone: TimeZone
    /// For devices behind an IoT platform that takes commands by HTTP callback: its URL and current secret.
    public var callbackURL: String?
    public var callbackSecret: String?

    public init(
        deviceId: String, companyId: String, communityId: String, deviceKey: String, kind: Device.Kind, transport: String,
        address: String?, timeZone: TimeZone
    ) {
        self.deviceId = deviceId
        self.companyId = companyId
        self.communityId = communityId
        self.deviceKey = deviceKey
        self.kind = kind
        self.transport = transport
        self.address = address
        self.timeZone = timeZone
    }

    /// The MQTT topic the device (or its gateway) listens on.
    public var commandTopic: String { "courtyard/\(companyId)/\(communityId)/devices/\(deviceKey)/commands" }

    static func load(_ db: any SQLDatabase, deviceIds: [String]) async throws -> [String: CommandTarget] {
        var targets: [String: CommandTarget] = [:]
        for part in deviceIds.chunked(500) {
            let rows = try await TenantSQL.sweep(
                db,
                """
                d.id, d.community_id, d.device_key, d.kind, d.protocol, d.address, c.time_zone, i.command_url, i.secret
                """, from: "devices", as: "d",
                joining: [
                    .inner("communities", as: "c", on: "c.id = d.community_id"),
                    .left("supply_states", as: "s", on: "s.device_id = d.id"),
                    .left("integrations", as: "i", on: "i.id = s.callback_integration_id"),
                ], where: "d.id IN (\(binds: part))")
            for owned in rows {
                let r = RowReader(owned.row, table: "devices")
                let id = try r.string("id")
                var target = CommandTarget(
                    deviceId: id, companyId: owned.companyId, communityId: try r.string("community_id"),
                    deviceKey: try r.string("device_key"), kind: Device.Kind(rawValue: try r.string("kind")) ?? .electricityMeter,
                    transport: try r.string("protocol"), address: try r.optionalString("address"),
                    timeZone: TimeZone(identifier: try r.string("time_zone")) ?? .gmt)
                target.callbackURL = try r.optionalString("command_url")
                target.callbackSecret = try r.optionalString("secret")
                targets[id] = target
            }
        }
        return targets
    }
}
