import CourtyardStorage
import CourtyardTestSupport
import SQLKit
import Synchronization
import Testing

/// Two transactions that take the same two rows in opposite orders deadlock on PostgreSQL; the one PostgreSQL rolls
/// back must run again instead of failing its request (the crash test found a payment notification answered 500).
@Suite("Transaction conflicts")
struct TransactionConflictTests {
    /// Lets `parties` tasks meet: each waits until all have arrived.
    actor Latch {
        private var waiting: [CheckedContinuation<Void, Never>] = []
        private let parties: Int
        init(parties: Int) { self.parties = parties }
        func arriveAndWait() async {
            if waiting.count + 1 == parties {
                for continuation in waiting { continuation.resume() }
                waiting = []
                return
            }
            await withCheckedContinuation { waiting.append($0) }
        }
    }

    /// Transactions run so far, across both tasks.
    final class Attempts: Sendable {
        let count = Mutex(0)
    }

    @Test("a deadlock victim is run again, and both transactions commit once", .enabled(if: TestEngine.available.contains(.postgres)))
    func deadlockVictimRunsAgain() async throws {
        try await TestEngine.postgres.withDatabase { database in
            try await database.transaction { db in
                try await db.raw("CREATE TABLE deadlock_probe (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)").run()
                try await db.raw("INSERT INTO deadlock_probe (id, n) VALUES (1, 0), (2, 0)").run()
            }
            let bothHoldTheirFirstRow = Latch(parties: 2)
            let attempts = Attempts()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (first, second) in [(1, 2), (2, 1)] {
                    group.addTask {
                        try await database.transaction { db in
                            let attempt = attempts.count.withLock { count in
                                count += 1
                                return count
                            }
                            try await db.raw("UPDATE deadlock_probe SET n = n + 1 WHERE id = \(bind: first)").run()
                            // The first two attempts meet while each holds one row, so each then waits for the other's.
                            if attempt <= 2 { await bothHoldTheirFirstRow.arriveAndWait() }
                            try await db.raw("UPDATE deadlock_probe SET n = n + 1 WHERE id = \(bind: second)").run()
                        }
                    }
                }
                try await group.waitForAll()
            }
            let counts = try await database.read { db in
                try await db.raw("SELECT n FROM deadlock_probe ORDER BY id").all().map { try $0.decode(column: "n", as: Int.self) }
            }
            #expect(counts == [2, 2], "each transaction's two updates, once")
            #expect(attempts.count.withLock { $0 } == 3, "PostgreSQL rolled one back, and it ran again")
        }
    }
}
