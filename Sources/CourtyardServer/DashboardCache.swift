import Foundation

/// The console dashboard's figures per scope, kept for a minute and refreshed behind the page.
///
/// The figures are sums over every bill and payment of a scope: about 0.4 s each over a million bills on SQLite, far
/// over a page's 200 ms. So a page answers from the last figures of its scope when they are under `maxAge` old, and
/// when they are older it still answers from them at once while one task computes new ones (stale while revalidate);
/// the page says how old they are. Only a scope's first load after a start waits for the computation, and concurrent
/// first loads share one. Figures that took under `cheap` to compute (a community of a few thousand houses) are not
/// kept at all: those pages always show this moment's figures.
actor DashboardCache {
    struct Figures: Sendable {
        var billing: BillingPart?
        var devices: DevicePart?
    }

    struct BillingPart: Sendable {
        var month: (billed: Int64, collected: Int64)
        var year: (billed: Int64, collected: Int64)
        var overdue: (amount: Int64, houses: Int64)
        var channels: [(channel: String, count: Int64, amount: Int64)]
        var heldCallbacks: Int64
    }

    struct DevicePart: Sendable {
        var cutOff: Int64
        var cutOffPending: Int64
        var offline: Int64
        var heldReadings: Int64
    }

    struct Entry: Sendable {
        var figures: Figures
        var computedAt: Date
        /// How long the computation took.
        var took: Duration
    }

    /// Below this, figures are computed for every page.
    static let cheap: Duration = .milliseconds(50)

    private var entries: [String: Entry] = [:]
    private var inFlight: [String: Task<Entry, any Error>] = [:]
    /// Scopes are few (a company's, a community's); an unbounded map of them would still be a leak.
    private let capacity = 1_000

    /// The figures of `key` and when they were computed: fresh ones, else stale ones while new ones are computed, else
    /// the computation's own result.
    func figures(
        _ key: String, now: Date, maxAge: TimeInterval, compute: @escaping @Sendable () async throws -> Figures
    ) async throws -> Entry {
        if let entry = entries[key], entry.took >= Self.cheap {
            if now.timeIntervalSince(entry.computedAt) >= maxAge, inFlight[key] == nil {
                inFlight[key] = start(key, now: now, compute: compute)
            }
            return entry
        }
        let task = inFlight[key] ?? start(key, now: now, compute: compute)
        inFlight[key] = task
        return try await task.value
    }

    private func start(_ key: String, now: Date, compute: @escaping @Sendable () async throws -> Figures) -> Task<Entry, any Error> {
        Task {
            defer { Task { await self.finished(key) } }
            let started = ContinuousClock.now
            let figures = try await compute()
            let entry = Entry(figures: figures, computedAt: now, took: ContinuousClock.now - started)
            await self.store(key, entry)
            return entry
        }
    }

    private func store(_ key: String, _ entry: Entry) {
        if entries.count >= capacity, entries[key] == nil { entries.removeAll(keepingCapacity: true) }
        entries[key] = entry
    }

    private func finished(_ key: String) {
        inFlight[key] = nil
    }
}
