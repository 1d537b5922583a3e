import CourtyardDomain
import CourtyardPayments
import CourtyardServer
import CourtyardSimulator
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOFoundationEssentialsCompat
import SQLKit
import Testing

/// A running in-process API over a fresh database with two seeded companies ("alpha" and "bravo").
struct APIFixture {
    let client: any TestClientProtocol
    let database: Database
    let alpha: DemoSeeder.Summary
    let bravo: DemoSeeder.Summary
    let document: OpenAPIDocument
    /// The services behind the router (the command dispatcher, the ingestor…).
    let services: ServerServices
    /// Every route the router serves, as (method, OpenAPI-style path).
    let routes: [(method: String, path: String)]

    /// Runs `body` against a new fixture on `engine`.
    /// The request log at warning level: the access lines of tens of thousands of test requests would only slow the
    /// run and bury a failure. Tests about logging pass their own logger; `COURTYARD_TEST_LOG=info` shows them all.
    static var quietLogger: Logger {
        var logger = Logger(label: "courtyard.test")
        logger.logLevel = ProcessInfo.processInfo.environment["COURTYARD_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }

    static func with(
        _ engine: TestEngine, maxFailedLogins: Int = 5, clock: any WallClock = SystemClock(),
        channels: (@Sendable (_ alphaCompanyId: String) -> ChannelConfiguration)? = nil, channelHTTP: (any ChannelHTTPClient)? = nil,
        configure: (@Sendable (inout ServerConfiguration) -> Void)? = nil, logger: Logger? = nil, fastPaths: FastPaths? = nil,
        billing: Bool = false, _ body: @escaping @Sendable (APIFixture) async throws -> Void
    ) async throws {
        try await engine.withDatabase(fastPaths: fastPaths) { database in
            let companies = try await TwoCompanies.seed(database, .init(unitsPerBuilding: 2, housesPerUnit: 3, billing: billing)) { password, cost in
                try await Passwords.hash(password, cost: cost)
            }
            let (alpha, bravo) = (companies.a, companies.b)
            let platformHash = try await Passwords.hash(DemoSeeder.password, cost: 4)
            let now = Date()
            let platform = User(
                id: Identifier.uuidV7(at: now), companyId: nil, login: "platform-alpha-test", displayName: "Platform",
                role: .platformAdmin, personId: nil, communityIds: nil, status: .active, createdAt: now, updatedAt: now)
            try await database.transaction { db in try await AccountStore(db).insert(platform, passwordHash: platformHash) }
            var configuration = ServerConfiguration(bcryptCost: 4, maxFailedLogins: maxFailedLogins, publicURL: "https://pay.example.com")
            configure?(&configuration)
            let services = ServerServices(
                database: database, clock: clock, configuration: configuration,
                channels: channels?(alpha.companyId) ?? ChannelConfiguration(),
                channelHTTP: channelHTTP ?? LiveChannelHTTPClient())
            let (router, document) = CourtyardApp.router(services: services)
            let routes = router.routes.map { (method: $0.method.rawValue, path: OpenAPIDocument.openAPIPath($0.path.description)) }
            let app = Application(router: router, logger: logger ?? Self.quietLogger)
            try await app.test(.router) { client in
                try await body(
                    APIFixture(
                        client: client, database: database, alpha: alpha, bravo: bravo,
                        document: document, services: services, routes: routes))
            }
        }
    }

    /// An API response with its body parsed as JSON when it is JSON.
    struct Reply {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let text: String
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8)) }
        var object: [String: Any] { json as? [String: Any] ?? [:] }
        var items: [[String: Any]] { object["items"] as? [[String: Any]] ?? [] }
        var code: String? { object["code"] as? String }
        var fields: [String] { (object["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String } }
    }

    @discardableResult
    func call(
        _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, json: Any? = nil, raw: String? = nil,
        headers extra: [String: String] = [:]
    ) async throws -> Reply {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        for (name, value) in extra { headers[HTTPField.Name(name)!] = value }
        var body: ByteBuffer? = nil
        if let json {
            body = ByteBuffer(data: try JSONSerialization.data(withJSONObject: json))
            headers[.contentType] = "application/json"
        } else if let raw {
            body = ByteBuffer(string: raw)
            if headers[.contentType] == nil { headers[.contentType] = "application/json" }
        }
        let reply = try await client.execute(uri: uri, method: method, headers: headers, body: body) { response in
            Reply(status: response.status, headers: response.headers, text: String(buffer: response.body))
        }
        Self.recordStatus(method: method, uri: uri, status: reply.status)
        return reply
    }

    /// With `COURTYARD_TEST_STATUS_LOG` set (scripts/test sets it), every answer's method, path and status is appended
    /// to that file, a line each; `scripts/status-coverage` compares them with the statuses the OpenAPI document
    /// declares. Appends of one short line are atomic, so concurrent tests need no lock.
    static let statusLog: Int32? = ProcessInfo.processInfo.environment["COURTYARD_TEST_STATUS_LOG"].flatMap { path in
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        return fd >= 0 ? fd : nil
    }

    static func recordStatus(method: HTTPRequest.Method, uri: String, status: HTTPResponse.Status) {
        guard let fd = statusLog else { return }
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        let line = "\(method.rawValue) \(path) \(status.code)\n"
        _ = line.withCString { write(fd, $0, strlen($0)) }
    }

    /// Signs in and returns the bearer token.
    func login(_ login: String, password: String = DemoSeeder.password) async throws -> String {
        let reply = try await call(.post, "/api/v1/auth/login", json: ["login": login, "password": password])
        #expect(reply.status == .ok, "login \(login): \(reply.text)")
        return try #require(reply.object["token"] as? String)
    }

    /// The first item of a list route.
    func first(_ path: String, token: String) async throws -> [String: Any] {
        let reply = try await call(.get, "/api/v1/\(path)?limit=1", token: token)
        return try #require(reply.items.first, "no \(path): \(reply.text)")
    }

    /// Row counts of every tenant table, to prove that a refused request wrote nothing.
    func tableCounts() async throws -> [String: Int] {
        try await database.read { db in
            var counts: [String: Int] = [:]
            for table in [
                "companies", "communities", "buildings", "units", "houses", "people", "occupancies", "vehicles",
                "parking_spaces", "devices", "device_bindings", "users", "machine_credentials", "fee_items",
                "fee_standards", "fee_attachments", "usage_records", "bill_runs", "bills", "bill_lines", "audit_log",
                "bill_reminders", "ledger_entries", "prepaid_plans", "prepaid_charges", "supply_states", "supply_overrides",
                "device_commands", "notification_outbox", "community_holidays", "prepaid_plan_payers", "prepaid_running",
                "payment_orders", "payments", "payment_allocations", "payment_callbacks", "receipts", "refunds", "deposits",
                "cashier_shifts", "bank_statement_lines", "bill_late_fee_settlements", "reconciliation_runs",
            ] {
                let row = try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()
                counts[table] = try row?.decode(column: "n", as: Int.self) ?? -1
            }
            return counts
        }
    }
}
