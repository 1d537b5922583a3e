import DequeModule

/// Throttles failed sign-ins so that passwords cannot be guessed, without letting a guesser lock the right person out.
///
/// Three counters, each over a sliding ``Policy/windowMilliseconds``:
/// - **login and address**: failures of one login from one client address. At ``Policy/maxFailuresPerLogin`` that
///   pair waits, with a backoff that doubles per further failure up to ``Policy/maxBackoffMilliseconds``: never forever.
/// - **login** (from any address): the same bar counted across all addresses. It stops a guesser who spreads attempts
///   over many addresses, but it does not apply to an address that has signed in to this login successfully before
///   (a *known device*, remembered for ``Policy/knownDeviceMilliseconds``), so the owner of a login keeps signing in
///   while someone else guesses at it.
/// - **address** (any login): a much higher bar, ``Policy/maxFailuresPerAddress``, because one address is often many
///   people (everyone behind a proxy or a company NAT): one person's typos must not lock the others out.
///
/// State is in memory: a restart forgets it, which is acceptable for a single-node deployment (a shared store is
/// needed when Courtyard runs on several nodes).
public actor LoginRateLimiter {
    /// The limits; the defaults are what a property company's staff and owners should meet.
    public struct Policy: Sendable {
        public var maxFailuresPerLogin: Int
        public var maxFailuresPerAddress: Int
        public var windowMilliseconds: Int64
        /// The first wait once a bar is reached; it doubles with each further failure.
        public var baseBackoffMilliseconds: Int64
        public var maxBackoffMilliseconds: Int64
        public var knownDeviceMilliseconds: Int64

        public init(
            maxFailuresPerLogin: Int = 5, maxFailuresPerAddress: Int = 100, windowMilliseconds: Int64 = 15 * 60_000,
            baseBackoffMilliseconds: Int64 = 30_000, maxBackoffMilliseconds: Int64 = 15 * 60_000,
            knownDeviceMilliseconds: Int64 = 30 * 24 * 3_600_000
        ) {
            self.maxFailuresPerLogin = max(1, maxFailuresPerLogin)
            self.maxFailuresPerAddress = max(self.maxFailuresPerLogin, maxFailuresPerAddress)
            self.windowMilliseconds = max(1, windowMilliseconds)
            self.baseBackoffMilliseconds = max(1, baseBackoffMilliseconds)
            self.maxBackoffMilliseconds = max(self.baseBackoffMilliseconds, maxBackoffMilliseconds)
            self.knownDeviceMilliseconds = knownDeviceMilliseconds
        }
    }

    private let policy: Policy
    private var failures: [String: Deque<Int64>] = [:]
    /// "login|address" → when that address last signed in to that login.
    private var knownDevices: [String: Int64] = [:]

    public init(policy: Policy) {
        self.policy = policy
    }

    /// Milliseconds until `login` may be tried again from `address`, or `nil` when it may be tried now.
    public func retryAfter(login: String, address: String?, now: Int64) -> Int64? {
        let login = login.lowercased()
        var waits: [Int64] = []
        if let address {
            waits.append(wait(for: "pair:\(login)|\(address)", bar: policy.maxFailuresPerLogin, now: now))
            waits.append(wait(for: "address:\(address)", bar: policy.maxFailuresPerAddress, now: now))
        }
        if !isKnown(login: login, address: address, now: now) {
            waits.append(wait(for: "login:\(login)", bar: policy.maxFailuresPerLogin, now: now))
        }
        let longest = waits.max() ?? 0
        return longest > 0 ? longest : nil
    }

    /// Records a failed attempt.
    public func recordFailure(login: String, address: String?, now: Int64) {
        let login = login.lowercased()
        var keys = ["login:\(login)"]
        if let address { keys += ["pair:\(login)|\(address)", "address:\(address)"] }
        for key in keys {
            prune(key, now: now)
            failures[key, default: []].append(now)
        }
    }

    /// Records a successful sign-in: the pair's failures are forgotten and the address becomes a known device of the login.
    public func recordSuccess(login: String, address: String?, now: Int64) {
        let login = login.lowercased()
        guard let address else { return }
        failures["pair:\(login)|\(address)"] = nil
        knownDevices["\(login)|\(address)"] = now
        if knownDevices.count > 100_000 {
            knownDevices = knownDevices.filter { now - $0.value < policy.knownDeviceMilliseconds }
        }
    }

    private func isKnown(login: String, address: String?, now: Int64) -> Bool {
        guard let address, let last = knownDevices["\(login)|\(address)"] else { return false }
        return now - last < policy.knownDeviceMilliseconds
    }

    /// The wait for one counter: none below the bar; at the bar the base backoff from the last failure, doubling with
    /// each failure past it, capped.
    private func wait(for key: String, bar: Int, now: Int64) -> Int64 {
        prune(key, now: now)
        guard let times = failures[key], times.count >= bar, let last = times.last else { return 0 }
        let doublings = min(times.count - bar, 20)
        let doubled = policy.baseBackoffMilliseconds.multipliedReportingOverflow(by: Int64(1) << Int64(doublings))
        let backoff = doubled.overflow ? policy.maxBackoffMilliseconds : min(policy.maxBackoffMilliseconds, doubled.partialValue)
        return max(0, last + backoff - now)
    }

    private func prune(_ key: String, now: Int64) {
        guard var times = failures[key] else { return }
        while let first = times.first, first <= now - policy.windowMilliseconds { times.removeFirst() }
        failures[key] = times.isEmpty ? nil : times
    }
}
