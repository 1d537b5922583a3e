import CourtyardServer
import CourtyardTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Slow clients cannot hold connections: a request head that does not complete is cut off after the header timeout.
@Suite("Connection limits")
struct ConnectionLimitsTests {
    /// Opens a TCP connection to 127.0.0.1:`port`, sends `text`, and returns what the server sent until it closed the
    /// connection, or `nil` if it was still open after `wait` seconds.
    static func exchange(port: Int, text: String, wait: Int) -> String? {
        guard let fd = Loopback.connect(port: port) else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: wait, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = text.withCString { send(fd, $0, strlen($0), 0) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { return String(decoding: received, as: UTF8.self) }  // the server closed the connection
            if count < 0 { return nil }  // still open when the wait ran out
            received.append(contentsOf: buffer[0..<count])
        }
    }

    @Test("an incomplete request head is cut off; a complete one is answered", arguments: [TestEngine.sqlite])
    func slowHeadersAreCutOff(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let configuration = ServerConfiguration(
                port: 0, bcryptCost: 4,
                connectionLimits: ConnectionLimits(headerReadSeconds: 1, bodyReadSeconds: 1, idleSeconds: 30))
            let services = ServerServices(database: database, configuration: configuration)
            let app = CourtyardApp.application(
                router: CourtyardApp.router(services: services).0, services: services,
                logger: Logger(label: "courtyard.test"))
            try await app.test(.live) { client in
                let port = try #require(client.port)
                // Half a head, then nothing: closed by the server well before the 20 s this waits.
                let slow = await Task.detached { Self.exchange(port: port, text: "GET /health HTTP/1.1\r\nHost: x\r\n", wait: 20) }.value
                #expect(slow == "", "the server should close a connection whose head never completes")
                // Head sent, body promised but never sent: closed too.
                let slowBody = await Task.detached {
                    Self.exchange(port: port, text: "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{", wait: 20)
                }.value
                #expect(slowBody != nil, "the server should close a connection whose body never completes")
                let fine = await Task.detached {
                    Self.exchange(port: port, text: "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", wait: 20)
                }.value
                #expect(fine?.hasPrefix("HTTP/1.1 200") == true)
            }
        }
    }
}
