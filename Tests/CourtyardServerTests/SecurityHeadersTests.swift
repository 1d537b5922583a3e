import CourtyardTestSupport
import Foundation
import HTTPTypes
import Logging
import Synchronization
import Testing

/// Log lines kept in memory, to check what a request writes to the log.
final class CapturedLog: Sendable {
    let lines = Mutex<[String]>([])

    var handler: @Sendable (String) -> any LogHandler {
        { _ in CapturingHandler(log: self) }
    }

    struct CapturingHandler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = self.metadata.merging(event.metadata ?? [:]) { $1 }
            let text = "\(event.message) " + all.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " ")
            log.lines.withLock { $0.append(text) }
        }
    }
}

@Suite("Security headers and request logs")
struct SecurityHeadersTests {
    @Test(
        "every response, problems included, carries nosniff, no framing and no referrer; authenticated and receipt answers are not stored",
        arguments: TestEngine.available)
    func headersOnEveryResponse(engine: TestEngine) async throws {
        try await APIFixture.with(engine) { api in
            let token = try await api.login("admin@alpha")
            let replies = [
                try await api.call(.get, "/health"),
                try await api.call(.get, "/api/v1/houses?limit=1", token: token),
                try await api.call(.get, "/api/v1/nothing", token: token),
                try await api.call(.get, "/r/not-a-receipt-token"),
            ]
            for reply in replies {
                #expect(reply.headers[.xContentTypeOptions] == "nosniff")
                #expect(reply.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
                #expect(reply.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
                #expect(reply.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
            }
            #expect(replies[0].headers[.cacheControl] == nil)
            #expect(replies[1].headers[.cacheControl] == "no-store")
            #expect(replies[2].headers[.cacheControl] == "no-store")
            #expect(replies[3].headers[.cacheControl] == "no-store")
        }
    }

    @Test("request logs name the route, never the receipt token or the query string", arguments: [TestEngine.sqlite])
    func logsCarryNoSecrets(engine: TestEngine) async throws {
        let captured = CapturedLog()
        let logger = Logger(label: "courtyard.test", factory: captured.handler)
        try await APIFixture.with(engine, logger: logger) { api in
            let token = try await api.login("admin@alpha")
            _ = try await api.call(.get, "/r/SECRET-RECEIPT-TOKEN-123")
            _ = try await api.call(.get, "/api/v1/houses?limit=1&secret=QUERY-SECRET-456", token: token)
        }
        let lines = captured.lines.withLock { $0 }
        #expect(lines.contains { $0.contains("route=/r/{token}") })
        #expect(!lines.contains { $0.contains("SECRET-RECEIPT-TOKEN-123") || $0.contains("QUERY-SECRET-456") }, "\(lines)")
    }
}
