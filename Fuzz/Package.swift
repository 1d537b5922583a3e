// swift-tools-version: 6.1
import PackageDescription

/// libFuzzer targets for Courtyard's parsers (issue 25, point 2). A package of its own, so the product's build never
/// sees them: `scripts/fuzz` builds it with `-sanitize=fuzzer,address` and runs each target against its committed corpus.
let package = Package(
    name: "CourtyardFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "Courtyard", path: "..")],
    targets: [
        .executableTarget(
            name: "CourtyardFuzz",
            dependencies: [
                .product(name: "CourtyardBilling", package: "Courtyard"),
                .product(name: "CourtyardDomain", package: "Courtyard"),
                .product(name: "CourtyardIngest", package: "Courtyard"),
                .product(name: "CourtyardMeterProtocols", package: "Courtyard"),
                .product(name: "CourtyardPayments", package: "Courtyard"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])])
    ]
)
