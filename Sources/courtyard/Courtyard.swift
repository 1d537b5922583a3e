import ArgumentParser
import CourtyardDevices
import CourtyardDomain
import CourtyardIngest
import CourtyardMQTT
import CourtyardPayments
import CourtyardPrepaid
import CourtyardServer
import CourtyardSimulator
import CourtyardStorage
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import SQLKit
import ServiceLifecycle

/// The `courtyard` command: serve the API, migrate a database, run the demo.
@main
struct Courtyard: AsyncParsableCommand {
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            FileHandle.standardError.write(Data("courtyard: \(failure.description)\n".utf8))
            Foundation.exit(2)
        } catch {
            // Exit codes: 0 done; 1 the command ran and found a problem (a ledger that diverged); 2 it could not run
            // (no database, a storage error); 64 bad usage (ArgumentParser's own).
            if !(error is ExitCode), exitCode(for: error) == .failure {
                FileHandle.standardError.write(Data("courtyard: \(error)\n".utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "courtyard",
        abstract: "Metered billing and prepayment for residential communities.",
        version: CourtyardVersion.text,
        subcommands: [
            Serve.self, Migrate.self, Demo.self, BootstrapAdmin.self, LedgerCommand.self, TariffCommand.self, BillCommand.self, UsageCommand.self,
            ProtocolCommand.self, Backup.self, Restore.self,
            Simulate.self, Bench.self,
        ]
    )
}

/// The release this binary is.
enum CourtyardVersion {
    static let text = "courtyard 0.2.0 (wave 2, hardening)"
}

/// Options every database command takes.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "A SQLite file path, or postgres://user:password@host:port/database. Env: COURTYARD_DATABASE.")
    var database: String = ProcessInfo.processInfo.environment["COURTYARD_DATABASE"] ?? "courtyard.sqlite"

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(name: .long, help: FastPaths.optionHelp)
    var carefulPaths: FastPaths = .all

    /// Opens a database that must already exist: commands that only read or add to one never create an empty file by
    /// mistake (`courtyard ledger verify` in the wrong folder used to leave a new courtyard.sqlite behind).
    func openExisting(logger: Logger) async throws -> Database {
        if case .sqliteFile(let path) = try Database.Location(parsing: database), !FileManager.default.fileExists(atPath: path) {
            throw CommandFailure(description: "no database at \(path); pass --database (or COURTYARD_DATABASE), or create one with courtyard migrate")
        }
        return try await Database.open(database, logger: logger, fastPaths: carefulPaths)
    }

    func bootstrapLogging() -> Logger {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "courtyard")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

struct ServerOptions: ParsableArguments {
    @Option(name: .long, help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(name: .long, help: "Port to listen on.")
    var port: Int = 8080

    @Option(name: .long, help: "bcrypt cost for new passwords (4–31).")
    var bcryptCost: UInt8 = 12

    @Option(name: .long, help: "Session lifetime in seconds.")
    var sessionSeconds: Int64 = 8 * 3600

    @Option(name: .long, help: "MQTT broker for device telemetry, mqtt://[user:password@]host[:port]. Env: COURTYARD_MQTT_URL.")
    var mqttUrl: String? = ProcessInfo.processInfo.environment["COURTYARD_MQTT_URL"]

    @Option(name: .long, help: "MQTT client id (a persistent session: the broker keeps QoS 1 telemetry while the server is down).")
    var mqttClientId: String = "courtyard-ingest"

    @Option(name: .long, help: "Payment channel credentials per company (JSON; see docs/PAYMENTS.md). Env: COURTYARD_PAYMENTS_CONFIG.")
    var paymentsConfig: String? = ProcessInfo.processInfo.environment["COURTYARD_PAYMENTS_CONFIG"]

    @Option(name: .long, help: "Within a bill, what a payment settles first: late_fee_first or principal_first.")
    var allocationOrder: String = "late_fee_first"

    @Option(name: .long, help: "The public address receipts' QR codes link to. Env: COURTYARD_PUBLIC_URL.")
    var publicUrl: String? = ProcessInfo.processInfo.environment["COURTYARD_PUBLIC_URL"]

    @Option(name: .long, help: "Seconds a client has to send a complete request head (from connecting, or from the previous response).")
    var headerTimeout: Int64 = 10

    @Option(name: .long, help: "Seconds a client has to send a request's body after its head.")
    var bodyTimeout: Int64 = 60

    @Option(name: .long, help: "Seconds an idle kept-alive connection stays open.")
    var idleTimeout: Int64 = 75

    @Option(name: .long, help: "Connections served at once; more wait until one closes.")
    var maxConnections: Int = 1_024

    @Option(name: .long, help: "Address of a reverse proxy whose X-Forwarded-For is believed (repeat for several).")
    var trustedProxy: [String] = []
}

/// Opens, migrates and serves a database until interrupted.
func serve(database: Database, server: ServerOptions, logger: Logger, onStarted: @escaping @Sendable () async -> Void = {}) async throws {
    let registry = PrometheusCollectorRegistry()
    MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    guard let allocationOrder = Settlement.Order(rawValue: server.allocationOrder) else {
        throw CommandFailure(description: "--allocation-order is late_fee_first or principal_first")
    }
    guard (4...31).contains(server.bcryptCost) else { throw CommandFailure(description: "--bcrypt-cost is 4 to 31") }
    let configuration = ServerConfiguration(
        host: server.host, port: server.port, sessionLifetimeSeconds: server.sessionSeconds,
        bcryptCost: server.bcryptCost, trustedProxies: Set(server.trustedProxy),
        connectionLimits: ConnectionLimits(
            headerReadSeconds: server.headerTimeout,
            bodyReadSeconds: server.bodyTimeout,
            idleSeconds: server.idleTimeout,
            maxConnections: server.maxConnections),
        publicURL: server.publicUrl, allocationOrder: allocationOrder)
    let channels = try await (server.paymentsConfig.map { try ChannelConfiguration.load(path: $0) } ?? ChannelConfiguration())
        .resolvingCompanyCodes { code in try await database.read { db in try await AccountStore(db).company(code: code)?.id } }
    logger.info("payment channels", metadata: ["configured": "\(channels)"])
    let services = ServerServices(database: database, configuration: configuration, metrics: registry, channels: channels)
    let (router, _) = CourtyardApp.router(services: services)
    // Long-lived work runs as services of one group with the HTTP server. On SIGTERM or SIGINT the group shuts down in
    // reverse order: the server first (it stops accepting and finishes the requests in flight; each is answered only
    // after its writes commit), then MQTT, then the sweeps, each finishing the round it is in, and last the writers and
    // the dispatcher, which finish what was submitted to them, and after them the WAL checkpointer.
    var background: [any Service] = [
        // Told last, once the writers have finished: copies what is left of SQLite's log back into the database file.
        FinishOnShutdown("WAL checkpointer", logger: logger) { await database.finishCheckpoints() },
        FinishOnShutdown("ledger writer", logger: logger) { await services.ledger.idle() },
        FinishOnShutdown("ingestion writer", logger: logger) { await services.ingestor.writer.idle() },
        FinishOnShutdown("command dispatcher", logger: logger) { await services.dispatcher.settle() },
        // Release expired holds every second.
        PeriodicService("hold expiry", every: .seconds(1), logger: logger) { _ in try await services.ledger.expireDueHolds() },
        // Expire unpaid payment orders every 30 s (money arriving for one later is held for review, never lost).
        PeriodicService("order expiry", every: .seconds(30), logger: logger) { _ in _ = try await services.payments.expireDue() },
        // The outbox's backlog (notifications recorded and not yet delivered) for /metrics, every 30 s.
        PeriodicService("outbox backlog", every: .seconds(30), logger: logger) { _ in
            let backlog = try await database.read { db in try await Outbox.backlog(db) }
            let now = services.clock.now().epochMilliseconds
            Instruments.outboxBacklog(events: backlog.events, oldestSeconds: backlog.oldestCreatedAt.map { max(0, (now - $0) / 1_000) } ?? 0)
        },
        // Mark silent devices offline (with an alert) every minute.
        PeriodicService("presence sweep", every: .seconds(60), logger: logger) { _ in
            _ = try await PresenceSweep.run(database, now: services.clock.now())
        },
        // Device commands: overdue acks, expiry, deferred cut-offs and expired overrides every 5 s (commands queued by a
        // transaction leave at once, without waiting for this); days-left warnings and water-leak watches every 10 minutes.
        PeriodicService("device command sweep", every: .seconds(5), logger: logger) { round in
            if round == 0 { await services.dispatcher.wake() }
            await services.dispatcher.sweep()
            if round % 120 == 0 {
                try await database.transaction { db in
                    _ = try await PrepaidWatch.daysLeft(db, engine: database.engine, now: services.clock.now())
                    _ = try await PrepaidWatch.leaks(db, engine: database.engine, now: services.clock.now())
                }
            }
        },
    ]
    // Device telemetry, command acks and valve states over MQTT, through the same paths as HTTP; commands go out on it.
    if let url = server.mqttUrl {
        let filters = [
            MQTTTopicFilter(MQTTIngestion.topicFilter, qos: 1), MQTTTopicFilter(DeviceMQTT.ackFilter, qos: 1),
            MQTTTopicFilter(DeviceMQTT.stateFilter, qos: 1),
        ]
        guard let configuration = MQTTClient.Configuration(url: url, clientId: server.mqttClientId, subscriptions: filters) else {
            throw CommandFailure(description: "--mqtt-url must look like mqtt://[user:password@]host[:port]")
        }
        let client = MQTTClient(configuration: configuration, logger: logger)
        let ingestion = MQTTIngestion(ingestor: services.ingestor, logger: logger)
        let reports = DeviceMQTT(reports: services.deviceReports, logger: logger)
        background.append(
            MQTTService(client: client) { batch in
                let telemetry = batch.filter { !DeviceMQTT.handles($0.topic) }
                if !telemetry.isEmpty { try await ingestion.handle(telemetry) }
                let deviceReports = batch.filter { DeviceMQTT.handles($0.topic) }
                if !deviceReports.isEmpty { await reports.handle(deviceReports) }
            })
        await services.dispatcher.use(RoutingTransport(fallback: MQTTCommandTransport(client: client)))
        logger.info(
            "subscribing to device telemetry, acks and states; commands on …/devices/{key}/commands",
            metadata: ["broker": "\(configuration.host):\(configuration.port)"])
    }
    var app = CourtyardApp.application(router: router, services: services, logger: logger)
    app.beforeServerStarts { await onStarted() }
    let group = ServiceGroup(
        configuration: .init(
            services: background + [app], gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
    try await group.run()
    logger.info("stopped: requests in flight were answered, sweeps finished their rounds")
}

/// A command failure explained in one sentence, printed without the usage text.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
}

/// Applies migrations, turning schema mismatches into plain explanations; closes the database on failure.
func migrateOrExplain(_ database: Database) async throws -> MigrationReport {
    do {
        return try await Migrator().migrate(database)
    } catch StorageError.schemaTooNew(let found, let supported) {
        await database.close()
        throw CommandFailure(
            description:
                "The database schema is version \(found), newer than this courtyard binary understands (\(supported)). Upgrade courtyard; nothing was changed."
        )
    } catch StorageError.migrationChanged(let version) {
        await database.close()
        throw CommandFailure(
            description:
                "Migration \(version) recorded in the database differs from this binary's migration \(version). Refusing to continue; nothing was changed."
        )
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP API (applies pending migrations first).")
    @OptionGroup var options: DatabaseOptions
    @OptionGroup var server: ServerOptions

    func run() async throws {
        let logger = options.bootstrapLogging()
        let database = try await Database.open(options.database, logger: logger, fastPaths: options.carefulPaths)
        let report = try await migrateOrExplain(database)
        logger.info(
            "database ready",
            metadata: [
                "engine": "\(database.engine)", "location": "\(database.redactedLocation)",
                "schema_version": "\(report.currentVersion)",
            ])
        try await serve(database: database, server: server, logger: logger)
        await database.close()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending schema migrations; running it twice changes nothing.")
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        let logger = options.bootstrapLogging()
        let database = try await Database.open(options.database, logger: logger, fastPaths: options.carefulPaths)
        let report = try await migrateOrExplain(database)
        if report.applied.isEmpty {
            print("Schema is current at version \(report.currentVersion) (\(database.engine), \(database.redactedLocation)); nothing to do.")
        } else {
            print(
                "Applied migrations \(report.applied.map(String.init).joined(separator: ", ")); schema is now at version \(report.currentVersion) (\(database.engine))."
            )
        }
        await database.close()
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create (or reuse) a demo database with two communities and ~500 houses, then serve it.")
    @Option(name: .long, help: "The demo database: a SQLite file, or a postgres:// URL of an empty database.")
    var database: String = "./courtyard-demo.sqlite"
    @Option(name: .long, help: "Log level.")
    var logLevel: Logger.Level = .notice
    @Option(name: .long, help: FastPaths.optionHelp)
    var carefulPaths: FastPaths = .all
    @OptionGroup var server: ServerOptions

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "courtyard")
        let db = try await Database.open(database, logger: logger, fastPaths: carefulPaths)
        _ = try await migrateOrExplain(db)
        let summary = try await DemoSeeder(bcryptCost: 10).seed(db) { password, cost in
            try await Passwords.hash(password, cost: cost)
        }
        let prepaidHouse = summary.created ? try await Self.seedPrepaid(db) : nil
        let base = "http://\(server.host):\(server.port)"
        let logins = summary.logins.map { "  \($0.login.padding(toLength: 16, withPad: " ", startingAt: 0)) \($0.password)   (\($0.role.rawValue))" }
        let banner = """

            Courtyard demo \(summary.created ? "created" : "reused"): \(summary.communities) communities, \(summary.houses) houses in \(database)

              Console     \(base)/console   (staff: admin@demo, finance@demo, frontdesk@demo, engineer@demo)
              Portal      \(base)/portal    (owners: owner@demo)
              Health      \(base)/health
              API         \(base)/api/v1
              OpenAPI     \(base)/openapi.json
              Metrics     \(base)/metrics

            Logins (sign in at \(base)/login in a browser, or POST \(base)/api/v1/auth/login with {"login": …, "password": …}):
            \(logins.joined(separator: "\n"))

            Try:
              TOKEN=$(curl -s -X POST \(base)/api/v1/auth/login -H 'content-type: application/json' \\
                -d '{"login":"admin@demo","password":"\(DemoSeeder.password)"}' | sed -E 's/.*"token":"([^"]+)".*/\\1/')
              curl -s -H "Authorization: Bearer $TOKEN" '\(base)/api/v1/houses?limit=3'

            \(prepaidHouse.map { "Prepaid: owner@demo's house pays for electricity in advance: GET \(base)/api/v1/houses/\($0)/prepaid\n" } ?? "")
            Press Ctrl-C to stop.

            """
        try await serve(database: db, server: server, logger: logger) {
            // Written unbuffered so the banner shows at once even when stdout is a pipe or file.
            FileHandle.standardOutput.write(Data((banner + "\n").utf8))
        }
        await db.close()
    }
}

extension Demo {
    /// Puts the electricity meter of owner@demo's house on prepayment (Zhejiang residential tiers, night and weekend
    /// friendly windows) with a 50.00 opening top-up; returns the house id.
    static func seedPrepaid(_ database: Database) async throws -> String? {
        let now = Date()
        return try await database.transaction { db -> String? in
            guard
                let owned = try await TenantSQL.sweep(
                    db, "o.house_id, b.device_id", from: "users", as: "u",
                    joining: [
                        .inner("occupancies", as: "o", on: "o.person_id = u.person_id"),
                        .inner("device_bindings", as: "b", on: "b.target_kind = 'house' AND b.target_id = o.house_id"),
                        .inner("devices", as: "d", on: "d.id = b.device_id AND d.kind = 'electricity_meter'"),
                    ], where: "u.login = 'owner@demo'", then: "LIMIT 1"
                ).first
            else { return nil }
            let (companyId, row) = (owned.companyId, owned.row)
            let house = try row.decode(column: "house_id", as: String.self)
            let device = try row.decode(column: "device_id", as: String.self)
            let rule = PricingRule(
                kind: .metered, unit: "kWh", mode: .graduated, accumulation: .annual,
                tiers: [
                    .init(upTo: Quantity(milliUnits: 2_760_000), price: UnitPrice(tenThousandths: 5_380)),
                    .init(upTo: Quantity(milliUnits: 4_800_000), price: UnitPrice(tenThousandths: 5_880)),
                    .init(upTo: nil, price: UnitPrice(tenThousandths: 8_380)),
                ])
            let config = PlanConfig(
                wallets: [.init(purpose: "electricity"), .init(purpose: "general")], tariff: rule,
                warnBelow: Money(minorUnits: 2_000), warnDaysLeft: 3, emergencyCredit: Money(minorUnits: 500),
                friendlyWindows: [.daily(start: 20 * 60, end: 8 * 60), .weekly(days: [6, 7]), .publicHolidays])
            let scope = TenantScope(companyId: companyId)
            _ = try await PlanStore(db, companyId: companyId).create(
                houseId: house, deviceId: device, register: "energy_total", config: config,
                scope: scope, actor: "system:demo", now: now)
            _ = try await TopUp(db, companyId: companyId, engine: database.engine).apply(
                TopUp.Request(id: "demo-opening-balance", purpose: "electricity", amount: Money(minorUnits: 5_000), channel: "cash"),
                house: house, scope: scope, actor: "system:demo", now: now)
            return house
        }
    }
}

struct BootstrapAdmin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap-admin",
        abstract: "Create the platform administrator of a new installation (who then creates companies through the API).")
    @OptionGroup var options: DatabaseOptions
    @Option(name: .long, help: "Login name.") var login: String
    @Option(name: .long, help: "Password (at least 8 characters). Env: COURTYARD_ADMIN_PASSWORD.")
    var password: String = ProcessInfo.processInfo.environment["COURTYARD_ADMIN_PASSWORD"] ?? ""

    func run() async throws {
        guard password.count >= 8 else { throw ValidationError("--password must be at least 8 characters") }
        let logger = options.bootstrapLogging()
        let database = try await Database.open(options.database, logger: logger, fastPaths: options.carefulPaths)
        _ = try await migrateOrExplain(database)
        let hash = try await Passwords.hash(password, cost: 12)
        let now = Date()
        let user = User(
            id: Identifier.uuidV7(at: now), companyId: nil, login: login, displayName: login, role: .platformAdmin,
            personId: nil, communityIds: nil, status: .active, createdAt: now, updatedAt: now)
        try await database.transaction { db in try await AccountStore(db).insert(user, passwordHash: hash) }
        await database.close()
        print("Created platform administrator \(login).")
    }
}
