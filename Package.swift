// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Courtyard",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "courtyard", targets: ["courtyard"]),
        .library(name: "CourtyardDomain", targets: ["CourtyardDomain"]),
        .library(name: "CourtyardLedger", targets: ["CourtyardLedger"]),
        .library(name: "CourtyardStorage", targets: ["CourtyardStorage"]),
        .library(name: "CourtyardBilling", targets: ["CourtyardBilling"]),
        .library(name: "CourtyardMeterProtocols", targets: ["CourtyardMeterProtocols"]),
        .library(name: "CourtyardServer", targets: ["CourtyardServer"]),
        .library(name: "CourtyardPrepaid", targets: ["CourtyardPrepaid"]),
        .library(name: "CourtyardPayments", targets: ["CourtyardPayments"]),
        .library(name: "CourtyardIngest", targets: ["CourtyardIngest"]),
        .library(name: "CourtyardWeb", targets: ["CourtyardWeb"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.24.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        // Pure domain: money, quantities, identifiers, roles. No I/O.
        .target(
            name: "CourtyardDomain",
            dependencies: []
        ),
        // The ledger's rules: accounts, transfers, holds, the hash-chained journal. Pure: no I/O.
        .target(
            name: "CourtyardLedger",
            dependencies: [
                "CourtyardDomain",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // DL/T 645-2007 and CJ/T 188-2004 frames: decode captures, build read and valve/switch commands. Pure: no I/O.
        .target(
            name: "CourtyardMeterProtocols",
            dependencies: ["CourtyardDomain"]
        ),
        // The SQLite engine adapter: a bare connection with cached prepared statements, the background WAL checkpointer,
        // and SQLKit over that connection. The only module that calls SQLite's C interface; Storage declares the
        // protocols (FastConnection, FastStatement) that modules above write their hot statements against.
        .target(
            name: "CourtyardSQLite",
            dependencies: [
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Schema, migrations, repositories and tenant scoping over SQLite and PostgreSQL.
        .target(
            name: "CourtyardStorage",
            dependencies: [
                "CourtyardDomain",
                "CourtyardLedger",
                "CourtyardSQLite",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // A small MQTT 3.1.1 client on SwiftNIO: QoS 0/1 subscribe and publish, keep-alive, reconnect with backoff.
        .target(
            name: "CourtyardMQTT",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Readings in: parse, match devices, dedup, derive usage, hold the implausible, verify webhooks, track presence.
        .target(
            name: "CourtyardIngest",
            dependencies: [
                "CourtyardDomain", "CourtyardStorage", "CourtyardDevices", "CourtyardMeterProtocols", "CourtyardMQTT",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Devices: the registry as ingestion sees it, presence, the command queue (pure rules plus its one store), the
        // dispatcher and its MQTT and signed-HTTP transports, acks and state reports. What an answer means for a device's
        // purpose is a DeviceEffects the composition root gives it (prepaid supply control today).
        .target(
            name: "CourtyardDevices",
            dependencies: [
                "CourtyardDomain", "CourtyardStorage", "CourtyardMeterProtocols", "CourtyardMQTT",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Prepaid metering: plans, real-time deduction in the reading's transaction, supply policy (what the device
        // command queue is asked for), top-ups that restore supply, safety and leak alerts.
        .target(
            name: "CourtyardPrepaid",
            dependencies: [
                "CourtyardDomain", "CourtyardLedger", "CourtyardStorage", "CourtyardDevices",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Synthetic companies and communities for the demo, tests and benchmarks.
        // Bill runs: fee standards and usage in, bills and ledger postings out; reminders and late fees.
        .target(
            name: "CourtyardBilling",
            dependencies: [
                "CourtyardDomain", "CourtyardLedger", "CourtyardStorage",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Payments: orders, WeChat Pay v3 / Alipay / desk / bank channels, allocation, refunds with rules, deposits,
        // reconciliation, gapless e-receipts with QR codes. Wallets and bills are reached through PaymentPorts, which the
        // composition root fills (it imports neither Prepaid nor Billing).
        .target(
            name: "CourtyardPayments",
            dependencies: [
                "CourtyardDomain", "CourtyardLedger", "CourtyardStorage", "CourtyardQR",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // QR codes (ISO/IEC 18004), byte mode, all versions and error-correction levels. Pure: no I/O.
        .target(
            name: "CourtyardQR",
            dependencies: []
        ),
        .target(
            name: "CourtyardSimulator",
            dependencies: ["CourtyardDomain", "CourtyardStorage"]
        ),
        // The web's presentation: page templates (swift-mustache), zh-CN and en texts, money and time as people read them,
        // server-drawn SVG charts. Pure: no I/O; the server's web routes call the use cases and render through it.
        .target(
            name: "CourtyardWeb",
            dependencies: [
                "CourtyardDomain",
                .product(name: "Mustache", package: "swift-mustache"),
            ]
        ),
        // The Hummingbird application: routes, auth, problem errors, OpenAPI, metrics.
        .target(
            name: "CourtyardServer",
            dependencies: [
                "CourtyardWeb",
                "CourtyardPayments",
                "CourtyardQR",
                "CourtyardPrepaid",
                "CourtyardBilling",
                "CourtyardIngest",
                "CourtyardDevices",
                "CourtyardDomain",
                "CourtyardLedger",
                "CourtyardStorage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationEssentialsCompat", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // No SQLKit: routes call use cases of the modules that own the tables (scripts/check-imports holds this).
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "courtyard",
            dependencies: [
                "CourtyardBilling",
                "CourtyardServer",
                "CourtyardStorage",
                "CourtyardSQLite",
                "CourtyardSimulator",
                "CourtyardDomain",
                "CourtyardLedger",
                "CourtyardMeterProtocols",
                "CourtyardIngest",
                "CourtyardDevices",
                "CourtyardMQTT",
                "CourtyardPrepaid",
                "CourtyardPayments",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "CourtyardWebTests",
            dependencies: ["CourtyardWeb", "CourtyardDomain"]
        ),
        .testTarget(
            name: "CourtyardDomainTests",
            dependencies: [
                "CourtyardDomain",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        // Shared by the storage and server tests: a fresh database per test on each engine.
        .target(
            name: "CourtyardTestSupport",
            dependencies: [
                "CourtyardStorage", "CourtyardDomain", "CourtyardSimulator",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/CourtyardTestSupport"
        ),
        .testTarget(
            name: "CourtyardMeterProtocolsTests",
            dependencies: [
                "CourtyardMeterProtocols",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "CourtyardIngestTests",
            dependencies: [
                "CourtyardIngest", "CourtyardDevices", "CourtyardStorage", "CourtyardMeterProtocols", "CourtyardTestSupport", "CourtyardDomain",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "CourtyardMQTTTests",
            dependencies: [
                "CourtyardMQTT", "CourtyardTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "CourtyardDevicesTests",
            dependencies: [
                "CourtyardDevices", "CourtyardDomain", "CourtyardStorage", "CourtyardTestSupport",
                .product(name: "SQLKit", package: "sql-kit"),
            ]
        ),
        .testTarget(
            name: "CourtyardPrepaidTests",
            dependencies: [
                "CourtyardPrepaid", "CourtyardDevices", "CourtyardDomain", "CourtyardIngest", "CourtyardStorage", "CourtyardSimulator",
                "CourtyardTestSupport",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "CourtyardLedgerTests",
            dependencies: [
                "CourtyardLedger",
                "CourtyardDomain",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "CourtyardPaymentsTests",
            dependencies: [
                "CourtyardPayments", "CourtyardDomain", "CourtyardStorage", "CourtyardSimulator", "CourtyardTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        // QR codes drawn in Swift, read back by a real decoder (zbarimg).
        .testTarget(
            name: "CourtyardQRTests",
            dependencies: ["CourtyardQR"]
        ),
        .testTarget(
            name: "CourtyardStorageTests",
            dependencies: [
                "CourtyardStorage", "CourtyardSQLite", "CourtyardDomain", "CourtyardLedger", "CourtyardSimulator", "CourtyardTestSupport",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "CourtyardBillingTests",
            dependencies: [
                "CourtyardBilling", "CourtyardStorage", "CourtyardDomain", "CourtyardLedger", "CourtyardSimulator",
                "CourtyardTestSupport", .product(name: "SQLKit", package: "sql-kit"),
            ]
        ),
        .testTarget(
            name: "CourtyardServerTests",
            dependencies: [
                "CourtyardPayments",
                "CourtyardQR",
                "CourtyardLedger",
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Crypto", package: "swift-crypto"),
                "CourtyardPrepaid",
                "CourtyardServer",
                "CourtyardStorage",
                "CourtyardDomain",
                "CourtyardSimulator",
                "CourtyardTestSupport",
                "CourtyardIngest",
                "CourtyardDevices",
                "CourtyardMQTT",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationEssentialsCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Upcoming language features every target builds with: existential types spelled `any P` (ExistentialAny), and a
// member usable only where its module is imported (MemberImportVisibility). Two targets keep the old member lookup:
// they use members of modules no package exports as a product (swift-service-lifecycle's UnixSignals for `.sigterm`;
// swift-crypto 4's CryptoExtras behind `_CryptoExtras`, a product 3.x does not have), so the import that feature asks
// for could not be declared (scripts/check-imports).
let oldMemberLookup: Set<String> = ["courtyard", "CourtyardServerTests"]
for target in package.targets {
    target.swiftSettings =
        (target.swiftSettings ?? []) + [.enableUpcomingFeature("ExistentialAny")]
        + (oldMemberLookup.contains(target.name) ? [] : [.enableUpcomingFeature("MemberImportVisibility")])
}
