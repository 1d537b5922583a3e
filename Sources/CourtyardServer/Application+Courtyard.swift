import CourtyardDomain
import CourtyardStorage
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import Prometheus

/// Builds Courtyard's HTTP application: middleware, every route, `/health`, `/metrics` and `/openapi.json`.
public enum CourtyardApp {
    /// The router with all routes and middleware, and the OpenAPI document describing it.
    public static func router(services: ServerServices) -> (Router<CourtyardRequestContext>, OpenAPIDocument) {
        let router = Router(context: CourtyardRequestContext.self)
        let known = KnownRoutes()
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(middleware: ProblemMiddleware(known: known))
        router.add(middleware: RequestMetricsMiddleware(registry: services.metrics))
        router.add(middleware: AuthenticationMiddleware(services: services))
        // After authentication, so each request line carries the request id, user and tenant (and the route, not the path).
        router.add(middleware: RequestLogMiddleware())

        let api = DocumentedRouter(router: router)
        AccountRoutes.register(on: api, services: services)
        ResourceRoutes.register(Community.self, on: api, services: services)
        ResourceRoutes.register(Building.self, on: api, services: services)
        ResourceRoutes.register(BuildingUnit.self, on: api, services: services)
        ResourceRoutes.register(House.self, on: api, services: services)
        ResourceRoutes.register(Person.self, on: api, services: services)
        ResourceRoutes.register(Occupancy.self, on: api, services: services)
        ResourceRoutes.register(Vehicle.self, on: api, services: services)
        ResourceRoutes.register(ParkingSpace.self, on: api, services: services)
        ResourceRoutes.register(Device.self, on: api, services: services)
        ResourceRoutes.register(DeviceBinding.self, on: api, services: services)
        ResourceRoutes.register(FeeItem.self, on: api, services: services)
        ResourceRoutes.register(FeeStandard.self, on: api, services: services)
        ResourceRoutes.register(FeeAttachment.self, on: api, services: services)
        ResourceRoutes.register(UsageRecord.self, on: api, services: services)
        LedgerRoutes.register(on: api, services: services)
        BillingRoutes.register(on: api, services: services)
        TariffRoutes.register(on: api, services: services)
        IngestRoutes.register(on: api, services: services)
        UsageSummaryRoute.register(on: api, services: services)
        HouseSearchRoute.register(on: api, services: services)
        PrepaidRoutes.register(on: api, services: services)
        PaymentRoutes.register(on: api, services: services)
        SystemRoutes.register(on: api, services: services)
        // The browser's pages (not in the API document; they answer HTML, errors included).
        WebRoutes.register(on: router, services: services)
        api.document(.get, "/openapi.json", summary: "This OpenAPI 3.1 document", tag: "System")
        let document = api.document
        known.set(document.operations.map { ($0.method.rawValue, $0.path) })
        let documentData: Data = {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return (try? encoder.encode(document.json())) ?? Data()
        }()
        router.get("/openapi.json") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: documentData)))
        }
        return (router, document)
    }

    /// The application, ready to run.
    public static func application(services: ServerServices, logger: Logger) -> some ApplicationProtocol {
        application(router: self.router(services: services).0, services: services, logger: logger)
    }

    /// The application over `router`, with the configuration's address, timeouts and connection limit.
    public static func application(
        router: Router<CourtyardRequestContext>, services: ServerServices,
        logger: Logger
    ) -> Application<RouterResponder<CourtyardRequestContext>> {
        let limits = services.configuration.connectionLimits
        return Application(
            router: router,
            server: httpServer(limits),
            configuration: .init(
                address: .hostname(services.configuration.host, port: services.configuration.port),
                serverName: "Courtyard",
                availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections)),
            logger: logger
        )
    }
}

/// Liveness, readiness and metrics.
enum SystemRoutes {
    struct Health: Codable, Sendable {
        var status: String
        var database: String
        var engine: String
        var schemaVersion: Int?
    }

    struct Index: Codable, Sendable {
        var name: String
        var version: String
        var openapi: String
        var signIn: String
        var health: String
    }

    static func register(on api: DocumentedRouter, services: ServerServices) {
        api.schema(
            "APIIndex",
            example: Index(
                name: "Courtyard API", version: "1", openapi: "/openapi.json", signIn: "POST /api/v1/auth/login",
                health: "/health"))
        api.on(
            .get, "/api/v1", summary: "Where to start: the OpenAPI document, how to sign in, health", tag: "System",
            response: "APIIndex"
        ) { _, _ in
            try .json(
                Index(
                    name: "Courtyard API", version: "1", openapi: "/openapi.json", signIn: "POST /api/v1/auth/login",
                    health: "/health"))
        }
        api.schema("Health", example: Health(status: "ok", database: "ok", engine: "sqlite", schemaVersion: 1))
        api.on(
            .get, "/health", summary: "Liveness and database reachability (503 when the database does not answer)",
            tag: "System", response: "Health"
        ) { _, _ in
            do {
                let version = try await Migrator().currentVersion(services.database)
                return try .json(Health(status: "ok", database: "ok", engine: services.database.engine.rawValue, schemaVersion: version))
            } catch {
                return try .json(
                    Health(
                        status: "degraded", database: "unreachable", engine: services.database.engine.rawValue,
                        schemaVersion: nil), status: .serviceUnavailable)
            }
        }
        api.on(.get, "/metrics", summary: "Prometheus metrics (text exposition format)", tag: "System") { _, _ in
            var buffer = [UInt8]()
            services.metrics.emit(into: &buffer)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
    }
}
