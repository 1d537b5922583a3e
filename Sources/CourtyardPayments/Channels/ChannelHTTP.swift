import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// One HTTP request to a payment channel's API.
public struct ChannelHTTPRequest: Sendable, Hashable {
    public var method: String
    public var url: String
    public var headers: [String: String]
    public var body: [UInt8]

    public init(method: String, url: String, headers: [String: String], body: [UInt8]) {
        self.method = method; self.url = url; self.headers = headers; self.body = body
    }
}

/// A channel's answer.
public struct ChannelHTTPResponse: Sendable, Hashable {
    public var status: Int
    /// Header names lower-cased.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String], body: [UInt8]) {
        self.status = status; self.headers = headers; self.body = body
    }
}

/// The HTTP boundary of every channel adapter: production uses ``LiveChannelHTTPClient``; tests put a fake channel
/// here that checks the signatures a real channel would and answers the way it does.
public protocol ChannelHTTPClient: Sendable {
    func send(_ request: ChannelHTTPRequest) async throws -> ChannelHTTPResponse
}

/// HTTPS (and HTTP) through AsyncHTTPClient's shared client, with a deadline per request.
public struct LiveChannelHTTPClient: ChannelHTTPClient {
    let timeout: TimeAmount

    public init(timeout: TimeAmount = .seconds(10)) {
        self.timeout = timeout
    }

    public func send(_ request: ChannelHTTPRequest) async throws -> ChannelHTTPResponse {
        var outgoing = HTTPClientRequest(url: request.url)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers { outgoing.headers.add(name: name, value: value) }
        if !request.body.isEmpty { outgoing.body = .bytes(ByteBuffer(bytes: request.body)) }
        let response = try await HTTPClient.shared.execute(outgoing, timeout: timeout)
        let body = try await response.body.collect(upTo: 4 * 1024 * 1024)
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        return ChannelHTTPResponse(status: Int(response.status.code), headers: headers, body: Array(buffer: body))
    }
}
