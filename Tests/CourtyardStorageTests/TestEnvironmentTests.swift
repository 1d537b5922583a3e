import CourtyardTestSupport
import Foundation
import Testing

/// In CI (`CI=true`, set by `.ci/run`) the suite must run against every real component: a run that silently skipped
/// PostgreSQL or the MQTT broker because a variable was missing would pass without testing half of what it claims.
@Suite("Test environment")
struct TestEnvironmentTests {
    static var inCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    @Test("in CI, PostgreSQL is configured, so every engine-parameterized test runs on both engines")
    func postgresInCI() {
        guard Self.inCI else { return }
        #expect(TestEngine.postgresURL != nil, "CI=true but COURTYARD_TEST_POSTGRES_URL is not set: scripts/test starts PostgreSQL")
        #expect(TestEngine.available == [.sqlite, .postgres])
    }

    @Test("in CI, the MQTT broker is configured, so the MQTT tests do not skip")
    func brokerInCI() {
        guard Self.inCI else { return }
        let url = ProcessInfo.processInfo.environment["COURTYARD_TEST_MQTT_URL"] ?? ""
        #expect(!url.isEmpty, "CI=true but COURTYARD_TEST_MQTT_URL is not set: scripts/test starts Mosquitto")
    }
}
