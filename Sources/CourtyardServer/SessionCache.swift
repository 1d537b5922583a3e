import CourtyardStorage
import Foundation
import Synchronization

/// Recently resolved bearer tokens, so that a busy client (a gateway posting readings) does not cost a session
/// lookup per request.
///
/// An entry lives at most ``ttlMilliseconds`` and never past the session's own expiry check (the lookup it caches
/// was made with the request's time). Logging out on this server removes the entry at once; on another node of a
/// multi-node deployment a logged-out token keeps working for at most the TTL.
public final class SessionCache: Sendable {
    private struct Entry {
        var user: User?
        var machine: (companyId: String, kind: String, subject: String)?
        var cachedAt: Int64
        /// The session's own expiry: a cached token is refused from this instant on, like an uncached one.
        var expiresAt: Int64
    }

    private let entries = Mutex<[String: Entry]>([:])
    public let ttlMilliseconds: Int64
    /// Bounds memory: past this many tokens the cache starts again.
    static let capacity = 100_000

    public init(ttlMilliseconds: Int64 = 5_000) {
        self.ttlMilliseconds = ttlMilliseconds
    }

    /// The cached user or machine credential for a token hash, if fresh.
    func lookup(_ tokenHash: String, now: Int64) -> (user: User?, machine: (companyId: String, kind: String, subject: String)?)? {
        entries.withLock { entries in
            guard let entry = entries[tokenHash], now - entry.cachedAt < ttlMilliseconds, now < entry.expiresAt else { return nil }
            return (entry.user, entry.machine)
        }
    }

    func store(
        _ tokenHash: String, user: User?, machine: (companyId: String, kind: String, subject: String)?, now: Int64,
        expiresAt: Int64 = .max
    ) {
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[tokenHash] = Entry(user: user, machine: machine, cachedAt: now, expiresAt: expiresAt)
        }
    }

    /// Forgets a token (logout, revocation).
    public func remove(_ tokenHash: String) {
        _ = entries.withLock { $0.removeValue(forKey: tokenHash) }
    }
}
