import CourtyardDomain
import CourtyardMQTT
import CourtyardStorage
import Foundation
import Logging
import SQLKit

/// How a command leaves for its device.
public protocol CommandTransport: Sendable {
    /// Hands the command to the device's channel; returns once the channel took it (an MQTT PUBACK from the broker).
    func send(_ command: DeviceCommand, to target: CommandTarget, payload: [UInt8]) async throws
    /// Whether this transport can reach `target` at all (commands for others wait in the queue).
    func accepts(_ target: CommandTarget) -> Bool
}

extension CommandTransport {
    public func accepts(_ target: CommandTarget) -> Bool { true }
}

/// Commands as MQTT messages (QoS 1) on `courtyard/{company}/{community}/devices/{device key}/commands`; DL/T 645 and
/// CJ/T 188 meters get the frame inside the JSON, for their gateway to forward.
public struct MQTTCommandTransport: CommandTransport {
    let client: MQTTClient
    public init(client: MQTTClient) { self.client = client }
    public func send(_ command: DeviceCommand, to target: CommandTarget, payload: [UInt8]) async throws {
        try await client.publish(topic: target.commandTopic, payload: payload, qos: 1)
    }
}

/// A transport that calls a closure: the in-process device fleet of tests and benchmarks, or a custom gateway.
public struct CallbackTransport: CommandTransport {
    let body: @Sendable (DeviceCommand, CommandTarget, [UInt8]) async throws -> Void
    public init(_ body: @escaping @Sendable (DeviceCommand, CommandTarget, [UInt8]) async throws -> Void) { self.body = body }
    public func send(_ command: DeviceCommand, to target: CommandTarget, payload: [UInt8]) async throws {
        try await body(command, target, payload)
    }
}

/// Drives queued commands to devices: sends what is ready the moment a transaction queues it (``wake()``), one
/// command in flight per device; sends again when an ack is overdue (10 s doubling), fails a command after its
/// attempts and alerts staff, expires what waited too long, and carries out deferred cut-offs and expired overrides.
///
/// A command is marked SENT after its transport took it, so no write delays a command; a crash in between sends it
/// again after restart, which a device tolerates because commands name an absolute position and carry their id. The
/// write that marks it SENT also supersedes the commands queued before it (``CommandLifecycle``), so a newer desire
/// never has to know what is leaving at that moment.
public actor CommandDispatcher {
    private let database: Database
    private let clock: any WallClock
    private var transport: (any CommandTransport)?
    /// What the periodic sweep also decides (prepaid: deferred cut-offs and expired overrides).
    private let effects: (any DeviceEffects)?
    private let logger: Logger
    private var running = false
    private var again = false
    private var sweepDue = false
    /// Called with each command just handed to its transport and the instant it left (benchmarks, metrics).
    private var observer: (@Sendable (DeviceCommand, ContinuousClock.Instant) -> Void)?
    /// Commands sent, for tests and metrics.
    public private(set) var sent = 0
    /// Commands handed to their transport whose SENT state is still being written, and their devices: the next pass
    /// must not send them (or anything else to those devices) again. Writing SENT does not hold up the next pass.
    private var marking: Set<String> = []
    private var markingDevices: Set<String> = []
    /// Device of each command being marked, so an ack that lands first frees its device at once.
    private var markingDevice: [String: String] = [:]
    /// Commands acked before their send finished registering (a quick device); bounded, oldest dropped.
    private var completedEarly: Set<String> = []
    private var markingTasks = 0

    public init(
        database: Database, clock: any WallClock = SystemClock(), transport: (any CommandTransport)? = nil,
        effects: (any DeviceEffects)? = nil, logger: Logger = Logger(label: "courtyard.commands")
    ) {
        self.database = database
        self.clock = clock
        self.transport = transport
        self.effects = effects
        self.logger = logger
    }

    /// Commands whose final ack committed: their devices may get their next command even if SENT is still being written.
    public func completed(_ ids: [String]) {
        var freed = false
        for id in ids {
            if let device = markingDevice[id] {
                markingDevices.remove(device)
                freed = true
            } else {
                if completedEarly.count > 10_000 { completedEarly.removeAll() }
                completedEarly.insert(id)
            }
        }
        if freed { wake() }
    }

    /// Sets (or replaces) the transport, e.g. once the MQTT client exists.
    public func use(_ transport: any CommandTransport) {
        self.transport = transport
        wake()
    }

    public func observe(_ observer: @escaping @Sendable (DeviceCommand, ContinuousClock.Instant) -> Void) {
        self.observer = observer
    }

    /// Asks for a pass soon: passes never overlap; a wake during a pass makes one more.
    public func wake() {
        if running {
            again = true
            return
        }
        running = true
        Task { await self.loop() }
    }

    /// Asks for the periodic work (overdue acks, expiry, deferred cut-offs, expired overrides) in the next pass.
    public func sweep() {
        sweepDue = true
        wake()
    }

    /// Runs passes until nothing is asked; for tests, waits until the dispatcher is idle.
    public func settle() async {
        while running || markingTasks > 0 { try? await Task.sleep(for: .milliseconds(2)) }
    }

    private func loop() async {
        repeat {
            again = false
            if sweepDue {
                sweepDue = false
                do { try await sweepNow() } catch { logger.warning("command sweep failed", metadata: ["error": "\(error)"]) }
            }
            do { try await pass() } catch { logger.warning("command pass failed", metadata: ["error": "\(String(reflecting: error))"]) }
        } while again
        running = false
    }

    private func pass() async throws {
        guard let transport else { return }
        let now = clock.now()
        // What is being marked when the read starts stays excluded even if its marking ends while the read runs: the
        // actor takes `marked` and `completed` during the await, and the read may have seen the database from before
        // that SENT or ack committed, showing the command still queued. Filtering with only the sets after the read sent
        // such a command a second time. The marking's end wakes another pass, whose read sees what was committed.
        let (markingBefore, devicesBefore) = (marking, markingDevices)
        let ready = try await database.read { db in try await CommandQueue.ready(db, now: now.epochMilliseconds, limit: 500) }
            .filter { command in
                !markingBefore.contains(command.id) && !marking.contains(command.id)
                    && !devicesBefore.contains(command.deviceId) && !markingDevices.contains(command.deviceId)
            }
        guard !ready.isEmpty else { return }
        try await send(ready, via: transport, now: now)
    }

    private func send(_ commands: [DeviceCommand], via transport: any CommandTransport, now: Date) async throws {
        // One per device, even if two are due (the queue supersedes, but a reconcile may race a new desire).
        var seen: Set<String> = []
        let candidates = commands.filter { seen.insert($0.deviceId).inserted }
        let all = try await database.read { db in try await CommandTarget.load(db, deviceIds: candidates.map(\.deviceId)) }
        let targets = all.filter { transport.accepts($0.value) }
        let unique = candidates.filter { targets[$0.deviceId] != nil }
        let observer = observer
        let logger = logger
        let done = try await withThrowingTaskGroup(of: DeviceCommand?.self) { group in
            for var command in unique {
                guard let target = targets[command.deviceId] else { continue }
                command.attempts += 1
                let payload = CommandPayload.json(command, device: target, now: now)
                group.addTask {
                    do {
                        try await transport.send(command, to: target, payload: payload)
                        observer?(command, .now)
                        return command
                    } catch {
                        logger.warning("command not sent", metadata: ["command": "\(command.id)", "error": "\(error)"])
                        return nil
                    }
                }
            }
            var done: [DeviceCommand] = []
            for try await result in group { if let result { done.append(result) } }
            return done
        }
        guard !done.isEmpty else { return }
        sent += done.count
        let at = now.epochMilliseconds
        let ids = done.map(\.id)
        let devices = unique.filter { command in ids.contains(command.id) }.map(\.deviceId)
        marking.formUnion(ids)
        for command in unique where ids.contains(command.id) {
            if completedEarly.remove(command.id) != nil { continue }
            markingDevice[command.id] = command.deviceId
            markingDevices.insert(command.deviceId)
        }
        markingTasks += 1
        let database = database
        Task {
            do {
                // Deferred: a mark lost with the power is a command sent again, and devices take a command id once.
                try await database.transaction(durability: .deferred) { db in
                    for command in done {
                        try await CommandQueue(db, companyId: command.companyId).markSent(command, attempts: command.attempts, at: at)
                    }
                }
            } catch {
                logger.warning("commands sent but not marked; they will be sent again", metadata: ["error": "\(error)"])
            }
            self.marked(ids, devices: devices)
        }
    }

    private func marked(_ ids: [String], devices: [String]) {
        marking.subtract(ids)
        for id in ids { if let device = markingDevice.removeValue(forKey: id) { markingDevices.remove(device) } }
        markingTasks -= 1
        wake()
    }

    private func sweepNow() async throws {
        let now = clock.now()
        let millis = now.epochMilliseconds
        let backlog = try await database.read { db in try await CommandQueue.backlog(db) }
        Instruments.commandQueue(depth: backlog.commands, oldestSeconds: backlog.oldestCreatedAt.map { max(0, (millis - $0) / 1_000) } ?? 0)
        // Expired commands, and acks overdue past the last attempt: staff hear of both.
        let effects = effects
        let engine = database.engine
        let retry = try await database.transaction { db -> [DeviceCommand] in
            for command in try await CommandQueue.expireDue(db, now: millis) {
                try await Outbox.record(
                    db, companyId: command.companyId, communityId: command.communityId, houseId: nil, deviceId: command.deviceId,
                    kind: "command_expired", audience: "staff", dedupKey: "command_expired:\(command.id)",
                    payload: ["command_id": command.id, "action": DeviceCommand.actionText(command.action)], now: now)
            }
            var retry: [DeviceCommand] = []
            for command in try await CommandQueue.overdue(db, now: millis, limit: 500) {
                switch CommandLifecycle.overdue(attempts: command.attempts, maxAttempts: command.maxAttempts) {
                case .fail:
                    try await CommandQueue(db, companyId: command.companyId).fail(command, reason: "no ack after the last attempt", at: millis)
                    try await Outbox.record(
                        db, companyId: command.companyId, communityId: command.communityId, houseId: nil, deviceId: command.deviceId,
                        kind: "command_failed", audience: "staff", dedupKey: "command_failed:\(command.id)",
                        payload: [
                            "command_id": command.id, "action": DeviceCommand.actionText(command.action),
                            "error": "no ack after \(command.attempts) attempts",
                        ], now: now)
                case .sendAgain:
                    retry.append(command)
                }
            }
            // Decisions that fell due with time (deferred cut-offs, overrides that ran out) belong to the devices' purposes.
            if let effects { try await effects.sweep(db, engine: engine, now: now) }
            return retry
        }
        let due = retry.filter { !marking.contains($0.id) }
        if let transport, !due.isEmpty { try await send(due, via: transport, now: now) }
    }
}
