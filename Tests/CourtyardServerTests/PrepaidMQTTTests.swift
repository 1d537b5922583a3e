import CourtyardDevices
import CourtyardMQTT
import CourtyardPrepaid
import CourtyardServer
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import HTTPTypes
import SQLKit
import Testing

/// Commands and acks through a real Mosquitto broker: the server publishes cut-off and restore on
/// `…/devices/{key}/commands`, a simulated meter on its own MQTT connection applies them and answers on `…/acks`
/// (twice, as QoS 1 redelivery may) and reports its valve on `…/state`.
@Suite("Prepaid over MQTT", .serialized)
struct PrepaidMQTTTests {
    typealias T = PrepaidAPITests

    /// What the simulated meter saw.
    actor Meter {
        var commands: [[String: String]] = []
        var position = "open"
        func take(_ command: [String: String]) {
            commands.append(command)
            position = command["action"] == "open" ? "open" : "closed"
        }
    }

    @Test(
        "cut-off and restore travel over MQTT with the DL/T 645 frame; acks and states come back over MQTT",
        .enabled(if: MQTTIngestionTests.brokerURL != nil), arguments: TestEngine.available)
    func commandsOverMQTT(engine: TestEngine) async throws {
        try await APIFixture.with(engine, clock: ManualClock(T.start)) { api in
            let finance = try await api.login("finance@alpha")
            let engineer = try await api.login("engineer@alpha")
            let (device, key, house) = try await Prepaid.houseMeter(api, kind: "electricity_meter")
            let community = try await api.database.read { db in
                try await db.raw("SELECT community_id FROM devices WHERE id = \(bind: device)").first()!.decode(
                    column: "community_id", as: String.self)
            }
            let company = api.alpha.companyId
            let plan = try await api.call(
                .post, "/api/v1/prepaid-plans", token: finance,
                json: [
                    "house_id": house, "device_id": device, "wallets": [["purpose": "electricity"]], "tariff": Prepaid.flat,
                ])
            #expect(plan.status == .created, "\(plan.text)")

            // The server's side: commands out, acks and states in.
            let suffix = UUID().uuidString.prefix(8)
            let server = MQTTIngestionTests.client(
                "courtyard-server-\(suffix)",
                subscriptions: [
                    MQTTTopicFilter("courtyard/\(company)/+/devices/+/acks", qos: 1),
                    MQTTTopicFilter("courtyard/\(company)/+/devices/+/state", qos: 1),
                ], clean: true)
            let handler = DeviceMQTT(reports: api.services.deviceReports)
            let serving = Task { await server.run { batch in await handler.handle(batch) } }
            try #require(await server.waitUntilConnected(timeout: .seconds(10)))
            await api.services.dispatcher.use(MQTTCommandTransport(client: server))

            // The meter's side.
            let meter = Meter()
            let base = "courtyard/\(company)/\(community)/devices/\(key)"
            let field = MQTTIngestionTests.client("meter-\(suffix)", subscriptions: [MQTTTopicFilter(base + "/commands", qos: 1)], clean: true)
            let fieldRun = Task {
                await field.run { batch in
                    for message in batch {
                        let command = try JSONDecoder().decode([String: String].self, from: Data(message.payload))
                        await meter.take(command)
                        let ack = Array("{\"command_id\":\"\(command["command_id"]!)\",\"status\":\"succeeded\"}".utf8)
                        try await field.publish(topic: base + "/acks", payload: ack)
                        try await field.publish(topic: base + "/acks", payload: ack)
                        let valve = command["action"] == "open" ? "open" : "closed"
                        try await field.publish(topic: base + "/state", payload: Array("{\"valve\":\"\(valve)\"}".utf8))
                    }
                }
            }
            try #require(await field.waitUntilConnected(timeout: .seconds(10)))
            defer { serving.cancel(); fieldRun.cancel() }

            let s = T.Setup(
                finance: finance, engineer: engineer, device: device, key: key, house: house, plan: plan.object["id"] as! String,
                fleet: PrepaidFleet { _, _, _ in })
            _ = try await T.topUp(api, s, "1.00")
            let reply = try await api.call(
                .post, "/api/v1/readings", token: engineer,
                json: [
                    T.reading(key, "10", T.start.addingTimeInterval(-7200)), T.reading(key, "12", T.start.addingTimeInterval(-3600)),
                ])
            #expect(reply.items.count == 2)
            #expect(try await Prepaid.eventually { await meter.position == "closed" })
            let close = try #require(await meter.commands.first)
            #expect(close["action"] == "close")
            // A DL/T 645 remote-control frame (control 1C) for the meter's address, for a gateway to forward.
            #expect(close["frame"]?.hasPrefix("FE FE FE FE 68") == true, "\(close)")
            #expect(close["frame"]?.contains(" 1C ") == true, "\(close)")
            #expect(try await Prepaid.eventually { (try await T.supply(api, s))["reported"] as? String == "closed" })

            _ = try await T.topUp(api, s, "20.00")
            #expect(try await Prepaid.eventually { await meter.position == "open" })
            #expect(try await Prepaid.eventually { (try await T.supply(api, s))["reported"] as? String == "open" })
            let commands = try await api.call(.get, "/api/v1/devices/\(device)/commands", token: engineer)
            #expect(commands.items.map { $0["state"] as? String } == ["succeeded", "succeeded"], "\(commands.text)")
            #expect(await meter.commands.count == 2)
        }
    }
}
