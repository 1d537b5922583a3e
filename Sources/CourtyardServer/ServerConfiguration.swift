import CourtyardDevices
import CourtyardDomain
import CourtyardIngest
import CourtyardPayments
import CourtyardPrepaid
import CourtyardStorage
import Logging
import Prometheus

/// Settings of a running Courtyard server.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// How long a session token stays valid after sign-in.
    public var sessionLifetimeSeconds: Int64
    /// bcrypt work factor for new password hashes (12 in production; tests use the minimum, 4).
    public var bcryptCost: UInt8
    /// How failed sign-ins are throttled (per login and address, per login, per address; see ``LoginRateLimiter``).
    public var loginPolicy: LoginRateLimiter.Policy
    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed; from any other peer the header is ignored,
    /// since a client could otherwise pick the address its failed sign-ins are counted under.
    public var trustedProxies: Set<String>
    /// Read timeouts, idle timeout and the connection limit.
    public var connectionLimits: ConnectionLimits
    /// The address owners and payers reach (receipt QR codes link to `{publicURL}/r/{token}`).
    public var publicURL: String
    /// Which refunds approve themselves.
    public var refundRules: RefundRules
    /// Within a bill, whether a payment settles the late fee or the principal first.
    public var allocationOrder: Settlement.Order

    public init(
        host: String = "127.0.0.1", port: Int = 8080, sessionLifetimeSeconds: Int64 = 8 * 3600,
        bcryptCost: UInt8 = 12, maxFailedLogins: Int = 5, loginPolicy: LoginRateLimiter.Policy? = nil,
        trustedProxies: Set<String> = [], connectionLimits: ConnectionLimits = ConnectionLimits(), publicURL: String? = nil,
        refundRules: RefundRules = RefundRules(), allocationOrder: Settlement.Order = .lateFeeFirst
    ) {
        self.allocationOrder = allocationOrder
        self.publicURL = publicURL ?? "http://\(host):\(port)"
        self.refundRules = refundRules
        self.host = host
        self.port = port
        self.sessionLifetimeSeconds = sessionLifetimeSeconds
        self.bcryptCost = bcryptCost
        self.loginPolicy = loginPolicy ?? LoginRateLimiter.Policy(maxFailuresPerLogin: maxFailedLogins)
        self.trustedProxies = trustedProxies
        self.connectionLimits = connectionLimits
    }
}

/// What route handlers share: the database, the clock, configuration and the metrics registry.
public struct ServerServices: Sendable {
    public let database: Database
    public let clock: any WallClock
    public let configuration: ServerConfiguration
    public let loginLimiter: LoginRateLimiter
    /// Recently resolved bearer tokens (a few seconds).
    public let sessions = SessionCache()
    /// The console dashboard's figures per scope (a minute old at most, refreshed behind the page).
    let dashboard = DashboardCache()
    public let metrics: PrometheusCollectorRegistry
    /// The one path by which money moves.
    public let ledger: LedgerWriter
    /// The one path by which readings come in (prepaid meters' readings deduct in the same transaction).
    public let ingestor: Ingestor
    /// Drives queued device commands (cut-off, restore) to devices.
    public let dispatcher: CommandDispatcher
    /// Acks, valve positions and alarms from devices.
    public let deviceReports: DeviceReports
    /// Payment orders, channel notifications, refunds.
    public let payments: PaymentService

    public init(
        database: Database, clock: any WallClock = SystemClock(), configuration: ServerConfiguration = .init(),
        metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), channels: ChannelConfiguration = ChannelConfiguration(),
        channelHTTP: any ChannelHTTPClient = LiveChannelHTTPClient()
    ) {
        self.payments = PaymentService(
            database: database, channels: channels, ports: .courtyard, http: channelHTTP, clock: clock,
            allocationOrder: configuration.allocationOrder)
        self.database = database
        self.clock = clock
        self.ledger = LedgerWriter(database: database, clock: clock)
        let dispatcher = CommandDispatcher(
            database: database, clock: clock, transport: RoutingTransport(fallback: nil), effects: PrepaidDeviceEffects())
        self.dispatcher = dispatcher
        self.ingestor = Ingestor(database: database, clock: clock, effects: PrepaidDeduction(wake: { await dispatcher.wake() }))
        self.deviceReports = DeviceReports(database: database, dispatcher: dispatcher, effects: PrepaidDeviceEffects(), clock: clock)
        self.configuration = configuration
        self.loginLimiter = LoginRateLimiter(policy: configuration.loginPolicy)
        self.metrics = metrics
    }
}
