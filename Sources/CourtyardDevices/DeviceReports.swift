import CourtyardDomain
import CourtyardMQTT
import CourtyardStorage
import Foundation
import Logging
import SQLKit

/// What devices say back (command acks, valve positions, alarms), from HTTP or MQTT, applied in a transaction and
/// followed by a dispatcher wake-up (the next queued command of the device may leave now). What an answer means for
/// the device's purpose (a supply now closed, an alarm) is the ``DeviceEffects`` given.
public struct DeviceReports: Sendable {
    public let database: Database
    public let dispatcher: CommandDispatcher
    public let clock: any WallClock
    public let effects: any DeviceEffects
    let acks: AckWriter

    public init(database: Database, dispatcher: CommandDispatcher, effects: any DeviceEffects, clock: any WallClock = SystemClock()) {
        self.database = database
        self.dispatcher = dispatcher
        self.clock = clock
        self.effects = effects
        self.acks = AckWriter(database: database, dispatcher: dispatcher, effects: effects, clock: clock)
    }

    /// Applies an ack; acks arriving together (a building's meters answering a restore) share one transaction.
    public func acknowledge(
        companyId: String, deviceId: String, commandId: String, status: CommandLifecycle.AckStatus,
        error: String?
    ) async throws -> DeviceCommand {
        try await acks.submit(.init(companyId: companyId, deviceId: deviceId, commandId: commandId, status: status, error: error)).get()
    }

    public func report(companyId: String, deviceId: String, position: SupplyPosition?, alarm: String?) async throws {
        let now = clock.now()
        let engine = database.engine
        let effects = effects
        try await database.transaction { db in
            try await effects.reported(companyId: companyId, deviceId: deviceId, position: position, alarm: alarm, db: db, engine: engine, now: now)
        }
        await dispatcher.wake()
    }

    /// Applies one ack inside the caller's transaction: the queue records it, and a final answer runs the effects.
    /// Unknown commands and answers the queue refuses (a superseded or expired command) are ``DeviceError``s.
    static func acknowledge(
        _ ack: AckWriter.Ack, effects: any DeviceEffects, db: any SQLDatabase, engine: Database.Engine,
        now: Date
    ) async throws -> DeviceCommand {
        guard
            let (command, effect) = try await CommandQueue(db, companyId: ack.companyId).acknowledge(
                deviceId: ack.deviceId, commandId: ack.commandId, status: ack.status, error: ack.error, now: now.epochMilliseconds)
        else {
            throw DeviceError(.notFound, code: "unknown_command", field: "command_id", "no command \(ack.commandId) for this device")
        }
        switch effect {
        case .refuse(let code, let message):
            throw DeviceError(.conflict, code: code, field: "command_id", message)
        case .duplicate, .deliver:
            return command
        case .complete:
            try await effects.completed(command, status: ack.status, error: ack.error, db: db, engine: engine, now: now)
            return command
        }
    }

    /// The alarms a device may raise; each closes the supply for safety.
    public static let alarms: Set<String> = ["gas_leak", "abnormal_flow", "tamper"]

    /// An ack as devices send it.
    public struct Ack: Codable, Sendable {
        public var commandId: String
        public var status: CommandLifecycle.AckStatus
        public var error: String?
    }

    /// A state report as devices send it.
    public struct StateReport: Codable, Sendable {
        /// `open` or `closed`.
        public var valve: SupplyPosition?
        public var alarm: String?
    }
}

/// Acks and state reports over MQTT: `courtyard/{company}/{community}/devices/{device key}/acks` and `…/state`,
/// checked against the registry like telemetry is.
public struct DeviceMQTT: Sendable {
    public static let ackFilter = "courtyard/+/+/devices/+/acks"
    public static let stateFilter = "courtyard/+/+/devices/+/state"

    let reports: DeviceReports
    let logger: Logger

    public init(reports: DeviceReports, logger: Logger = Logger(label: "courtyard.commands")) {
        self.reports = reports
        self.logger = logger
    }

    /// Whether a topic is one of ours.
    public static func handles(_ topic: String) -> Bool { topic.hasSuffix("/acks") || topic.hasSuffix("/state") }

    public func handle(_ batch: [MQTTPacket.Publish]) async {
        for message in batch {
            let levels = message.topic.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard levels.count == 6, levels[0] == "courtyard", levels[3] == "devices" else { continue }
            let (company, community, key, kind) = (levels[1], levels[2], levels[4], levels[5])
            do {
                let device = try await reports.database.read { db in
                    try await TenantSQL(db, scope: TenantScope(companyId: company))
                        .select("id", from: "devices", where: "community_id = \(bind: community) AND device_key = \(bind: key)").first().map {
                            try RowReader($0, table: "devices").string("id")
                        }
                }
                guard let device else {
                    logger.warning("MQTT report for an unknown device", metadata: ["topic": "\(message.topic)"])
                    continue
                }
                let data = Data(message.payload)
                if kind == "acks" {
                    let ack = try SnakeCaseJSON.decoder.decode(DeviceReports.Ack.self, from: data)
                    _ = try await reports.acknowledge(
                        companyId: company, deviceId: device, commandId: ack.commandId, status: ack.status,
                        error: ack.error)
                } else if kind == "state" {
                    let state = try SnakeCaseJSON.decoder.decode(DeviceReports.StateReport.self, from: data)
                    let alarm = state.alarm.flatMap { DeviceReports.alarms.contains($0) ? $0 : nil }
                    try await reports.report(companyId: company, deviceId: device, position: state.valve, alarm: alarm)
                }
            } catch {
                logger.notice("MQTT device report refused", metadata: ["topic": "\(message.topic)", "error": "\(error)"])
            }
        }
    }
}

/// Group commit for acks: while one batch commits, acks queue and form the next, so a burst of answers costs one fsync,
/// and a single ack commits at once. Each ack is answered after its commit; a refused one (unknown, expired) does not
/// hold up its neighbours (the refusal is decided before anything is written).
actor AckWriter {
    struct Ack: Sendable {
        var companyId: String
        var deviceId: String
        var commandId: String
        var status: CommandLifecycle.AckStatus
        var error: String?
    }

    private let database: Database
    private let dispatcher: CommandDispatcher
    private let effects: any DeviceEffects
    private let clock: any WallClock
    private var queue: [(Ack, CheckedContinuation<Result<DeviceCommand, DeviceError>, any Error>)] = []
    private var draining = false

    init(database: Database, dispatcher: CommandDispatcher, effects: any DeviceEffects, clock: any WallClock) {
        self.database = database
        self.dispatcher = dispatcher
        self.effects = effects
        self.clock = clock
    }

    func submit(_ ack: Ack) async throws -> Result<DeviceCommand, DeviceError> {
        try await withCheckedThrowingContinuation { continuation in
            queue.append((ack, continuation))
            if !draining {
                draining = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !queue.isEmpty {
            let batch = Array(queue.prefix(500))
            queue.removeFirst(batch.count)
            do {
                let results = try await apply(batch.map(\.0))
                await dispatcher.completed(
                    results.compactMap { result in
                        if case .success(let command) = result, command.state == .succeeded || command.state == .failed { command.id } else { nil }
                    })
                for ((_, continuation), result) in zip(batch, results) { continuation.resume(returning: result) }
            } catch {
                // A failure of the transaction itself: each ack alone, so one cannot fail the others.
                for (ack, continuation) in batch {
                    do {
                        let result = try await apply([ack])[0]
                        if case .success(let command) = result, command.state == .succeeded || command.state == .failed {
                            await dispatcher.completed([command.id])
                        }
                        continuation.resume(returning: result)
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
            }
            await dispatcher.wake()
        }
        draining = false
    }

    private func apply(_ acks: [Ack]) async throws -> [Result<DeviceCommand, DeviceError>] {
        let now = clock.now()
        let engine = database.engine
        let effects = effects
        return try await database.transaction { db in
            var results: [Result<DeviceCommand, DeviceError>] = []
            for ack in acks {
                // A savepoint per ack: a refusal undoes exactly that ack's writes, if it made any.
                try await db.raw("SAVEPOINT ack").run()
                do {
                    results.append(.success(try await DeviceReports.acknowledge(ack, effects: effects, db: db, engine: engine, now: now)))
                    try await db.raw("RELEASE SAVEPOINT ack").run()
                } catch let refused as DeviceError {
                    try await db.raw("ROLLBACK TO SAVEPOINT ack").run()
                    try await db.raw("RELEASE SAVEPOINT ack").run()
                    results.append(.failure(refused))
                }
            }
            return results
        }
    }
}
