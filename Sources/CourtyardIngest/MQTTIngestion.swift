import CourtyardMQTT
import Foundation
import Logging

/// Readings from MQTT: `courtyard/{company id}/{community id}/devices/{device id}/telemetry`, QoS 1.
///
/// The payload is the same JSON as `POST /api/v1/readings` (one object or an array), and `device_id` may be left
/// out because the topic names the device. The topic is trusted as far as the broker's ACL makes it true (each
/// device may publish only under its own topic); on top of that the device must belong to the topic's company and
/// community, and a payload may only report for the topic's device. Items that cannot be stored are logged with
/// their code (MQTT has no reply); the batch is acknowledged to the broker only after the commit.
public struct MQTTIngestion: Sendable {
    public static let topicFilter = "courtyard/+/+/devices/+/telemetry"

    public let ingestor: Ingestor
    public let logger: Logger

    public init(ingestor: Ingestor, logger: Logger = Logger(label: "courtyard.mqtt.ingest")) {
        self.ingestor = ingestor
        self.logger = logger
    }

    /// Company, community and device key of a telemetry topic.
    public static func parse(topic: String) -> (companyId: String, communityId: String, deviceKey: String)? {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard levels.count == 6, levels[0] == "courtyard", levels[3] == "devices", levels[5] == "telemetry",
            !levels[1].isEmpty, !levels[2].isEmpty, !levels[4].isEmpty
        else { return nil }
        return (String(levels[1]), String(levels[2]), String(levels[4]))
    }

    /// What became of each message's items, in order (for tests and logs).
    public struct Outcome: Sendable {
        public var topic: String
        public var results: [Ingestor.ItemResult]
        public var error: String?
    }

    /// Stores a batch of messages; returns once every reading in it is committed.
    @discardableResult
    public func handle(_ batch: [MQTTPacket.Publish]) async throws -> [Outcome] {
        try await withThrowingTaskGroup(of: (Int, Outcome).self) { tasks in
            for (index, message) in batch.enumerated() {
                tasks.addTask {
                    guard let (company, community, device) = Self.parse(topic: message.topic) else {
                        return (index, Outcome(topic: message.topic, results: [], error: "topic_invalid"))
                    }
                    let items: [Result<ReadingSubmission, ReadingError>]
                    do {
                        items = try ReadingParser.parse(Data(message.payload), defaultDevice: device)
                    } catch {
                        return (index, Outcome(topic: message.topic, results: [], error: "payload_invalid: \(error)"))
                    }
                    let results = try await ingestor.ingest(
                        companyId: company, items: items, source: "mqtt", onlyDevice: device,
                        communities: [community])
                    return (index, Outcome(topic: message.topic, results: results, error: nil))
                }
            }
            var outcomes = [Outcome?](repeating: nil, count: batch.count)
            for try await (index, outcome) in tasks { outcomes[index] = outcome }
            let done = outcomes.map { $0! }
            for outcome in done {
                if let error = outcome.error {
                    logger.warning("MQTT message refused", metadata: ["topic": "\(outcome.topic)", "code": "\(error)"])
                }
                for item in outcome.results where item.status == "rejected" || item.status == "held_for_review" {
                    logger.notice(
                        "MQTT reading not accepted",
                        metadata: [
                            "topic": "\(outcome.topic)", "status": "\(item.status)",
                            "code": "\(item.code ?? "-")",
                        ])
                }
            }
            return done
        }
    }
}
