import CourtyardStorage
import Foundation
import Logging
import SQLKit

/// A storage engine a test runs against.
///
/// Storage and API suites are parameterized over ``TestEngine/available``:
/// SQLite always, PostgreSQL when `COURTYARD_TEST_POSTGRES_URL` names a server
/// (`scripts/test` starts one). Test names carry the engine, so the output
/// says which engines ran.
public enum TestEngine: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }

    /// The admin URL of the PostgreSQL test server, if one is configured.
    public static var postgresURL: String? {
        ProcessInfo.processInfo.environment["COURTYARD_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// SQLite, plus PostgreSQL when a server is configured.
    public static var available: [TestEngine] {
        postgresURL == nil ? [.sqlite] : [.sqlite, .postgres]
    }

    /// The fast paths test databases are opened with unless a test names its own: all of them, or those that
    /// `COURTYARD_TEST_CAREFUL_PATHS` does not switch off (`all`, or a list of `ledger`, `bulk`, `readings`).
    /// `scripts/test` runs the suite twice: with every fast path, and with none.
    public static var fastPaths: FastPaths {
        guard let text = ProcessInfo.processInfo.environment["COURTYARD_TEST_CAREFUL_PATHS"], !text.isEmpty else { return .all }
        guard let paths = FastPaths(carefulPaths: text) else { fatalError("COURTYARD_TEST_CAREFUL_PATHS=\(text) names no fast path") }
        return paths
    }

    /// Runs `body` with a new, empty, migrated database on this engine, and removes it afterwards. `fastPaths` pins
    /// the paths for a test about one of them; by default ``fastPaths``.
    public func withDatabase<T: Sendable>(
        migrated: Bool = true, fastPaths: FastPaths? = nil,
        _ body: (Database) async throws -> T
    ) async throws -> T {
        let fastPaths = fastPaths ?? Self.fastPaths
        var logger = Logger(label: "courtyard.test")
        logger.logLevel = .warning
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("courtyard-test-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let database = try await Database.open(
                directory.appendingPathComponent("test.sqlite").path, logger: logger,
                fastPaths: fastPaths)
            do {
                if migrated { try await Migrator().migrate(database) }
                let result = try await body(database)
                await database.close()
                return result
            } catch {
                await database.close()
                throw error
            }
        case .postgres:
            guard let adminURL = Self.postgresURL else { throw TestDatabaseError.postgresNotConfigured }
            let name = "courtyard_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
            let admin = try await Database.open(adminURL, logger: logger)
            _ = try await admin.read { db in try await db.raw("CREATE DATABASE \(unsafeRaw: String(name))").run() }
            guard var components = URLComponents(string: adminURL) else { throw TestDatabaseError.postgresNotConfigured }
            components.path = "/\(name)"
            let database = try await Database.open(components.string!, logger: logger, fastPaths: fastPaths)
            func cleanUp() async {
                await database.close()
                _ = try? await admin.read { db in try await db.raw("DROP DATABASE IF EXISTS \(unsafeRaw: String(name)) WITH (FORCE)").run() }
                await admin.close()
            }
            do {
                if migrated { try await Migrator().migrate(database) }
                let result = try await body(database)
                await cleanUp()
                return result
            } catch {
                await cleanUp()
                throw error
            }
        }
    }
}

/// Why a test database could not be made.
public enum TestDatabaseError: Error {
    case postgresNotConfigured
}
