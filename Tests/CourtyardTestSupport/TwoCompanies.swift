import CourtyardSimulator
import CourtyardStorage
import Foundation

/// The fixture every isolation test starts from: two small companies, `alpha` and `bravo`, seeded side by side by the
/// demo seeder with different seeds, so anything company A can see of company B is a leak.
public struct TwoCompanies: Sendable {
    public let a: DemoSeeder.Summary
    public let b: DemoSeeder.Summary

    /// The size of each company's communities.
    public struct Shape: Sendable {
        public var buildingsPerCommunity: Int
        public var unitsPerBuilding: Int
        public var housesPerUnit: Int
        /// Fee items, standards and last months' usage, as the demo has.
        public var billing: Bool

        public init(buildingsPerCommunity: Int = 1, unitsPerBuilding: Int = 1, housesPerUnit: Int = 4, billing: Bool = true) {
            self.buildingsPerCommunity = buildingsPerCommunity
            self.unitsPerBuilding = unitsPerBuilding
            self.housesPerUnit = housesPerUnit
            self.billing = billing
        }
    }

    /// A password "hash" that costs nothing, for tests that never log in.
    public static let fakeHash: @Sendable (String, UInt8) async throws -> String = { password, _ in "test-hash-\(password)" }

    /// Seeds both companies; `hashPassword` is the real bcrypt for tests that log in.
    public static func seed(
        _ database: Database, _ shape: Shape = Shape(),
        hashPassword: @escaping @Sendable (String, UInt8) async throws -> String = fakeHash
    ) async throws -> TwoCompanies {
        func seeder(_ code: String, _ seed: UInt64) -> DemoSeeder {
            DemoSeeder(
                seed: seed, companyCode: code, buildingsPerCommunity: shape.buildingsPerCommunity, unitsPerBuilding: shape.unitsPerBuilding,
                housesPerUnit: shape.housesPerUnit, bcryptCost: 4, billing: shape.billing)
        }
        let a = try await seeder("alpha", 1).seed(database, hashPassword: hashPassword)
        let b = try await seeder("bravo", 2).seed(database, hashPassword: hashPassword)
        return TwoCompanies(a: a, b: b)
    }
}
