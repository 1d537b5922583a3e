import CourtyardMQTT
import CourtyardTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The client against a real Mosquitto that this suite starts and stops itself: a handler that fails, a broker that
/// goes away and comes back with its sessions, and one that comes back without them.
@Suite("MQTT client against a broker that goes away", .serialized)
struct BrokerRestartTests {
    /// Mosquitto's binary: `COURTYARD_TEST_MOSQUITTO`, or where Debian puts it (`scripts/test` installs it).
    static var mosquitto: String? {
        if let path = ProcessInfo.processInfo.environment["COURTYARD_TEST_MOSQUITTO"], !path.isEmpty { return path }
        return ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// One Mosquitto process on 127.0.0.1, its persistence in a directory of its own.
    final class Broker: @unchecked Sendable {  // Used from one test task at a time; `pid` is not shared.
        let port: Int
        let directory: URL
        private var pid: pid_t?

        init(port: Int) throws {
            self.port = port
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("courtyard-broker-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }

        /// Starts the broker, keeping (or, with `freshSessions`, dropping) what the last one saved, and waits until it
        /// accepts connections.
        func start(freshSessions: Bool = false) throws {
            if freshSessions { try? FileManager.default.removeItem(at: directory.appendingPathComponent("mosquitto.db")) }
            // `user root` only matters when the tests run as root: Mosquitto would otherwise switch to its own user,
            // who cannot write the persistence directory.
            let configuration = """
                listener \(port) 127.0.0.1
                allow_anonymous true
                persistence true
                persistence_location \(directory.path)/
                log_dest none
                user \(getuid() == 0 ? "root" : "mosquitto")

                """
            let file = directory.appendingPathComponent("mosquitto.conf")
            try configuration.write(to: file, atomically: true, encoding: .utf8)
            pid = try Self.spawn(BrokerRestartTests.mosquitto!, ["-c", file.path])
            for _ in 0..<200 where !Self.accepts(port: port) { usleep(25_000) }
            try #require(Self.accepts(port: port), "mosquitto did not listen on \(port)")
        }

        /// Stops the broker as an operator would (SIGTERM: it saves its sessions and queued messages) and waits for it.
        func stop() {
            guard let pid else { return }
            kill(pid, SIGTERM)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            self.pid = nil
        }

        /// Starts `path` with the signals a broker needs unblocked and at their defaults. Foundation's `Process` hands
        /// the child the test process's signal mask, in which SIGTERM is blocked: Mosquitto would never see it.
        static func spawn(_ path: String, _ arguments: [String]) throws -> pid_t {
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var unblocked = sigset_t()
            sigemptyset(&unblocked)
            posix_spawnattr_setsigmask(&attributes, &unblocked)
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
            let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
            defer { for argument in argv { free(argument) } }
            var pid = pid_t()
            let result = posix_spawn(&pid, path, nil, &attributes, argv, environ)
            try #require(result == 0, "posix_spawn \(path): \(result)")
            return pid
        }

        deinit {
            stop()
            try? FileManager.default.removeItem(at: directory)
        }

        static func accepts(port: Int) -> Bool {
            guard let fd = Loopback.connect(port: port) else { return false }
            close(fd)
            return true
        }

        /// A port nobody listens on now: the kernel's pick for a socket bound to port 0.
        static func freePort() throws -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = 0
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
                }
            }
            try #require(bound)
            return Int(UInt16(bigEndian: address.sin_port))
        }
    }

    struct HandlerFailed: Error {}

    /// Polls until `condition` holds or 60 s pass (a bound for a loaded machine, not a timing claim).
    static func eventually(_ condition: () async throws -> Bool) async rethrows -> Bool {
        for _ in 0..<1_200 {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    static func client(port: Int, id: String, subscriptions: [MQTTTopicFilter] = [], clean: Bool) -> MQTTClient {
        var configuration = MQTTClient.Configuration(host: "127.0.0.1", port: port, clientId: id, cleanSession: clean, subscriptions: subscriptions)
        configuration.keepAliveSeconds = 5
        configuration.minimumBackoffMilliseconds = 20
        configuration.maximumBackoffMilliseconds = 200
        return MQTTClient(configuration: configuration)
    }

    /// Publishes once the publisher is connected again (a publish while the broker is away is refused, not queued).
    static func publish(_ publisher: MQTTClient, _ text: String) async throws {
        let sent = await eventually {
            do {
                try await publisher.publish(topic: "courtyard/test/telemetry", payload: Array(text.utf8))
                return true
            } catch {
                return false
            }
        }
        try #require(sent, "could not publish \(text)")
    }

    @Test(
        "a message the handler failed on comes again; the client reconnects and resubscribes after the broker restarts, with or without its sessions; messages queued for it survive the restart",
        .enabled(if: mosquitto != nil))
    func brokerGoesAway() async throws {
        let broker = try Broker(port: try Broker.freePort())
        try broker.start()
        // Every delivery the handler saw, in order, and whether the poison message has failed once yet.
        let deliveries = Mutex<[String]>([])
        let poisonFailed = Mutex(false)
        let subscriberId = "courtyard-test-sub-\(UUID().uuidString.prefix(8))"
        let filter = MQTTTopicFilter("courtyard/test/#", qos: 1)
        let handler: MQTTClient.Handler = { batch in
            for message in batch {
                let text = String(decoding: message.payload, as: UTF8.self)
                deliveries.withLock { $0.append(text) }
                if text == "poison", !poisonFailed.withLock({ let failed = $0; $0 = true; return failed }) { throw HandlerFailed() }
            }
        }
        func seen(_ text: String) -> Int { deliveries.withLock { list in list.filter { $0 == text }.count } }

        var subscriber = Self.client(port: broker.port, id: subscriberId, subscriptions: [filter], clean: false)
        var subscribing = Task { [subscriber] in await subscriber.run(handler: handler) }
        try #require(await subscriber.waitUntilConnected(timeout: .seconds(10)))
        let publisher = Self.client(port: broker.port, id: "courtyard-test-pub-\(UUID().uuidString.prefix(8))", clean: true)
        let publishing = Task { await publisher.run { _ in } }
        try #require(await publisher.waitUntilConnected(timeout: .seconds(10)))

        try await Self.publish(publisher, "one")
        #expect(await Self.eventually { seen("one") == 1 })

        // The handler throws: the message is not acknowledged, the client drops the connection, and the broker hands the
        // same message over again on the next one.
        try await Self.publish(publisher, "poison")
        #expect(await Self.eventually { seen("poison") == 2 })
        #expect(await subscriber.connections == 2)

        // The broker restarts with its saved sessions: both clients come back by themselves.
        broker.stop()
        try broker.start()
        #expect(await Self.eventually { await subscriber.connections == 3 })
        try await Self.publish(publisher, "two")
        #expect(await Self.eventually { seen("two") >= 1 })

        // The subscriber goes away; a message is queued for its session; the broker restarts; the subscriber comes back
        // and is handed the message the broker kept through the restart.
        subscribing.cancel()
        _ = await subscribing.value
        try await Self.publish(publisher, "kept")
        broker.stop()
        try broker.start()
        subscriber = Self.client(port: broker.port, id: subscriberId, subscriptions: [filter], clean: false)
        subscribing = Task { [subscriber] in await subscriber.run(handler: handler) }
        #expect(await Self.eventually { seen("kept") >= 1 })

        // The broker comes back having lost every session: only the client's own SUBSCRIBE on reconnecting brings
        // messages to it again.
        broker.stop()
        try broker.start(freshSessions: true)
        #expect(await Self.eventually { await subscriber.connections == 2 })
        try await Self.publish(publisher, "three")
        #expect(await Self.eventually { seen("three") == 1 })

        // QoS 1 is at least once: a message handled just before the broker stopped may come again if its PUBACK was not
        // saved ("two", "kept"); the ingestion deduplicates by message id. In order of first delivery, nothing is lost.
        let all = deliveries.withLock { $0 }
        #expect(all.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } } == ["one", "poison", "two", "kept", "three"])
        #expect(seen("one") == 1 && seen("poison") == 2 && seen("three") == 1, "\(all)")
        #expect((1...2).contains(seen("two")) && (1...2).contains(seen("kept")), "\(all)")
        subscribing.cancel()
        publishing.cancel()
        _ = await subscribing.value
        _ = await publishing.value
        broker.stop()
    }
}
