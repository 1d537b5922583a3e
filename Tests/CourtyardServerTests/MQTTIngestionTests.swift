import CourtyardIngest
import CourtyardMQTT
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import HTTPTypes
import SQLKit
import Testing

/// Telemetry through a real Mosquitto broker (`scripts/test` starts one and sets COURTYARD_TEST_MQTT_URL).
@Suite("MQTT ingestion", .serialized)
struct MQTTIngestionTests {
    static var brokerURL: String? { ProcessInfo.processInfo.environment["COURTYARD_TEST_MQTT_URL"].flatMap { $0.isEmpty ? nil : $0 } }

    static func readings(_ api: APIFixture) async throws -> Int {
        try await IngestAPITests.count(api, "readings_all")
    }

    /// Polls until `condition` holds or 60 s pass (a bound for a loaded machine, not a timing claim).
    static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<1_200 {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    static func client(_ id: String, subscriptions: [MQTTTopicFilter] = [], clean: Bool) -> MQTTClient {
        var configuration = MQTTClient.Configuration(url: brokerURL!, clientId: id, subscriptions: subscriptions)!
        configuration.cleanSession = clean
        configuration.keepAliveSeconds = 10
        return MQTTClient(configuration: configuration)
    }

    @Test(
        "QoS 1 telemetry is stored once, survives the subscriber being away, and checks topic against registry",
        .enabled(if: brokerURL != nil), arguments: TestEngine.available)
    func telemetry(engine: TestEngine) async throws {
        let clock = ManualClock(IngestAPITests.start)
        try await APIFixture.with(engine, clock: clock) { api in
            let token = try await api.login("engineer@alpha")
            let reply = try await api.call(.get, "/api/v1/devices?kind=electricity_meter&limit=1", token: token)
            let device = try #require(reply.items.first)
            let key = device["device_key"] as! String
            let community = device["community_id"] as! String
            let company = api.alpha.companyId
            let ingestion = MQTTIngestion(ingestor: Ingestor(database: api.database, clock: clock))
            let subscriberId = "courtyard-test-\(UUID().uuidString.prefix(8))"
            let filter = MQTTTopicFilter("courtyard/\(company)/+/devices/+/telemetry", qos: 1)
            let topic = "courtyard/\(company)/\(community)/devices/\(key)/telemetry"
            func payload(_ value: String, _ at: String) -> [UInt8] {
                Array("{\"register\":\"energy_total\",\"reading\":\"\(value)\",\"measured_at\":\"\(at)\"}".utf8)
            }

            var subscriber = Self.client(subscriberId, subscriptions: [filter], clean: false)
            var running = Task { [subscriber] in await subscriber.run { batch in try await ingestion.handle(batch) } }
            try #require(await subscriber.waitUntilConnected(timeout: .seconds(10)), "no broker at \(Self.brokerURL!)")
            let publisher = Self.client("courtyard-test-pub-\(UUID().uuidString.prefix(8))", clean: true)
            let publishing = Task { await publisher.run { _ in } }
            try #require(await publisher.waitUntilConnected(timeout: .seconds(10)))

            // Sent three times: stored once.
            for _ in 0..<3 { try await publisher.publish(topic: topic, payload: payload("10", "2026-10-01T00:00:00Z")) }
            #expect(try await Self.eventually { try await Self.readings(api) == 1 })
            // A topic naming another community, or a device the payload contradicts, stores nothing.
            try await publisher.publish(
                topic: "courtyard/\(company)/not-\(community)/devices/\(key)/telemetry", payload: payload("11", "2026-10-02T00:00:00Z"))
            try await publisher.publish(
                topic: topic, payload: Array("{\"device_id\":\"other\",\"reading\":\"12\",\"measured_at\":\"2026-10-02T00:00:00Z\"}".utf8))
            try await publisher.publish(topic: topic, payload: Array("not json".utf8))

            // The subscriber goes away; the broker keeps QoS 1 messages for its session; back, it gets them.
            running.cancel()
            _ = await running.value
            try await publisher.publish(topic: topic, payload: payload("20", "2026-10-03T00:00:00Z"))
            try await publisher.publish(topic: topic, payload: payload("25.5", "2026-10-04T00:00:00Z"))
            #expect(try await Self.readings(api) == 1)
            subscriber = Self.client(subscriberId, subscriptions: [filter], clean: false)
            running = Task { [subscriber] in await subscriber.run { batch in try await ingestion.handle(batch) } }
            #expect(try await Self.eventually { try await Self.readings(api) == 3 })
            let usages = try await api.database.read { db in
                try await db.raw("SELECT usage_milli FROM readings_all WHERE usage_milli IS NOT NULL ORDER BY measured_at").all()
                    .map { try $0.decode(column: "usage_milli", as: Int64.self) }
            }
            #expect(usages == [10_000, 5_500])
            running.cancel()
            publishing.cancel()
            _ = await running.value
            _ = await publishing.value
        }
    }

    @Test("the client reconnects with backoff when the broker is not there yet", .enabled(if: brokerURL != nil))
    func reconnects() async throws {
        // A port nobody listens on: connection attempts fail and back off; cancelling ends the loop promptly.
        var configuration = MQTTClient.Configuration(host: "127.0.0.1", port: 1, clientId: "courtyard-test-nobody")
        configuration.minimumBackoffMilliseconds = 10
        configuration.maximumBackoffMilliseconds = 40
        let client = MQTTClient(configuration: configuration)
        let task = Task { await client.run { _ in } }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        _ = await task.value
        #expect(await client.connections == 0)
        await #expect(throws: MQTTClient.Failure.notConnected) { try await client.publish(topic: "a", payload: []) }
    }
}
