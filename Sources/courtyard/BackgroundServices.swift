import CourtyardMQTT
import Logging
import ServiceLifecycle

/// Work the server repeats for as long as it runs (hold expiry, order expiry, presence, device-command sweeps), as a
/// service of the server's service group.
///
/// A round that has started always finishes: graceful shutdown (SIGTERM, SIGINT) only cuts the wait between rounds
/// short, so no sweep stops halfway through its transaction. The group shuts the HTTP server down first (it stops
/// accepting and finishes the requests in flight, whose writes commit before they are answered), then these.
/// Work that must finish after everything feeding it has stopped: waits for the graceful shutdown, then runs `finish`
/// (a writer drains its queue, the dispatcher settles). Placed first in the group, it is told last, after the HTTP
/// server, MQTT and the sweeps have returned, so nothing submits any more while it finishes.
struct FinishOnShutdown: Service {
    let name: String
    let logger: Logger
    let finish: @Sendable () async -> Void

    init(_ name: String, logger: Logger, _ finish: @escaping @Sendable () async -> Void) {
        self.name = name
        self.logger = logger
        self.finish = finish
    }

    func run() async throws {
        // Returns when the group shuts down gracefully; on cancellation it throws, and the work still finishes.
        try? await gracefulShutdown()
        await finish()
        logger.debug("\(name) finished")
    }
}

struct PeriodicService: Service {
    let name: String
    let interval: Duration
    let logger: Logger
    /// One round; `round` counts from 0 (a service that does something every N rounds uses it).
    let body: @Sendable (_ round: Int) async throws -> Void

    init(_ name: String, every interval: Duration, logger: Logger, _ body: @escaping @Sendable (_ round: Int) async throws -> Void) {
        self.name = name
        self.interval = interval
        self.logger = logger
        self.body = body
    }

    func run() async throws {
        var round = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await body(round)
            } catch {
                logger.error("\(name) failed", metadata: ["error": "\(error)"])
            }
            round += 1
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                break
            }
        }
        logger.debug("\(name) stopped")
    }
}

/// The MQTT client (telemetry, command acks, valve states in; commands out) as a service: on graceful shutdown it stops
/// and disconnects. What it had received but not yet acknowledged stays with the broker (a persistent session, QoS 1)
/// and is delivered again on the next start.
struct MQTTService: Service {
    let client: MQTTClient
    let handler: MQTTClient.Handler

    func run() async throws {
        await cancelWhenGracefulShutdown { await client.run(handler: handler) }
    }
}
