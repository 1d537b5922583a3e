import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// The limits that keep slow or idle clients from holding the server's connections (a "slowloris" held 50 connections
/// open indefinitely before these existed). Each is configurable (`courtyard serve --help`); docs/API.md lists them.
public struct ConnectionLimits: Sendable, Hashable {
    /// From a connection's opening (or the end of its previous response) to a complete request head.
    public var headerReadSeconds: Int64
    /// From a request's head to the end of its body.
    public var bodyReadSeconds: Int64
    /// A kept-alive connection with no request in flight and nothing read or written closes after this long.
    public var idleSeconds: Int64
    /// Connections accepted at once; further clients wait in the listen backlog until one closes.
    public var maxConnections: Int

    public init(headerReadSeconds: Int64 = 10, bodyReadSeconds: Int64 = 60, idleSeconds: Int64 = 75, maxConnections: Int = 1_024) {
        self.headerReadSeconds = max(1, headerReadSeconds)
        self.bodyReadSeconds = max(1, bodyReadSeconds)
        self.idleSeconds = max(1, idleSeconds)
        self.maxConnections = max(1, maxConnections)
    }
}

/// Closes a connection whose request head or body does not arrive in time.
///
/// Sits after HTTP decoding, so it sees whole request heads: the head timer starts when the connection opens and again
/// when a response ends (a kept-alive connection waiting for its next request), and stops at the head; the body timer
/// runs from the head to the request's end. Handling time is not limited here: a handler in a database transaction is
/// not cut off halfway.
final class RequestReadTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let limits: ConnectionLimits
    private var timer: Scheduled<Void>?

    init(limits: ConnectionLimits) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context, seconds: limits.headerReadSeconds) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context, seconds: limits.headerReadSeconds)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: arm(context, seconds: limits.bodyReadSeconds)
        case .body: break
        case .end: disarm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { arm(context, seconds: limits.headerReadSeconds) }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    private func arm(_ context: ChannelHandlerContext, seconds: Int64) {
        disarm()
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: .seconds(seconds)) {
            bound.value.close(promise: nil)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}

extension CourtyardApp {
    /// The HTTP/1.1 server with Courtyard's read timeouts, idle timeout and header limits.
    static func httpServer(_ limits: ConnectionLimits) -> HTTPServerBuilder {
        .http1(
            configuration: .init(
                additionalChannelHandlers: [RequestReadTimeoutHandler(limits: limits)],
                idleTimeout: .seconds(limits.idleSeconds)))
    }
}
