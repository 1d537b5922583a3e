import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Commands for devices behind an IoT platform that takes them by HTTP callback: `POST {command_url}` with the command
/// JSON, signed like the platform's own webhooks to Courtyard (`X-Courtyard-Timestamp`, `X-Courtyard-Signature:
/// sha256=HMAC(secret, timestamp + "." + body)` with the integration's current secret). Any 2xx answer means the
/// platform took it (SENT); its device's ack comes back by API or MQTT like any other.
///
/// Plain `http://` only: put a TLS-terminating proxy in front of an `https` platform (TODO: TLS through NIOSSL).
public struct HTTPCallbackTransport: CommandTransport {
    /// Why a callback did not count as SENT (the dispatcher sends it again after the ack timeout).
    public enum Failure: Error, Hashable, Sendable {
        case notConfigured
        case unsupportedURL(String)
        case refused(status: Int)
        case timedOut
    }

    let timeout: Duration

    public init(timeout: Duration = .seconds(5)) {
        self.timeout = timeout
    }

    public func accepts(_ target: CommandTarget) -> Bool { target.callbackURL != nil && target.callbackSecret != nil }

    public func send(_ command: DeviceCommand, to target: CommandTarget, payload: [UInt8]) async throws {
        guard let url = target.callbackURL, let secret = target.callbackSecret else { throw Failure.notConfigured }
        let timestamp = Int64(Date().timeIntervalSince1970)
        let signature = WebhookSignature.sign(body: payload, timestamp: timestamp, secret: secret)
        let status = try await Self.post(
            url: url, body: payload,
            headers: [
                ("X-Courtyard-Timestamp", String(timestamp)),
                ("X-Courtyard-Signature", signature),
            ], timeout: timeout)
        guard (200..<300).contains(status) else { throw Failure.refused(status: status) }
    }

    /// Whether a URL is one this transport can call.
    public static func isSupported(_ url: String) -> Bool {
        guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host, !host.isEmpty else {
            return false
        }
        return true
    }

    /// POSTs `body` as JSON and returns the response status.
    static func post(url: String, body: [UInt8], headers: [(String, String)], timeout: Duration) async throws -> Int {
        guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host else {
            throw Failure.unsupportedURL(url)
        }
        let port = components.port ?? 80
        let path =
            (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath)
            + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        return try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connectTimeout(.seconds(Int64(timeout.components.seconds)))
                    .connect(host: host, port: port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHTTPClientHandlers()
                            return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                        }
                    }
                return try await channel.executeThenClose { inbound, outbound in
                    var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path)
                    head.headers.add(name: "Host", value: port == 80 ? host : "\(host):\(port)")
                    head.headers.add(name: "Content-Type", value: "application/json")
                    head.headers.add(name: "Content-Length", value: String(body.count))
                    head.headers.add(name: "Connection", value: "close")
                    for (name, value) in headers { head.headers.add(name: name, value: value) }
                    try await outbound.write(.head(head))
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                    try await outbound.write(.end(nil))
                    var status = 0
                    for try await part in inbound {
                        if case .head(let response) = part { status = Int(response.status.code) }
                        if case .end = part { break }
                    }
                    return status
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw Failure.timedOut
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}

/// The server's transport: devices whose plan names an integration with a `command_url` get an HTTP callback; the others
/// go by `fallback` (MQTT, when the server has a broker); without one they wait in the queue.
public struct RoutingTransport: CommandTransport {
    let callback: HTTPCallbackTransport
    let fallback: (any CommandTransport)?

    public init(fallback: (any CommandTransport)?, callback: HTTPCallbackTransport = HTTPCallbackTransport()) {
        self.fallback = fallback
        self.callback = callback
    }

    public func accepts(_ target: CommandTarget) -> Bool { callback.accepts(target) || (fallback?.accepts(target) ?? false) }

    public func send(_ command: DeviceCommand, to target: CommandTarget, payload: [UInt8]) async throws {
        if callback.accepts(target) { return try await callback.send(command, to: target, payload: payload) }
        guard let fallback else { throw HTTPCallbackTransport.Failure.notConfigured }
        try await fallback.send(command, to: target, payload: payload)
    }
}
