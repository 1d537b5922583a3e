import CourtyardDevices
import CourtyardDomain
import Testing

/// The command queue's rules without a database: one command in flight per device, newest desire wins, acks never
/// move a command backwards, silence ends in failure after the last attempt.
@Suite("Command lifecycle")
struct CommandLifecycleTests {
    typealias Open = CommandLifecycle.Open

    static func command(_ id: String, _ action: SupplyPosition, _ state: DeviceCommand.State, at createdAt: Int64) -> Open {
        Open(id: id, action: action, state: state, createdAt: createdAt)
    }

    @Test("a desire the newest open command already asks for queues nothing; any other desire queues a command")
    func desires() {
        #expect(CommandLifecycle.desire(.closed, open: []) == .queue)
        let sentClose = Self.command("a", .closed, .sent, at: 1)
        #expect(CommandLifecycle.desire(.closed, open: [sentClose]) == .alreadyAsked(commandId: "a"))
        #expect(CommandLifecycle.desire(.open, open: [sentClose]) == .queue)
        // The newest decides, whatever order the rows come in: close sent, then open queued, now close again.
        let queuedOpen = Self.command("b", .open, .queued, at: 2)
        #expect(CommandLifecycle.desire(.closed, open: [queuedOpen, sentClose]) == .queue)
        #expect(CommandLifecycle.desire(.open, open: [sentClose, queuedOpen]) == .alreadyAsked(commandId: "b"))
        // Within one millisecond the id breaks the tie (v7 ids sort by time).
        let sameMillisecond = Self.command("c", .closed, .queued, at: 2)
        #expect(CommandLifecycle.desire(.closed, open: [queuedOpen, sameMillisecond]) == .alreadyAsked(commandId: "c"))
        // Finished commands do not count.
        #expect(CommandLifecycle.desire(.closed, open: [Self.command("d", .closed, .succeeded, at: 3)]) == .queue)
    }

    @Test("a device's open commands never tie: a command created in the same millisecond as the newest counts as just after it")
    func creationOrder() {
        #expect(CommandLifecycle.creationTime(now: 5, open: []) == 5)
        #expect(CommandLifecycle.creationTime(now: 5, open: [Self.command("a", .closed, .sent, at: 4)]) == 5)
        #expect(CommandLifecycle.creationTime(now: 5, open: [Self.command("a", .closed, .sent, at: 5)]) == 6)
        // A clock set back still orders the new command after the open ones.
        #expect(
            CommandLifecycle.creationTime(now: 5, open: [Self.command("a", .closed, .sent, at: 9), Self.command("b", .open, .queued, at: 7)]) == 10)
    }

    @Test("a command that left replaces those queued before it, never one queued after it or one in flight")
    func replacement() {
        let older = Self.command("a", .closed, .queued, at: 1)
        let sent = Self.command("b", .open, .queued, at: 2)
        let newer = Self.command("c", .closed, .queued, at: 3)
        let inFlight = Self.command("x", .open, .delivered, at: 0)
        #expect(CommandLifecycle.replaced(by: sent, open: [newer, sent, older, inFlight]) == ["a"])
        #expect(CommandLifecycle.replaced(by: older, open: [newer, sent, older]) == [])
        #expect(CommandLifecycle.replaced(by: newer, open: [newer, sent, older]).sorted() == ["a", "b"])
    }

    @Test("acks move a command forward only: delivered, then succeeded or failed; duplicates and late acks change nothing")
    func acks() {
        let now: Int64 = 1_000_000
        #expect(CommandLifecycle.acknowledge(.delivered, state: .sent, attempts: 1, now: now) == .deliver(nextAttemptAt: now + 10_000))
        #expect(CommandLifecycle.acknowledge(.delivered, state: .sent, attempts: 3, now: now) == .deliver(nextAttemptAt: now + 40_000))
        #expect(CommandLifecycle.acknowledge(.delivered, state: .delivered, attempts: 1, now: now) == .duplicate)
        #expect(CommandLifecycle.acknowledge(.succeeded, state: .delivered, attempts: 1, now: now) == .complete(.succeeded))
        #expect(CommandLifecycle.acknowledge(.failed, state: .sent, attempts: 1, now: now) == .complete(.failed))
        // A quick device may ack before the dispatcher wrote SENT.
        #expect(CommandLifecycle.acknowledge(.succeeded, state: .queued, attempts: 0, now: now) == .complete(.succeeded))
        for late in [CommandLifecycle.AckStatus.delivered, .succeeded, .failed] {
            #expect(CommandLifecycle.acknowledge(late, state: .succeeded, attempts: 1, now: now) == .duplicate)
            #expect(CommandLifecycle.acknowledge(late, state: .failed, attempts: 1, now: now) == .duplicate)
            #expect(
                CommandLifecycle.acknowledge(late, state: .expired, attempts: 1, now: now)
                    == .refuse(code: "command_expired", message: "the command expired before this ack; it was not applied"))
            guard case .refuse(let code, _) = CommandLifecycle.acknowledge(late, state: .superseded, attempts: 0, now: now) else {
                Issue.record("an ack of a superseded command must be refused")
                continue
            }
            #expect(code == "command_superseded")
        }
    }

    @Test("silence: sent again with a doubling wait from 10 s up to 10 min, failed after the last attempt")
    func silence() {
        #expect(CommandLifecycle.overdue(attempts: 1, maxAttempts: 3) == .sendAgain)
        #expect(CommandLifecycle.overdue(attempts: 3, maxAttempts: 3) == .fail)
        #expect(CommandLifecycle.overdue(attempts: 4, maxAttempts: 3) == .fail)
        #expect((1...8).map(CommandLifecycle.ackTimeout(attempt:)) == [10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 600_000, 600_000])
        // Attempt counts from storage cannot overflow the shift.
        #expect(CommandLifecycle.ackTimeout(attempt: Int.max) == 600_000)
        #expect(CommandLifecycle.ackTimeout(attempt: Int.min) == 10_000)
    }
}
