import Logging
import NIOCore
import NIOPosix

/// Frames MQTT packets on a NIO channel.
struct MQTTPacketDecoder: ByteToMessageDecoder {
    typealias InboundOut = MQTTPacket
    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let packet = try MQTTPacket.read(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(packet))
        return .continue
    }
}

struct MQTTPacketEncoder: MessageToByteEncoder {
    typealias OutboundIn = MQTTPacket
    func encode(data: MQTTPacket, out: inout ByteBuffer) throws { data.write(to: &out) }
}

/// A small MQTT 3.1.1 client on SwiftNIO: one persistent session, QoS 0/1 subscribe and publish, keep-alive pings,
/// reconnect with exponential backoff.
///
/// Subscribed messages are handed to the handler in batches (everything that arrived while the previous batch was
/// handled); a QoS 1 message is acknowledged only after the handler returns, so a message whose effect did not commit
/// is delivered again by the broker. With `cleanSession: false` the broker also keeps QoS 1 messages while the
/// client is away.
public actor MQTTClient {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var clientId: String
        public var cleanSession: Bool
        public var keepAliveSeconds: UInt16
        public var username: String?
        public var password: String?
        public var subscriptions: [MQTTTopicFilter]
        public var minimumBackoffMilliseconds: Int64
        public var maximumBackoffMilliseconds: Int64

        public init(
            host: String, port: Int = 1883, clientId: String, cleanSession: Bool = false, keepAliveSeconds: UInt16 = 30,
            username: String? = nil, password: String? = nil, subscriptions: [MQTTTopicFilter] = [],
            minimumBackoffMilliseconds: Int64 = 250, maximumBackoffMilliseconds: Int64 = 30_000
        ) {
            self.host = host
            self.port = port
            self.clientId = clientId
            self.cleanSession = cleanSession
            self.keepAliveSeconds = keepAliveSeconds
            self.username = username
            self.password = password
            self.subscriptions = subscriptions
            self.minimumBackoffMilliseconds = minimumBackoffMilliseconds
            self.maximumBackoffMilliseconds = maximumBackoffMilliseconds
        }

        /// Reads `mqtt://[user[:password]@]host[:port]`.
        public init?(url: String, clientId: String, subscriptions: [MQTTTopicFilter] = []) {
            guard url.hasPrefix("mqtt://") else { return nil }
            var rest = Substring(url.dropFirst(7))
            if rest.hasSuffix("/") { rest = rest.dropLast() }
            var username: String?, password: String?
            if let at = rest.lastIndex(of: "@") {
                let credentials = rest[..<at]
                rest = rest[rest.index(after: at)...]
                let parts = credentials.split(separator: ":", maxSplits: 1)
                username = parts.first.map(String.init)
                password = parts.count > 1 ? String(parts[1]) : nil
            }
            let hostPort = rest.split(separator: ":")
            guard let host = hostPort.first, !host.isEmpty else { return nil }
            let port = hostPort.count > 1 ? Int(hostPort[1]) : 1883
            guard let port else { return nil }
            self.init(host: String(host), port: port, clientId: clientId, username: username, password: password, subscriptions: subscriptions)
        }
    }

    /// Why a publish or a connection failed.
    public enum Failure: Error, Hashable, Sendable {
        case notConnected
        case refused(returnCode: UInt8)
        case subscriptionRefused(String)
        case protocolViolation(String)
        case closed
    }

    public typealias Handler = @Sendable ([MQTTPacket.Publish]) async throws -> Void

    private let configuration: Configuration
    private let group: any EventLoopGroup
    private let logger: Logger
    private var outbound: NIOAsyncChannelOutboundWriter<MQTTPacket>?
    private var pendingAcks: [UInt16: CheckedContinuation<Void, any Error>] = [:]
    private var nextPacketId: UInt16 = 0
    private var connectedWaiters: [CheckedContinuation<Void, Never>] = []
    /// Connections made so far (1 after the first CONNACK), for tests and logs.
    public private(set) var connections = 0

    public init(
        configuration: Configuration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "courtyard.mqtt")
    ) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    /// Waits until a session is up (the first CONNACK and SUBACK).
    public func waitUntilConnected() async {
        if outbound != nil { return }
        await withCheckedContinuation { connectedWaiters.append($0) }
    }

    /// Waits until a session is up, at most `timeout`; whether it is.
    public func waitUntilConnected(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while outbound == nil, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return outbound != nil
    }

    /// Connects, subscribes and serves until the task is cancelled, reconnecting with backoff after any failure.
    public func run(handler: @escaping Handler) async {
        var attempt = 0
        while !Task.isCancelled {
            do {
                try await serveOneConnection(handler: handler) { attempt = 0 }
            } catch {
                if Task.isCancelled { break }
                // Every failure is logged, loudly only at the first and then at powers of two, so an absent broker does not flood the log.
                let level: Logger.Level = attempt == 0 || attempt & (attempt - 1) == 0 ? .warning : .debug
                logger.log(
                    level: level, "MQTT connection lost",
                    metadata: [
                        "error": "\(error)", "attempt": "\(attempt + 1)",
                        "broker": "\(configuration.host):\(configuration.port)",
                    ])
            }
            disconnected()
            if Task.isCancelled { break }
            let ceiling = min(configuration.maximumBackoffMilliseconds, configuration.minimumBackoffMilliseconds << min(attempt, 16))
            let delay = Int64.random(in: (ceiling / 2)...max(ceiling / 2, ceiling))
            attempt += 1
            try? await Task.sleep(for: .milliseconds(delay))
        }
        disconnected()
    }

    private func disconnected() {
        outbound = nil
        let waiting = pendingAcks
        pendingAcks = [:]
        for continuation in waiting.values { continuation.resume(throwing: Failure.closed) }
    }

    private func packetId() -> UInt16 {
        nextPacketId = nextPacketId == .max ? 1 : nextPacketId + 1
        return nextPacketId
    }

    private func serveOneConnection(handler: @escaping Handler, onConnected: () -> Void) async throws {
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .connect(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(MQTTPacketDecoder()),
                        MessageToByteHandler(MQTTPacketEncoder()),
                    ])
                    return try NIOAsyncChannel<MQTTPacket, MQTTPacket>(wrappingChannelSynchronously: channel)
                }
            }
        try await channel.executeThenClose { inbound, outbound in
            var packets = inbound.makeAsyncIterator()
            try await outbound.write(
                .connect(
                    .init(
                        clientId: configuration.clientId, cleanSession: configuration.cleanSession,
                        keepAliveSeconds: configuration.keepAliveSeconds, username: configuration.username,
                        password: configuration.password)))
            guard case .connack(_, let code)? = try await packets.next() else { throw Failure.protocolViolation("expected CONNACK") }
            guard code == 0 else { throw Failure.refused(returnCode: code) }
            if !configuration.subscriptions.isEmpty {
                let id = packetId()
                try await outbound.write(.subscribe(packetId: id, filters: configuration.subscriptions))
                // Messages kept for this session may arrive before the SUBACK: hold them until it is read.
                var early: [MQTTPacket.Publish] = []
                while true {
                    guard let packet = try await packets.next() else { throw Failure.closed }
                    if case .suback(id, let codes) = packet {
                        if let refused = zip(configuration.subscriptions, codes).first(where: { $0.1 == 0x80 }) {
                            throw Failure.subscriptionRefused(refused.0.filter)
                        }
                        break
                    }
                    if case .publish(let message) = packet { early.append(message) }
                }
                if !early.isEmpty { try await deliver(early, handler: handler, outbound: outbound) }
            }
            self.outbound = outbound
            connections += 1
            onConnected()
            let waiters = connectedWaiters
            connectedWaiters = []
            for waiter in waiters { waiter.resume() }
            logger.info(
                "MQTT connected", metadata: ["broker": "\(configuration.host):\(configuration.port)", "client_id": "\(configuration.clientId)"])

            let inbox = Inbox()
            // Keep-alive: a PINGREQ at half the interval; the broker drops us after 1.5 intervals of silence.
            let interval = max(1, Int(configuration.keepAliveSeconds) / 2)
            let pinger = Task {
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(interval))
                    try await outbound.write(.pingreq)
                }
            }
            let raw = channel.channel
            let consumer = Task {
                do {
                    while let batch = await inbox.take() {
                        try await self.deliver(batch, handler: handler, outbound: outbound)
                    }
                } catch {
                    // Unacknowledged messages come again once the connection is new: drop this one.
                    raw.close(promise: nil)
                }
            }
            defer {
                pinger.cancel()
                consumer.cancel()
            }
            do {
                while let packet = try await packets.next() {
                    switch packet {
                    case .publish(let message): await inbox.append(message)
                    case .puback(let id): acknowledged(id)
                    case .pingresp, .suback: break
                    case .pingreq: try await outbound.write(.pingresp)
                    default: throw Failure.protocolViolation("unexpected \(packet)")
                    }
                }
            } catch {
                await inbox.close()
                throw error
            }
            await inbox.close()
            throw Failure.closed
        }
    }

    private func deliver(_ batch: [MQTTPacket.Publish], handler: Handler, outbound: NIOAsyncChannelOutboundWriter<MQTTPacket>) async throws {
        try await handler(batch)
        for message in batch where message.qos > 0 {
            if let id = message.packetId { try await outbound.write(.puback(packetId: id)) }
        }
    }

    private func acknowledged(_ id: UInt16) {
        pendingAcks.removeValue(forKey: id)?.resume()
    }

    /// Publishes a message; with QoS 1, returns once the broker acknowledged it.
    public func publish(topic: String, payload: [UInt8], qos: UInt8 = 1, retain: Bool = false) async throws {
        guard let outbound else { throw Failure.notConnected }
        guard qos > 0 else {
            try await outbound.write(.publish(.init(topic: topic, payload: payload, qos: 0, retain: retain)))
            return
        }
        let id = packetId()
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            pendingAcks[id] = continuation
            Task {
                do {
                    try await outbound.write(.publish(.init(topic: topic, payload: payload, qos: 1, retain: retain, packetId: id)))
                } catch {
                    self.failed(id, error)
                }
            }
        }
    }

    private func failed(_ id: UInt16, _ error: any Error) {
        pendingAcks.removeValue(forKey: id)?.resume(throwing: error)
    }
}

/// Messages waiting for the handler: it takes everything that arrived while it was busy, as one batch.
actor Inbox {
    private var messages: [MQTTPacket.Publish] = []
    private var waiter: CheckedContinuation<[MQTTPacket.Publish]?, Never>?
    private var closed = false
    static let maximumBatch = 5_000

    func append(_ message: MQTTPacket.Publish) {
        if let waiter {
            self.waiter = nil
            waiter.resume(returning: [message])
        } else {
            messages.append(message)
        }
    }

    func take() async -> [MQTTPacket.Publish]? {
        if !messages.isEmpty {
            let count = min(messages.count, Self.maximumBatch)
            let batch = Array(messages.prefix(count))
            messages.removeFirst(count)
            return batch
        }
        if closed { return nil }
        return await withCheckedContinuation { waiter = $0 }
    }

    func close() {
        closed = true
        waiter?.resume(returning: nil)
        waiter = nil
    }
}
