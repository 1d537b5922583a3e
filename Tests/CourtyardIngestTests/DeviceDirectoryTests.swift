import CourtyardDevices
import CourtyardDomain
import CourtyardStorage
import CourtyardTestSupport
import Foundation
import SQLKit
import Testing

@testable import CourtyardIngest

/// The device directory answers from its cache, and an expired entry once more while it is re-read in the background.
@Suite struct DeviceDirectoryTests {
    @Test("an expired device is answered at once while it is re-read; the change is seen after the re-read", arguments: TestEngine.available)
    func staleWhileRereading(engine: TestEngine) async throws {
        try await engine.withDatabase { database in
            let devices = try await FastPathTests.seed(database, now: Date(timeIntervalSince1970: 1_795_000_000))
            let directory = DeviceDirectory(database: database, ttlMilliseconds: 1_000)
            func modulus(at now: Int64) async throws -> Int64? {
                let found = try await directory.devices(companyId: FastPathTests.company, keys: ["m0"], now: now)
                return try #require(found["m0"]).registerModulus
            }
            #expect(try await modulus(at: 0) == nil)
            // Another server changes the meter: this one does not hear of it.
            try await database.transaction { db in
                try await db.raw("UPDATE devices SET register_modulus_milli = 99999000 WHERE id = \(bind: devices[0].id)").run()
            }
            #expect(try await modulus(at: 500) == nil, "fresh: from the cache")
            #expect(try await modulus(at: 2_000) == nil, "expired: answered from the cache while it is re-read")
            var seen: Int64?
            for _ in 0..<3_000 where seen == nil {
                try await Task.sleep(for: .milliseconds(10))
                seen = try await modulus(at: 2_100)
            }
            #expect(seen == 99_999_000, "the re-read stored the change")
            // Unknown keys still ask the database every time, and a device of another company is never found.
            let unknown = try await directory.devices(companyId: FastPathTests.company, keys: ["nope"], now: 2_200)
            #expect(unknown.isEmpty)
            let foreign = try await directory.devices(companyId: "01a00000-0000-7000-8000-00000000ffff", keys: ["m0"], now: 2_200)
            #expect(foreign.isEmpty)
        }
    }
}
