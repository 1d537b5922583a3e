import CourtyardDevices
import CourtyardDomain
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import SQLKit
import Synchronization
import Testing

/// Acks go through the devices module alone: the queue records each answer, and a command's purpose (the effects the
/// composition root gives) hears of its final answer exactly once, inside the ack's transaction.
@Suite struct DeviceReportsTests {
    static let company = "01d00000-0000-7000-8000-000000000001"
    static let community = "01d00000-0000-7000-8000-000000000002"
    static let device = "01d00000-0000-7000-8000-000000000003"
    static let now = Date(timeIntervalSince1970: 1_795_000_000)

    /// Effects that record what they were told, and refuse the answers of commands whose reason is `refuse`.
    final class Recording: DeviceEffects {
        let completions = Mutex<[(String, CommandLifecycle.AckStatus)]>([])
        let reports = Mutex<[(String, SupplyPosition?, String?)]>([])

        func completed(
            _ command: DeviceCommand, status: CommandLifecycle.AckStatus, error: String?, db: any SQLDatabase,
            engine: Database.Engine, now: Date
        ) async throws {
            if command.reason == "refuse" { throw DeviceError(.conflict, code: "refused_by_purpose", field: "command_id", "no") }
            completions.withLock { $0.append((command.id, status)) }
        }

        func reported(
            companyId: String, deviceId: String, position: SupplyPosition?, alarm: String?, db: any SQLDatabase,
            engine: Database.Engine, now: Date
        ) async throws {
            reports.withLock { $0.append((deviceId, position, alarm)) }
        }

        func sweep(_ db: any SQLDatabase, engine: Database.Engine, now: Date) async throws {}
    }

    static func seed(_ database: Database) async throws {
        try await database.transaction { db in
            try await AccountStore(db).insert(Company(id: company, code: "dev", name: "Devices", currency: .cny, createdAt: now, updatedAt: now))
            let store = ScopedStore(db, scope: TenantScope(companyId: company))
            try await store.insert(
                Community(
                    id: community, companyId: company, code: "D", name: "D", timeZone: "Asia/Shanghai", currency: .cny,
                    address: nil, createdAt: now, updatedAt: now))
            try await store.insert(
                Device(
                    id: device, companyId: company, communityId: community, deviceKey: "valve-1", kind: .waterMeter,
                    protocol: .mqtt, model: nil, address: nil, status: .active, registerModulus: nil, createdAt: now, updatedAt: now))
        }
    }

    /// The devices module's answers over `database`, with `effects` as the commands' purpose.
    static func reports(_ database: Database, _ effects: Recording) -> DeviceReports {
        DeviceReports(database: database, dispatcher: CommandDispatcher(database: database), effects: effects, clock: ManualClock(now))
    }

    static func queue(_ database: Database, _ action: SupplyPosition, reason: String) async throws -> String {
        try await database.transaction { db in
            let queue = CommandQueue(db, companyId: company)
            let id = try await queue.enqueue(
                communityId: community, deviceId: device, action: action, reason: reason, transport: "mqtt",
                maxAttempts: 3, expirySeconds: 3_600, now: now)
            let command = try #require(try await queue.command(deviceId: device, id: id))
            try await queue.markSent(command, attempts: 1, at: now.epochMilliseconds)
            return id
        }
    }

    @Test("the effects hear of a final answer once: not of a delivery, not of a duplicate", arguments: TestEngine.available)
    func finalAnswerOnce(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            try await Self.seed(database)
            let effects = Recording()
            let reports = Self.reports(database, effects)
            let id = try await Self.queue(database, .closed, reason: "balance")
            let delivered = try await reports.acknowledge(
                companyId: Self.company, deviceId: Self.device, commandId: id, status: .delivered, error: nil)
            #expect(delivered.state == .delivered)
            #expect(effects.completions.withLock { $0.isEmpty })
            let succeeded = try await reports.acknowledge(
                companyId: Self.company, deviceId: Self.device, commandId: id, status: .succeeded, error: nil)
            #expect(succeeded.state == .succeeded)
            let again = try await reports.acknowledge(companyId: Self.company, deviceId: Self.device, commandId: id, status: .succeeded, error: nil)
            #expect(again.state == .succeeded)
            #expect(effects.completions.withLock { $0.map(\.0) } == [id])
            #expect(effects.completions.withLock { $0.map(\.1) } == [.succeeded])
        }
    }

    @Test(
        "an unknown command, another company's device, and an answer its purpose refuses are refused and change nothing",
        arguments: TestEngine.available)
    func refusals(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            try await Self.seed(database)
            let effects = Recording()
            let reports = Self.reports(database, effects)
            let id = try await Self.queue(database, .open, reason: "refuse")
            await #expect(throws: DeviceError.self) {
                try await reports.acknowledge(
                    companyId: Self.company, deviceId: Self.device, commandId: "no-such-command", status: .succeeded, error: nil)
            }
            await #expect(throws: DeviceError.self) {
                try await reports.acknowledge(
                    companyId: "01d00000-0000-7000-8000-00000000ffff", deviceId: Self.device, commandId: id,
                    status: .succeeded, error: nil)
            }
            do {
                _ = try await reports.acknowledge(companyId: Self.company, deviceId: Self.device, commandId: id, status: .succeeded, error: nil)
                Issue.record("the purpose's refusal was not passed on")
            } catch let refused as DeviceError {
                #expect(refused.code == "refused_by_purpose")
            }
            // The refusal undid the queue's own write: the command is still waiting for its answer.
            let command = try await database.read { db in try await CommandQueue(db, companyId: Self.company).command(deviceId: Self.device, id: id) }
            #expect(command?.state == .sent)
            #expect(effects.completions.withLock { $0.isEmpty })
        }
    }

    @Test("a state report reaches the effects with its position and alarm", arguments: TestEngine.available)
    func stateReport(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            try await Self.seed(database)
            let effects = Recording()
            let reports = Self.reports(database, effects)
            try await reports.report(companyId: Self.company, deviceId: Self.device, position: .closed, alarm: "gas_leak")
            let seen = effects.reports.withLock { $0 }
            #expect(seen.count == 1)
            #expect(seen.first?.0 == Self.device && seen.first?.1 == .closed && seen.first?.2 == "gas_leak")
        }
    }
}
