import CourtyardDomain

/// The rules of a device's command queue, without a database: what a new desire, a free device, an ack and an overdue
/// ack do to a device's commands. ``CommandQueue`` reads the rows, asks these rules, and writes what they answer.
///
/// The queue keeps one command in flight per device. A newer desire never touches queued commands: the dispatcher may
/// be handing one of them to its transport at that moment (it marks a command SENT only after the transport took it,
/// so a slow write cannot delay a command). Instead, when a device is free, its *newest* queued command leaves, and the
/// write that marks it SENT supersedes the ones queued before it. Nothing that left is ever called superseded, and no
/// process-wide set of "commands being sent" is needed.
public enum CommandLifecycle {
    /// An open command of one device, as the rules see it.
    public struct Open: Sendable, Hashable {
        public var id: String
        public var action: SupplyPosition
        public var state: DeviceCommand.State
        public var createdAt: Int64

        public init(id: String, action: SupplyPosition, state: DeviceCommand.State, createdAt: Int64) {
            self.id = id
            self.action = action
            self.state = state
            self.createdAt = createdAt
        }

        /// Newest first: by creation time, then by id (v7 ids sort by time within a millisecond).
        static func newerFirst(_ a: Open, _ b: Open) -> Bool { (a.createdAt, a.id) > (b.createdAt, b.id) }
    }

    // MARK: Desires

    /// What a new desired position does to a device's queue.
    public enum Desire: Sendable, Equatable {
        /// The newest open command already asks for this position: it stands, nothing is queued.
        case alreadyAsked(commandId: String)
        /// A new command is queued (older queued ones are superseded when the device is next free).
        case queue
    }

    /// The answer for `action` given the device's open commands (queued, sent or delivered) in any order.
    public static func desire(_ action: SupplyPosition, open: [Open]) -> Desire {
        guard let newest = open.filter({ $0.state.isOpen }).min(by: Open.newerFirst), newest.action == action else { return .queue }
        return .alreadyAsked(commandId: newest.id)
    }

    /// When a new command counts as created: now, or just after the device's newest open command if that one is not
    /// older (two desires in one millisecond, or a clock set back). Which command is newest decides what leaves and what
    /// is superseded, so a device's open commands must never tie; ids within one millisecond are random.
    public static func creationTime(now: Int64, open: [Open]) -> Int64 {
        guard let newest = open.map(\.createdAt).max(), newest >= now else { return now }
        return newest + 1
    }

    // MARK: Leaving

    /// The queued commands a command that left replaces: those queued before it (a newer desire replaced them before
    /// they left). Commands queued after it stay queued, to leave when its ack frees the device. The dispatcher always
    /// sends a device's newest queued command, so this is usually all the other queued ones.
    public static func replaced(by sent: Open, open: [Open]) -> [String] {
        open.filter { $0.state == .queued && $0.id != sent.id && Open.newerFirst(sent, $0) }.map(\.id)
    }

    // MARK: Acks

    /// What a device says about a command: `delivered` (it has it), `succeeded` or `failed` (it carried it out, or not).
    public enum AckStatus: String, Codable, Sendable { case delivered, succeeded, failed }

    /// What an ack does.
    public enum AckEffect: Sendable, Equatable {
        /// The command is refused as an answer: the ack is an error for the device (`command_expired`, `command_superseded`).
        case refuse(code: String, message: String)
        /// The command already is where the ack would move it: a duplicate, nothing changes.
        case duplicate
        /// The device has the command: DELIVERED, its final ack due after the backoff of its attempts.
        case deliver(nextAttemptAt: Int64)
        /// The command is finished: SUCCEEDED or FAILED.
        case complete(DeviceCommand.State)
    }

    /// The effect of `status` on a command in `state` after `attempts` sends, at `now` (epoch milliseconds). Acks never
    /// move a command backwards: a late `delivered` after `succeeded` is a duplicate.
    public static func acknowledge(_ status: AckStatus, state: DeviceCommand.State, attempts: Int, now: Int64) -> AckEffect {
        switch state {
        case .expired:
            return .refuse(code: "command_expired", message: "the command expired before this ack; it was not applied")
        case .superseded:
            return .refuse(code: "command_superseded", message: "a newer command replaced this one before it was sent")
        case .succeeded, .failed:
            return .duplicate
        case .delivered where status == .delivered:
            return .duplicate
        case .queued, .sent, .delivered:
            switch status {
            case .delivered: return .deliver(nextAttemptAt: now + ackTimeout(attempt: max(attempts, 1)))
            case .succeeded: return .complete(.succeeded)
            case .failed: return .complete(.failed)
            }
        }
    }

    // MARK: Silence

    /// What an overdue ack leads to.
    public enum Overdue: Sendable, Equatable {
        /// Send the command again (the device may have lost it).
        case sendAgain
        /// The last attempt went unanswered: the command fails and staff hear of it.
        case fail
    }

    public static func overdue(attempts: Int, maxAttempts: Int) -> Overdue {
        attempts >= maxAttempts ? .fail : .sendAgain
    }

    /// How long a sent command waits for its ack before it is sent again: 10 s, doubling, at most 10 min.
    public static func ackTimeout(attempt: Int) -> Int64 {
        let doublings = attempt <= 1 ? 0 : min(attempt - 1, 16)
        return min(10_000 << Int64(doublings), 600_000)
    }
}
