import DequeModule

/// Counts failed sign-ins per login name and per client address, and refuses more once a limit is reached.
///
/// Both keys are limited so that neither guessing many passwords for one
/// login nor one password across many logins works. State is in memory:
/// a restart forgets it, which is acceptable for a single-node deployment
/// (a shared store is needed when Courtyard runs on several nodes).
public actor LoginRateLimiter {
    private let maxFailures: Int
    private let windowMilliseconds: Int64
    private var failures: [String: Deque<Int64>] = [:]

    public init(maxFailures: Int, windowMilliseconds: Int64) {
        self.maxFailures = maxFailures
        self.windowMilliseconds = windowMilliseconds
    }

    /// Seconds until another attempt is allowed for any of `keys`, or `nil` when attempts are allowed now.
    public func retryAfter(keys: [String], now: Int64) -> Int64? {
        var wait: Int64? = nil
        for key in keys {
            prune(key, now: now)
            if let times = failures[key], times.count >= maxFailures, let oldest = times.first {
                let seconds = max(1, (oldest + windowMilliseconds - now + 999) / 1000)
                wait = max(wait ?? 0, seconds)
            }
        }
        return wait
    }

    /// Records a failed attempt under each key.
    public func recordFailure(keys: [String], now: Int64) {
        for key in keys {
            prune(key, now: now)
            failures[key, default: []].append(now)
        }
    }

    /// Forgets failures of `key` after a successful sign-in.
    public func reset(key: String) {
        failures[key] = nil
    }

    private func prune(_ key: String, now: Int64) {
        guard var times = failures[key] else { return }
        while let first = times.first, first <= now - windowMilliseconds { times.removeFirst() }
        failures[key] = times.isEmpty ? nil : times
    }
}
