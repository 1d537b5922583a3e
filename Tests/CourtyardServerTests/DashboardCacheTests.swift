import Foundation
import Synchronization
import Testing

@testable import CourtyardServer

/// The dashboard's figures: fresh ones when they are cheap, a minute-old ones at once when they are not, and one
/// computation for many first loads.
@Suite("Dashboard figures cache")
struct DashboardCacheTests {
    /// How many times the figures were computed.
    final class Calls: Sendable {
        let count = Atomic<Int64>(0)
        func next() -> Int64 { count.add(1, ordering: .relaxed).newValue }
        var total: Int64 { count.load(ordering: .relaxed) }
    }

    static func figures(_ offline: Int64) -> DashboardCache.Figures {
        DashboardCache.Figures(billing: nil, devices: .init(cutOff: 0, cutOffPending: 0, offline: offline, heldReadings: 0))
    }

    @Test("cheap figures are computed for every page: nothing is kept")
    func cheapAlwaysFresh() async throws {
        let cache = DashboardCache()
        let calls = Calls()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        for expected in Int64(1)...3 {
            let entry = try await cache.figures("k", now: now, maxAge: 60) {
                Self.figures(calls.next())
            }
            #expect(entry.figures.devices?.offline == expected)
        }
    }

    @Test("costly figures are kept for a minute, then served stale once while new ones are computed")
    func costlyStaleWhileRevalidate() async throws {
        let cache = DashboardCache()
        let calls = Calls()
        let slow: @Sendable () async throws -> DashboardCache.Figures = {
            try await Task.sleep(for: .milliseconds(80))
            return Self.figures(calls.next())
        }
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let first = try await cache.figures("k", now: start, maxAge: 60, compute: slow)
        #expect(first.figures.devices?.offline == 1 && first.computedAt == start)
        let kept = try await cache.figures("k", now: start.addingTimeInterval(30), maxAge: 60, compute: slow)
        #expect(kept.figures.devices?.offline == 1, "under a minute old: kept")
        let stale = try await cache.figures("k", now: start.addingTimeInterval(61), maxAge: 60, compute: slow)
        #expect(stale.figures.devices?.offline == 1, "over a minute old: answered at once from the old figures")
        // The refresh runs behind the page; the next page sees its figures.
        var refreshed = stale
        for _ in 0..<100 where refreshed.figures.devices?.offline == 1 {
            try await Task.sleep(for: .milliseconds(20))
            refreshed = try await cache.figures("k", now: start.addingTimeInterval(62), maxAge: 60, compute: slow)
        }
        #expect(refreshed.figures.devices?.offline == 2)
        #expect(calls.total == 2)
    }

    @Test("many first loads of one scope share one computation")
    func firstLoadsShare() async throws {
        let cache = DashboardCache()
        let calls = Calls()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        try await withThrowingTaskGroup(of: Int64?.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    try await cache.figures("k", now: now, maxAge: 60) {
                        try await Task.sleep(for: .milliseconds(100))
                        return Self.figures(calls.next())
                    }.figures.devices?.offline
                }
            }
            for try await value in group { #expect(value == 1) }
        }
        #expect(calls.total == 1)
    }
}
