import CourtyardDomain
import CourtyardMeterProtocols
import CourtyardStorage
import Foundation
import SQLKit
import Synchronization

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

    static let columns = "id, company_id, community_id, device_id, action, reason, state, transport, attempts, max_attempts, next_attempt_at, expires_at, created_at, sent_at, delivered_at, completed_at, error"

    init(row: any SQLRow) throws {
        let r = RowReader(row, table: "device_commands")
        id = try r.string("id")
        companyId = try r.string("company_id")
        communityId = try r.string("community_id")
        deviceId = try r.string("device_id")
        guard let action = SupplyPosition(rawValue: try r.string("action") == "open" ? "open" : "closed"),
              let state = State(rawValue: try r.string("state")) else { throw StorageError.corruptRow(table: "device_commands", column: "state") }
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

    /// The action's storage name.
    static func actionText(_ position: SupplyPosition) -> String { position == .open ? "open" : "close" }
}

/// The device command queue's state machine in SQL. One command in flight per device; newer desired states supersede
/// queued ones; every transition is a conditional update, so a late or duplicate ack cannot move a command backwards.
public enum CommandQueue {
    /// Commands this process's dispatcher has handed (or is handing) to a transport whose SENT state is not written yet:
    /// a newer desire must not mark them superseded, since the device may already have them. (One dispatcher runs per
    /// database, in the server process; see docs/PREPAID.md.)
    static let sending = Mutex<Set<String>>([])

    /// How long a sent command waits for its ack before it is sent again: 10 s, doubling, at most 10 min.
    public static func ackTimeout(attempt: Int) -> Int64 {
        min(10_000 << Int64(max(0, attempt - 1)), 600_000)
    }

    /// Queues `action` for a device unless the newest open command already asks for it; returns the command id.
    @discardableResult
    public static func enqueue(_ db: any SQLDatabase, companyId: String, communityId: String, deviceId: String, action: SupplyPosition,
                               reason: String, transport: String, maxAttempts: Int, expirySeconds: Int, waitForUplink: Bool = false,
                               now: Date) async throws -> String {
        let millis = now.epochMilliseconds
        let open = try await db.raw("""
            SELECT \(unsafeRaw: DeviceCommand.columns) FROM device_commands
            WHERE device_id = \(bind: deviceId) AND company_id = \(bind: companyId) AND state IN ('queued', 'sent', 'delivered')
            ORDER BY created_at DESC, id DESC
            """).all().map(DeviceCommand.init(row:))
        if let newest = open.first, newest.action == action { return newest.id }
        let leaving = sending.withLock { $0 }
        for command in open where command.state == .queued && !leaving.contains(command.id) {
            try await db.raw("""
                UPDATE device_commands SET state = 'superseded', completed_at = \(bind: millis) WHERE id = \(bind: command.id) AND state = 'queued'
                """).run()
        }
        let id = Identifier.uuidV7(at: now)
        try await db.raw("""
            INSERT INTO device_commands (\(unsafeRaw: DeviceCommand.columns))
            VALUES (\(bind: id), \(bind: companyId), \(bind: communityId), \(bind: deviceId), \(bind: DeviceCommand.actionText(action)),
                    \(bind: reason), 'queued', \(bind: transport), 0, \(bind: maxAttempts), \(bind: millis),
                    \(bind: millis + Int64(expirySeconds) * 1000), \(bind: millis), NULL, NULL, NULL, NULL)
            """).run()
        if waitForUplink {
            try await db.raw("UPDATE device_commands SET wait_for_uplink = 1 WHERE id = \(bind: id)").run()
        }
        return id
    }

    /// How long after its last report a sleepy meter still listens.
    public static let uplinkWindowMilliseconds: Int64 = 60_000

    /// Commands ready to leave: queued, due, not expired, on devices with nothing in flight (and, for sleepy meters,
    /// that reported within the last minute); oldest first.
    public static func ready(_ db: any SQLDatabase, now: Int64, limit: Int) async throws -> [DeviceCommand] {
        try await db.raw("""
            SELECT \(unsafeRaw: DeviceCommand.columns) FROM device_commands c
            WHERE c.state = 'queued' AND c.next_attempt_at <= \(bind: now) AND c.expires_at > \(bind: now)
              AND (c.transport <> 'http' OR EXISTS (SELECT 1 FROM supply_states s JOIN integrations i ON i.id = s.callback_integration_id
                                                    WHERE s.device_id = c.device_id AND i.command_url IS NOT NULL))
              AND NOT EXISTS (SELECT 1 FROM device_commands f WHERE f.device_id = c.device_id AND f.state IN ('sent', 'delivered'))
              AND (c.wait_for_uplink = 0 OR EXISTS (SELECT 1 FROM device_presence p WHERE p.device_id = c.device_id
                                                    AND p.last_seen_at >= \(bind: now - uplinkWindowMilliseconds)))
            ORDER BY c.next_attempt_at, c.id LIMIT \(unsafeRaw: String(limit))
            """).all().map(DeviceCommand.init(row:))
    }

    /// Sent or delivered commands whose ack is overdue (to send again or fail), oldest first.
    public static func overdue(_ db: any SQLDatabase, now: Int64, limit: Int) async throws -> [DeviceCommand] {
        try await db.raw("""
            SELECT \(unsafeRaw: DeviceCommand.columns) FROM device_commands
            WHERE state IN ('sent', 'delivered') AND next_attempt_at <= \(bind: now) AND expires_at > \(bind: now)
            ORDER BY next_attempt_at, id LIMIT \(unsafeRaw: String(limit))
            """).all().map(DeviceCommand.init(row:))
    }

    /// Marks a command sent (again): one more attempt, its ack due after the backoff.
    public static func markSent(_ db: any SQLDatabase, id: String, attempts: Int, at: Int64) async throws {
        // The attempt counts even when a quick device acked before this update: only the state waits on the state.
        try await db.raw("""
            UPDATE device_commands SET attempts = \(bind: attempts), sent_at = \(bind: at)
            WHERE id = \(bind: id) AND attempts < \(bind: attempts)
            """).run()
        try await db.raw("""
            UPDATE device_commands SET state = 'sent', next_attempt_at = \(bind: at + ackTimeout(attempt: attempts))
            WHERE id = \(bind: id) AND state IN ('queued', 'sent', 'delivered')
            """).run()
    }

    /// Commands of every company not yet finished (queued, sent or delivered), and when the oldest was created (epoch
    /// milliseconds): the queue's depth and age, for metrics.
    public static func backlog(_ db: any SQLDatabase) async throws -> (commands: Int, oldestCreatedAt: Int64?) {
        let row = try await db.raw("""
            SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM device_commands WHERE state IN ('queued', 'sent', 'delivered')
            """).first()
        return (try row?.decode(column: "n", as: Int.self) ?? 0, try row?.decode(column: "oldest", as: Int64?.self))
    }

    /// Expires open commands past their time; returns them.
    public static func expireDue(_ db: any SQLDatabase, now: Int64) async throws -> [DeviceCommand] {
        let due = try await db.raw("""
            SELECT \(unsafeRaw: DeviceCommand.columns) FROM device_commands
            WHERE state IN ('queued', 'sent', 'delivered') AND expires_at <= \(bind: now) ORDER BY id LIMIT 1000
            """).all().map(DeviceCommand.init(row:))
        for command in due {
            try await db.raw("""
                UPDATE device_commands SET state = 'expired', completed_at = \(bind: now), error = 'no answer before the command expired'
                WHERE id = \(bind: command.id) AND state IN ('queued', 'sent', 'delivered')
                """).run()
        }
        return due
    }

    /// One command of a device.
    public static func command(_ db: any SQLDatabase, companyId: String, deviceId: String, id: String) async throws -> DeviceCommand? {
        try await db.raw("""
            SELECT \(unsafeRaw: DeviceCommand.columns) FROM device_commands
            WHERE company_id = \(bind: companyId) AND device_id = \(bind: deviceId) AND id = \(bind: id)
            """).first().map(DeviceCommand.init(row:))
    }

    /// The newest commands of a device.
    public static func recent(_ db: any SQLDatabase, companyId: String, deviceId: String, limit: Int) async throws -> [DeviceCommand] {
        try await db.raw("""
            SELECT \(unsafeRaw: DeviceCommand.columns) FROM device_commands
            WHERE company_id = \(bind: companyId) AND device_id = \(bind: deviceId) ORDER BY created_at DESC, id DESC LIMIT \(unsafeRaw: String(limit))
            """).all().map(DeviceCommand.init(row:))
    }

    /// The oldest queued command of an HTTP device, marked sent (the device pulls its commands after it reports).
    public static func pull(_ db: any SQLDatabase, companyId: String, deviceId: String, now: Int64) async throws -> DeviceCommand? {
        let inFlight = try await db.raw("""
            SELECT \(unsafeRaw: DeviceCommand.columns) FROM device_commands
            WHERE company_id = \(bind: companyId) AND device_id = \(bind: deviceId) AND state IN ('sent', 'delivered') AND expires_at > \(bind: now)
            ORDER BY created_at LIMIT 1
            """).first().map(DeviceCommand.init(row:))
        if var inFlight {
            // Asked again before acking: the device lost the answer; this is another attempt.
            inFlight.attempts += 1
            try await markSent(db, id: inFlight.id, attempts: inFlight.attempts, at: now)
            inFlight.state = .sent
            return inFlight
        }
        guard var next = try await db.raw("""
            SELECT \(unsafeRaw: DeviceCommand.columns) FROM device_commands
            WHERE company_id = \(bind: companyId) AND device_id = \(bind: deviceId) AND state = 'queued' AND expires_at > \(bind: now)
            ORDER BY created_at LIMIT 1
            """).first().map(DeviceCommand.init(row:)) else { return nil }
        next.attempts += 1
        try await markSent(db, id: next.id, attempts: next.attempts, at: now)
        next.state = .sent
        next.sentAt = now
        return next
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
        let data = (try? PrepaidJSON.encoder.encode(fields)) ?? Data()
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
                      let second = c.second else { return nil }
                return MeterClock(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
            }
            guard let current = clock(now), let until = clock(Date(timeIntervalSince1970: TimeInterval(command.expiresAt) / 1000)) else { return nil }
            return try? DLT645.remoteControl(address: parsed, command: command.action == .open ? .close : .trip, validUntil: until, now: current)
        case "cjt188":
            guard let parsed = try? CJT188.Address(address) else { return nil }
            let type: CJT188.MeterType = switch device.kind {
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

    public init(deviceId: String, companyId: String, communityId: String, deviceKey: String, kind: Device.Kind, transport: String,
                address: String?, timeZone: TimeZone) {
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
            let rows = try await db.raw("""
                SELECT d.id, d.company_id, d.community_id, d.device_key, d.kind, d.protocol, d.address, c.time_zone,
                       i.command_url, i.secret
                FROM devices d JOIN communities c ON c.id = d.community_id
                LEFT JOIN supply_states s ON s.device_id = d.id
                LEFT JOIN integrations i ON i.id = s.callback_integration_id AND i.company_id = d.company_id
                WHERE d.id IN (\(binds: part))
                """).all()
            for row in rows {
                let r = RowReader(row, table: "devices")
                let id = try r.string("id")
                targets[id] = CommandTarget(deviceId: id, companyId: try r.string("company_id"), communityId: try r.string("community_id"),
                                            deviceKey: try r.string("device_key"), kind: Device.Kind(rawValue: try r.string("kind")) ?? .electricityMeter,
                                            transport: try r.string("protocol"), address: try r.optionalString("address"),
                                            timeZone: TimeZone(identifier: try r.string("time_zone")) ?? .gmt)
                targets[id]?.callbackURL = try r.optionalString("command_url")
                targets[id]?.callbackSecret = try r.optionalString("secret")
            }
        }
        return targets
    }
}
