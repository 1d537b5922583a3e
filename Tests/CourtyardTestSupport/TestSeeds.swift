import Foundation

/// Seeds for the seeded property tests (fast-vs-careful equivalence, payment invariants): the first
/// `COURTYARD_TEST_SEEDS` seeds (default `count`), so CI runs a fixed handful and a nightly run can set a few hundred
/// (`COURTYARD_TEST_SEEDS=300 swift test --filter …`). Seeds are 1, 2, 3, …: a failure names its seed, and repeats.
public enum TestSeeds {
    public static func first(_ count: Int) -> [UInt64] {
        let wanted = ProcessInfo.processInfo.environment["COURTYARD_TEST_SEEDS"].flatMap { Int($0) } ?? count
        return (1...UInt64(max(1, min(wanted, 100_000)))).map { $0 }
    }
}
