import DequeModule

/// A first-come, first-served async mutual-exclusion lock.
///
/// SQLite allows one writer; Courtyard keeps one connection per role and lets
/// callers take turns on it through this lock. Actor isolation alone is not
/// enough because an actor is re-entered at every `await`.
actor AsyncLock {
    private var isLocked = false
    private var waiters = Deque<CheckedContinuation<Void, Never>>()

    /// Waits until the lock is free and takes it.
    func lock() async {
        if !isLocked {
            isLocked = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    /// Releases the lock, handing it straight to the longest waiter if there is one.
    func unlock() {
        if let next = waiters.popFirst() {
            next.resume()
        } else {
            isLocked = false
        }
    }

    /// Runs `body` while holding the lock.
    nonisolated func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await lock()
        do {
            let result = try await body()
            await unlock()
            return result
        } catch {
            await unlock()
            throw error
        }
    }
}
