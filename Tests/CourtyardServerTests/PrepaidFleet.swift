import CourtyardDevices
import CourtyardLedger
import CourtyardPrepaid
import CourtyardServer
import CourtyardSimulator
import CourtyardStorage
import Foundation
import SQLKit
import Testing

/// A simulated fleet of prepaid meters with remote valves or switches: it applies the commands it receives, acks
/// them, and can misbehave the way field devices do (lose acks, ack twice, go offline, refuse).
actor PrepaidFleet {
    struct Meter {
        var position: SupplyPosition = .open
        var online = true
        var acksToLose = 0
        var duplicateAcks = false
        var refuse = false
    }

    private var meters: [String: Meter] = [:]
    /// Every command that reached the fleet (online or not), in order.
    private(set) var received: [DeviceCommand] = []
    private let ack: @Sendable (String, String, CommandLifecycle.AckStatus) async throws -> Void

    /// - Parameter ack: how the fleet answers: (device id, command id, status).
    init(ack: @escaping @Sendable (String, String, CommandLifecycle.AckStatus) async throws -> Void) {
        self.ack = ack
    }

    /// A fleet answering through the in-process device reports of `api`.
    static func inProcess(_ api: APIFixture) async -> PrepaidFleet {
        let reports = api.services.deviceReports
        let company = api.alpha.companyId
        let fleet = PrepaidFleet { device, command, status in
            _ = try await reports.acknowledge(companyId: company, deviceId: device, commandId: command, status: status, error: nil)
        }
        await api.services.dispatcher.use(CallbackTransport { command, _, _ in await fleet.receive(command) })
        return fleet
    }

    func set(_ device: String, _ change: (inout Meter) -> Void) {
        var meter = meters[device] ?? Meter()
        change(&meter)
        meters[device] = meter
    }

    func position(_ device: String) -> SupplyPosition { meters[device]?.position ?? .open }
    func commands(_ device: String) -> [DeviceCommand] { received.filter { $0.deviceId == device } }

    /// A command arrives: an offline meter never hears it; an online one applies it and acks (unless the ack is lost).
    func receive(_ command: DeviceCommand) {
        received.append(command)
        var meter = meters[command.deviceId] ?? Meter()
        defer { meters[command.deviceId] = meter }
        guard meter.online else { return }
        if meter.refuse {
            answer(command, .failed)
            return
        }
        meter.position = command.action
        if meter.acksToLose > 0 {
            meter.acksToLose -= 1
            return
        }
        answer(command, .succeeded)
        if meter.duplicateAcks { answer(command, .succeeded) }
    }

    private func answer(_ command: DeviceCommand, _ status: CommandLifecycle.AckStatus) {
        let ack = ack
        Task { try? await ack(command.deviceId, command.id, status) }
    }
}

/// Small helpers shared by the prepaid suites.
enum Prepaid {
    /// Polls until `condition` holds or 60 s pass (a bound for a loaded machine, not a timing claim).
    static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<3_000 {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// The first meter of `kind` of alpha bound to a house: (device id, device key, house id).
    static func houseMeter(_ api: APIFixture, kind: String, skip: Int = 0) async throws -> (String, String, String) {
        try await api.database.read { db in
            let row = try await db.raw(
                """
                SELECT d.id, d.device_key, b.target_id FROM devices d JOIN device_bindings b ON b.device_id = d.id AND b.target_kind = 'house'
                WHERE d.company_id = \(bind: api.alpha.companyId) AND d.kind = \(bind: kind) ORDER BY d.device_key LIMIT 1 OFFSET \(unsafeRaw: String(skip))
                """
            ).first()!
            return (
                try row.decode(column: "id", as: String.self), try row.decode(column: "device_key", as: String.self),
                try row.decode(column: "target_id", as: String.self)
            )
        }
    }

    static func scalar(_ api: APIFixture, _ sql: String) async throws -> Int64 {
        try await api.database.read { db in
            try await db.raw(SQLQueryString(stringLiteral: "SELECT CAST(v AS BIGINT) AS v FROM (" + sql + ") q")).first()?.decode(
                column: "v", as: Int64?.self) ?? 0
        }
    }

    /// Money as the API writes it.
    static func money(_ amount: String) -> [String: Any] { ["amount": amount, "currency": "CNY"] }
    /// The amount text of an API money object.
    static func amount(_ value: Any?) -> String? { (value as? [String: Any])?["amount"] as? String }

    /// A flat 1.0000 yuan per kWh tariff, monthly accumulation.
    static var flat: [String: Any] {
        [
            "kind": "metered", "unit": "kWh", "mode": "graduated", "accumulation": "monthly",
            "tiers": [["price": "1.0000"]],
        ]
    }

    /// Every wallet, receivable and revenue balance of a company adds up: debits equal credits over the journal.
    /// …and every hash chain, balance and account id recomputes from the journal (`courtyard ledger verify`).
    static func ledgerBalances(_ api: APIFixture) async throws -> Bool {
        let debits = try await scalar(api, "SELECT SUM(debits_posted) AS v FROM ledger_balances")
        let credits = try await scalar(api, "SELECT SUM(credits_posted) AS v FROM ledger_balances")
        let report = try await LedgerAudit.verify(api.database)
        #expect(report.isValid, "\(String(describing: report.divergence))")
        return debits == credits && report.isValid && report.entries > 0
    }
}
