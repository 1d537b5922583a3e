import CourtyardDevices
import Foundation

/// A manual override on a device's supply, in force until it expires or is ended.
public struct SupplyOverride: Codable, Sendable, Hashable {
    /// What the override does.
    public enum Kind: String, Codable, Sendable {
        /// An engineer holds the valve in `holdState` (maintenance, inspection) whatever the balance.
        case engineerHold = "engineer_hold"
        /// Medical or safety exemption: the supply is never cut for balance while it lasts.
        case exemption
    }
    public var id: String
    public var kind: Kind
    public var holdState: SupplyPosition?
    public var reason: String
    public var expiresAt: Int64

    public init(id: String, kind: Kind, holdState: SupplyPosition?, reason: String, expiresAt: Int64) {
        self.id = id
        self.kind = kind
        self.holdState = holdState
        self.reason = reason
        self.expiresAt = expiresAt
    }
}

/// Decides the desired position of a prepaid supply from money, time and people. Pure.
///
/// In order: a safety lock (gas leak, abnormal flow) closes regardless of balance; an engineer's hold holds; money
/// left (available balance plus emergency credit above zero) keeps it open; a medical/safety exemption keeps it
/// open; inside friendly windows the cut-off is deferred to their end; otherwise it closes. Property-fee arrears are
/// not an input: they cannot cut supply (see `PlanConfig.validate`).
public enum SupplyPolicy {
    /// Everything the decision depends on (money, time, people, safety), read by the caller.
    public struct Inputs: Sendable {
        /// Fen: the paying wallets' available balance less usage owed beyond them.
        public var available: Int64
        public var emergencyCredit: Int64
        public var now: Int64
        public var calendar: FriendlyCalendar
        public var overrides: [SupplyOverride]
        public var safetyLock: String?
        public var triggers: Set<String>

        public init(
            available: Int64, emergencyCredit: Int64, now: Int64, calendar: FriendlyCalendar, overrides: [SupplyOverride],
            safetyLock: String?, triggers: Set<String>
        ) {
            self.available = available
            self.emergencyCredit = emergencyCredit
            self.now = now
            self.calendar = calendar
            self.overrides = overrides
            self.safetyLock = safetyLock
            self.triggers = triggers
        }
    }

    /// The desired position, why, and when a deferred cut-off falls due.
    public struct Decision: Sendable, Hashable {
        public var desired: SupplyPosition
        /// `safety:<alarm>`, `engineer_hold`, `balance`, `exemption`, `friendly_window`, `balance_exhausted`.
        public var reason: String
        /// When a deferred cut-off falls due (the end of the friendly windows), if one is deferred.
        public var cutoffDueAt: Int64?
    }

    /// Whether money is used up: nothing left of the balance and the emergency credit.
    public static func isExhausted(available: Int64, emergencyCredit: Int64) -> Bool {
        available + emergencyCredit <= 0
    }

    public static func decide(_ inputs: Inputs) -> Decision {
        if let lock = inputs.safetyLock {
            return Decision(desired: .closed, reason: "safety:" + lock, cutoffDueAt: nil)
        }
        let active = inputs.overrides.filter { $0.expiresAt > inputs.now }
        if let hold = active.first(where: { $0.kind == .engineerHold }), let state = hold.holdState {
            return Decision(desired: state, reason: "engineer_hold", cutoffDueAt: nil)
        }
        guard inputs.triggers.contains("prepaid_balance"), isExhausted(available: inputs.available, emergencyCredit: inputs.emergencyCredit) else {
            return Decision(desired: .open, reason: "balance", cutoffDueAt: nil)
        }
        if active.contains(where: { $0.kind == .exemption }) {
            return Decision(desired: .open, reason: "exemption", cutoffDueAt: nil)
        }
        let due = inputs.calendar.cutoffTime(dueAt: inputs.now)
        if due > inputs.now {
            return Decision(desired: .open, reason: "friendly_window", cutoffDueAt: due)
        }
        return Decision(desired: .closed, reason: "balance_exhausted", cutoffDueAt: nil)
    }
}
